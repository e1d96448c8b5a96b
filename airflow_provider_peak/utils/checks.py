"""Strict numbers for arguments and connection extras, with an error that names the field.

A count is a real ``int`` (never a ``bool``, a float or, for an argument, a string); a number is
finite (``nan`` and ``inf`` are refused before they can fail the first request). Extras typed in a
form arrive as text, so ``parse_count`` / ``parse_number`` also accept digits written as text.
"""

from __future__ import annotations

import math
import re

from airflow_provider_peak.errors import PeakConfigError

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _bounds(name: str, value: float, minimum: float | None, maximum: float | None, positive: bool) -> None:
    if positive and value <= 0:
        raise PeakConfigError(f"{name} must be positive, got {value!r}")
    if minimum is not None and value < minimum:
        floor = "0 or more" if minimum == 0 else "positive" if minimum == 1 else f"at least {minimum}"
        raise PeakConfigError(f"{name} must be {floor}, got {value!r}")
    if maximum is not None and value > maximum:
        raise PeakConfigError(f"{name} must be at most {maximum}, got {value!r}")


def check_count(name: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) within the bounds; else ``PeakConfigError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeakConfigError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    _bounds(name, value, minimum, maximum, positive=False)
    return value


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """``value`` as a finite ``float`` within the bounds (an ``int`` is fine, a ``bool`` is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PeakConfigError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise PeakConfigError(f"{name} must be a finite number, got {value!r}")
    _bounds(name, number, minimum, maximum, positive)
    return number


def parse_count(name: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``check_count`` for an extra: also accepts the digits of an integer written as text."""
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)  # a JSON form may store 5 as 5.0
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeakConfigError(f"extra {name!r} must be int (a whole number), got {value!r}")
    return check_count(name, value, minimum=minimum, maximum=maximum)


def parse_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """``check_number`` for an extra: also accepts a number written as text."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise PeakConfigError(f"extra {name!r} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PeakConfigError(f"extra {name!r} must be a number, got {value!r}")
    return check_number(name, value, minimum=minimum, maximum=maximum, positive=positive)


def path_segment(value: object, what: str) -> str:
    """``value`` quoted as one URL path segment, once it cannot escape it: never empty, ``.``,
    ``..``, nor holding ``/``, ``\\`` or control characters (``PeakConfigError`` naming ``what``)."""
    from urllib.parse import quote

    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None:
        raise PeakConfigError(f"{what} must be text, got {type(value).__name__}")
    stripped = text.strip()
    if stripped in ("", ".", ".."):
        raise PeakConfigError(f"{what} {text!r} is empty or a relative path step")
    bad = sorted({ch for ch in text if ch in "/\\" or ord(ch) < 32 or ord(ch) == 127})
    if bad:
        raise PeakConfigError(f"{what} {text!r} holds characters a path segment cannot: {''.join(bad)!r}")
    return quote(text, safe="")

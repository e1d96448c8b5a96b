"""Table definitions of Peak's Ingestion API, as the emulator (the server) reads them.

The server's side of docs/contract.md ("Choices where Peak is silent" and the date/time rules of
"Record validation"), written from the contract and not from the client's code, so that comparing
the client's verdicts with the emulator's checks the client rather than restating it.

* Names: ``^[A-Za-z][A-Za-z0-9_]*$``, at most 128 characters; column names unique ignoring case.
* Types, any letter case on input, canonical on output: ``string``, ``boolean``, ``JSON``,
  ``integer``, ``numeric``, ``date``, ``timestamp``.
* ``format`` only on date and timestamp columns; ``precision`` (1..38) and ``scale``
  (0..precision, needs a precision) only on numeric ones.
* A format is made of the tokens ``YYYY MM DD HH24 MI SS FF TZH TZM`` and separators (anything
  but letters and digits). Each token has a fixed count of ASCII digits (``FF`` 1-9, ``TZH`` a sign
  and two); a value matches when it has the format's shape and is a real date and time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 128
MAX_PRECISION = 38
TYPES = ("string", "boolean", "JSON", "integer", "numeric", "date", "timestamp")
_CANONICAL = {t.lower(): t for t in TYPES}
_COLUMN_KEYS = ("name", "type", "format", "precision", "scale")

#: Each token's digits, as a regular expression group (ASCII digits only).
_TOKEN_DIGITS = {
    "YYYY": "[0-9]{4}",
    "HH24": "[0-9]{2}",
    "TZH": "[+-][0-9]{2}",
    "TZM": "[0-9]{2}",
    "MM": "[0-9]{2}",
    "DD": "[0-9]{2}",
    "MI": "[0-9]{2}",
    "SS": "[0-9]{2}",
    "FF": "[0-9]{1,9}",
}
_PIECE = re.compile("(?P<token>" + "|".join(_TOKEN_DIGITS) + ")|(?P<separator>[^A-Za-z0-9]+)")
_ISO_DATE = "(?P<YYYY>[0-9]{4})-(?P<MM>[0-9]{2})-(?P<DD>[0-9]{2})"
_ISO_TIMESTAMP = (
    _ISO_DATE + "[T ](?P<HH24>[0-9]{2}):(?P<MI>[0-9]{2}):(?P<SS>[0-9]{2})(?:[.](?P<FF>[0-9]{1,9}))?"
    "(?:(?P<Z>Z)|(?P<TZH>[+-][0-9]{2}):?(?P<TZM>[0-9]{2}))?"
)
_LARGEST_OFFSET = timedelta(hours=18)


class DefinitionError(ValueError):
    """A table definition Peak would refuse (answered ``400``)."""


@dataclass(frozen=True)
class DateTimePattern:
    """A date or timestamp column's format, compiled to one regular expression."""

    text: str | None
    kind: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.text is None:
            source = _ISO_DATE if self.kind == "date" else _ISO_TIMESTAMP
        else:
            source = _compile(self.text, self.kind)
        object.__setattr__(self, "regex", re.compile(source))

    @property
    def description(self) -> str:
        if self.text is not None:
            return self.text
        return "ISO date YYYY-MM-DD" if self.kind == "date" else "ISO 8601 timestamp"

    def matches(self, value: str) -> bool:
        """The value has this format's shape and names a real date and time."""
        found = self.regex.fullmatch(value)
        if found is None:
            return False
        parts = {k: v for k, v in found.groupdict().items() if v is not None}
        try:
            datetime(
                int(parts["YYYY"]),
                int(parts["MM"]),
                int(parts["DD"]),
                int(parts.get("HH24", 0)),
                int(parts.get("MI", 0)),
                int(parts.get("SS", 0)),
            )
        except ValueError:  # 31 February, hour 24, minute 60, year 0
            return False
        if "TZH" in parts:
            minutes = int(parts.get("TZM", 0))
            offset = timedelta(hours=abs(int(parts["TZH"])), minutes=minutes)
            return minutes <= 59 and offset <= _LARGEST_OFFSET
        return True


def _compile(text: str, kind: str) -> str:
    if not isinstance(text, str) or not text:
        raise DefinitionError(f"format must be a non-empty string, got {text!r}")
    pieces: list[str] = []
    tokens: list[str] = []
    at = 0
    while at < len(text):
        piece = _PIECE.match(text, at)
        if piece is None:
            raise DefinitionError(f"format {text!r}: unknown token at position {at} ({text[at:]!r})")
        if piece["token"]:
            token = piece["token"]
            if token in tokens:
                raise DefinitionError(f"format {text!r} repeats {token}")
            tokens.append(token)
            pieces.append(f"(?P<{token}>{_TOKEN_DIGITS[token]})")
        else:
            pieces.append(re.escape(piece["separator"]))
        at = piece.end()
    missing = [t for t in ("YYYY", "MM", "DD") if t not in tokens]
    if missing:
        raise DefinitionError(f"format {text!r} lacks {', '.join(missing)}")
    if "TZM" in tokens and "TZH" not in tokens:
        raise DefinitionError(f"format {text!r} has TZM without TZH")
    if kind == "date" and len(tokens) > 3:
        raise DefinitionError(f"format {text!r}: a date format takes only YYYY, MM and DD")
    return "".join(pieces)


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: str
    format: str | None = None
    precision: int | None = None
    scale: int | None = None
    pattern: DateTimePattern | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        for key in ("format", "precision", "scale"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: tuple[ColumnDef, ...]

    @property
    def by_name(self) -> dict[str, ColumnDef]:
        return {c.name: c for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [c.to_dict() for c in self.columns]}


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DefinitionError(f"{what} name must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME:
        raise DefinitionError(f"{what} name {value[:40]!r}... is longer than {MAX_NAME} characters")
    if NAME.fullmatch(value) is None:
        raise DefinitionError(
            f"{what} name {value!r} must start with a letter and hold only letters, digits and underscores"
        )
    return value


def _whole(value: Any, where: str, what: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise DefinitionError(f"{where}: {what} must be an integer, got {value!r}")


def read_column(raw: Any) -> ColumnDef:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"a column must be an object with name and type, got {raw!r}")
    unknown = sorted(set(raw) - set(_COLUMN_KEYS))
    if unknown:
        raise DefinitionError(f"column {raw.get('name')!r}: unknown keys {unknown}")
    name = _name(raw.get("name"), "column")
    where = f"column {name!r}"
    kind = _CANONICAL.get(raw["type"].lower()) if isinstance(raw.get("type"), str) else None
    if kind is None:
        raise DefinitionError(
            f"{where}: unknown column type {raw.get('type')!r}; use one of {', '.join(TYPES)}"
        )
    text, precision, scale = raw.get("format"), raw.get("precision"), raw.get("scale")
    pattern = None
    if kind in ("date", "timestamp"):
        try:
            pattern = DateTimePattern(text, kind)
        except DefinitionError as exc:
            raise DefinitionError(f"{where}: {exc}") from None
    elif text is not None:
        raise DefinitionError(f"{where}: format applies only to date and timestamp columns")
    precision, scale = _whole(precision, where, "precision"), _whole(scale, where, "scale")
    if kind != "numeric" and (precision is not None or scale is not None):
        raise DefinitionError(f"{where}: precision and scale apply only to numeric columns")
    if scale is not None and precision is None:
        raise DefinitionError(f"{where}: scale needs a precision")
    if precision is not None and not 1 <= precision <= MAX_PRECISION:
        raise DefinitionError(f"{where}: precision {precision} is outside 1..{MAX_PRECISION}")
    if scale is not None and precision is not None and not 0 <= scale <= precision:
        raise DefinitionError(f"{where}: scale {scale} is outside 0..precision ({precision})")
    return ColumnDef(name, kind, text, precision, scale, pattern)


def read_table(raw: Any) -> TableDef:
    """A table definition as ``POST /api/v1/tables`` takes it (``DefinitionError`` if refused)."""
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"a table must be an object, got {type(raw).__name__}")
    name = _name(raw.get("name"), "table")
    listed = raw.get("columns")
    if not isinstance(listed, list) or not listed:
        raise DefinitionError(f"table {name!r} needs a list of at least one column")
    columns = tuple(read_column(c) for c in listed)
    seen: dict[str, str] = {}
    for column in columns:
        other = seen.setdefault(column.name.lower(), column.name)
        if other != column.name or sum(c.name == column.name for c in columns) > 1:
            raise DefinitionError(
                f"table {name!r}: column names must be unique ignoring case: {other!r} and {column.name!r}"
            )
    return TableDef(name, columns)

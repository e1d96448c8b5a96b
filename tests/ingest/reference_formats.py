"""Date/time formats as they were before the bulk paths: the reference of the differential tests.

A frozen copy (only this paragraph differs from the original). Its own docstring follows.

Warehouse-style date/time patterns (``YYYY-MM-DD HH24:MI:SS``) compiled once.

A pattern is translated to one anchored regular expression with a named group per token, so
parsing a value is a single ``match`` plus a calendar check, and rendering a Python ``date`` or
``datetime`` is a string join. Both the client-side validator and the emulator use this module:
it defines what a format *means*; each side decides the verdict on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from airflow_provider_peak.exceptions import FormatError

# Longest tokens first so "HH24" is not read as something shorter.
# ASCII digits only: ``\d`` would also accept Arabic-Indic and other Unicode digits.
TOKENS: dict[str, str] = {
    "YYYY": r"(?P<YYYY>[0-9]{4})",
    "HH24": r"(?P<HH24>[0-9]{2})",
    "TZH": r"(?P<TZH>[+-][0-9]{2})",
    "TZM": r"(?P<TZM>[0-9]{2})",
    "MM": r"(?P<MM>[0-9]{2})",
    "DD": r"(?P<DD>[0-9]{2})",
    "MI": r"(?P<MI>[0-9]{2})",
    "SS": r"(?P<SS>[0-9]{2})",
    "FF": r"(?P<FF>[0-9]{1,9})",
}
_TOKEN_RE = re.compile("|".join(TOKENS))
_LITERAL_RE = re.compile(r"[^A-Za-z0-9]+")
_DATE_TOKENS = frozenset({"YYYY", "MM", "DD"})

#: The defaults when a column has no ``format``: strict ISO dates, and ISO 8601 timestamps with an
#: optional fraction (1-9 digits) and an optional offset (``Z``, ``+HH:MM`` or ``+HHMM``).
ISO_DATE = re.compile(r"(?P<YYYY>[0-9]{4})-(?P<MM>[0-9]{2})-(?P<DD>[0-9]{2})")
ISO_TIMESTAMP = re.compile(
    r"(?P<YYYY>[0-9]{4})-(?P<MM>[0-9]{2})-(?P<DD>[0-9]{2})"
    r"[T ](?P<HH24>[0-9]{2}):(?P<MI>[0-9]{2}):(?P<SS>[0-9]{2})"
    r"(?:\.(?P<FF>[0-9]{1,9}))?(?P<TZ>Z|(?P<TZH>[+-][0-9]{2}):?(?P<TZM>[0-9]{2}))?"
)
MAX_OFFSET = timedelta(hours=18)


def _tokenize(pattern: str) -> list[tuple[bool, str]]:
    """Split a pattern into ``(is_token, text)`` parts; reject anything that is neither."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(pattern):
        token = _TOKEN_RE.match(pattern, pos)
        if token:
            parts.append((True, token.group()))
            pos = token.end()
            continue
        literal = _LITERAL_RE.match(pattern, pos)
        if not literal:
            raise FormatError(
                f"format {pattern!r}: unknown token at position {pos} ({pattern[pos:]!r}); "
                f"use {', '.join(sorted(TOKENS))} and separators"
            )
        parts.append((False, literal.group()))
        pos = literal.end()
    return parts


@dataclass(frozen=True)
class DateTimeFormat:
    """A compiled column format for a ``date`` or ``timestamp`` column.

    :param pattern: the warehouse pattern, or ``None`` for the ISO default of ``kind``.
    :param kind: ``"date"`` or ``"timestamp"``.
    """

    pattern: str | None
    kind: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    parts: tuple[tuple[bool, str], ...] = field(init=False, repr=False, compare=False)
    template: str = field(init=False, repr=False, compare=False)
    zoned: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is None:
            regex = ISO_DATE if self.kind == "date" else ISO_TIMESTAMP
            parts: list[tuple[bool, str]] = []
        else:
            parts = _tokenize(self.pattern)
            tokens = [text for is_token, text in parts if is_token]
            if not tokens:
                raise FormatError(f"format {self.pattern!r} has no date/time token")
            duplicates = sorted({t for t in tokens if tokens.count(t) > 1})
            if duplicates:
                raise FormatError(f"format {self.pattern!r} repeats {', '.join(duplicates)}")
            missing = _DATE_TOKENS - set(tokens)
            if missing:
                raise FormatError(f"format {self.pattern!r} lacks {', '.join(sorted(missing))}")
            if "TZM" in tokens and "TZH" not in tokens:
                raise FormatError(f"format {self.pattern!r} has TZM without TZH")
            if self.kind == "date" and set(tokens) - _DATE_TOKENS:
                raise FormatError(f"format {self.pattern!r}: a date format takes only YYYY, MM and DD")
            regex = re.compile(
                "".join(TOKENS[text] if is_token else re.escape(text) for is_token, text in parts)
            )
        object.__setattr__(self, "regex", regex)
        object.__setattr__(self, "parts", tuple(parts))
        object.__setattr__(self, "template", _template(self.parts))
        object.__setattr__(self, "zoned", any(is_token and text == "TZH" for is_token, text in parts))

    @property
    def description(self) -> str:
        if self.pattern is not None:
            return self.pattern
        return "ISO date YYYY-MM-DD" if self.kind == "date" else "ISO 8601 timestamp"

    def parse(self, text: str) -> datetime | None:
        """Return the value as a ``datetime`` or ``None`` if ``text`` does not match or is not a
        real calendar date/time (31 February, hour 24, minute 60, offset beyond ±18:00)."""
        match = self.regex.fullmatch(text)
        if match is None:
            return None
        groups = match.groupdict()
        try:
            fraction = groups.get("FF")
            micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
            tz = None
            if groups.get("TZ") == "Z":
                tz = timezone.utc
            elif groups.get("TZH") is not None:
                hours = int(groups["TZH"])
                minutes = int(groups.get("TZM") or 0)
                offset = timedelta(hours=abs(hours), minutes=minutes)
                if minutes > 59 or offset > MAX_OFFSET:
                    return None
                tz = timezone(-offset if groups["TZH"].startswith("-") else offset)
            return datetime(
                int(groups["YYYY"]),
                int(groups["MM"]),
                int(groups["DD"]),
                int(groups.get("HH24") or 0),
                int(groups.get("MI") or 0),
                int(groups.get("SS") or 0),
                micro,
                tzinfo=tz,
            )
        except ValueError:
            return None

    def render(self, value: date) -> str:
        """Render a Python ``date``/``datetime`` as this format; ``ValueError`` if it cannot be."""
        # A date in a format with time tokens is midnight, as for the ISO default.
        stamp = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        offset = stamp.utcoffset()
        if offset is not None and (offset.seconds % 60 or offset.microseconds or abs(offset) > MAX_OFFSET):
            raise ValueError(f"the time zone offset {offset} is not whole minutes within ±18:00")
        if self.pattern is None:
            return stamp.date().isoformat() if self.kind == "date" else stamp.isoformat()
        if self.zoned:
            return self.template.format(stamp, **_zone_fields(stamp))
        return self.template.format(stamp)


#: ``str.format`` fields of the tokens, compiled once per format: one C-level call per value.
_FIELDS = {
    "YYYY": "{0.year:04d}",
    "MM": "{0.month:02d}",
    "DD": "{0.day:02d}",
    "HH24": "{0.hour:02d}",
    "MI": "{0.minute:02d}",
    "SS": "{0.second:02d}",
    "FF": "{0.microsecond:06d}",
    "TZH": "{tzh}",
    "TZM": "{tzm}",
}


def _template(parts: tuple[tuple[bool, str], ...]) -> str:
    return "".join(
        _FIELDS[text] if is_token else text.replace("{", "{{").replace("}", "}}") for is_token, text in parts
    )


def _zone_fields(value: datetime) -> dict[str, str]:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("a naive datetime has no time zone; make it aware for a format with TZH/TZM")
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return {"tzh": f"{sign}{hours:02d}", "tzm": f"{mins:02d}"}

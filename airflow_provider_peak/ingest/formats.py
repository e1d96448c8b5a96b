"""Warehouse-style date/time patterns (``YYYY-MM-DD HH24:MI:SS``) compiled once.

A pattern is translated to one anchored regular expression with a named group per token, so
parsing a value is a single ``match`` plus a calendar check, and rendering a Python ``date`` or
``datetime`` is a string join. It defines what a format *means* for the client; the emulator
reads formats with its own code, so that comparing the two checks this one.

For the validator's columnar path, a format also answers for many texts at once
(``all_valid``: one regular expression over the joined texts, calendar included) and says which
standard layout it has (``layout``), so that dates can be rendered in bulk where they match
ISO 8601. ``parse`` and ``render`` stay the definition: the bulk answers must agree with them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from airflow_provider_peak.errors import FormatError

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
#: Characters that may join a column's texts for one regular expression over all of them: controls
#: first, then the private-use area; the first the format's pattern does not hold is used.
_JOINERS = (0x0A, 0x00, 0x01, 0x02, 0x03, *range(0xE000, 0xF900))

# ----------------------------------------------------------------------------- bulk validity
# The values ``parse`` accepts, as one regular expression: every field within its range and the day
# within its month (four cases: days 1-28 of any month, 29-30 of months other than February, the
# 31st of long months, 29 February of leap years). Year 0000 is not a year. Offsets of exactly
# 18 hours are left to ``parse`` where TZH and TZM are separate tokens (rare; ``all_valid`` then
# answers False and the caller checks one by one).
_YEAR = "(?!0000)[0-9]{4}"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_CALENDAR = (
    (_YEAR, "(?:0[1-9]|1[0-2])", "(?:0[1-9]|1[0-9]|2[0-8])"),
    (_YEAR, "(?:0[13-9]|1[0-2])", "(?:29|30)"),
    (_YEAR, "(?:0[13578]|1[02])", "31"),
    (_LEAP_YEAR, "02", "29"),
)
_TIME_FIELDS = {
    "HH24": "(?:[01][0-9]|2[0-3])",
    "MI": "[0-5][0-9]",
    "SS": "[0-5][0-9]",
    "FF": "[0-9]{1,9}",
    "TZM": "[0-5][0-9]",
}
_ISO_TIME = (
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-7]):?[0-5][0-9]|[+-]18:?00)?"
)


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
    #: ``"date"`` (``YYYY-MM-DD``), ``"iso"`` (the ISO 8601 timestamp default),
    #: ``"date time"`` (``YYYY-MM-DD<sep>HH24:MI:SS``), ``"date time fraction"`` (the same plus
    #: ``.FF``) or ``None``: which standard rendering this format's ``render`` equals.
    layout: str | None = field(init=False, repr=False, compare=False)
    #: The literal between the date and the time of the ``"date time"`` layouts.
    separator: str = field(init=False, repr=False, compare=False)
    _many: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _joiner: str = field(init=False, repr=False, compare=False)

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
        layout, separator = _layout(self.pattern, self.kind, self.parts)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "separator", separator)
        # Joined texts are split by a character that no value of this format can hold.
        # Values hold only digits, signs, T, Z and the pattern's own literals: any other will do.
        used = set(self.pattern or "")
        joiner = next((c for c in map(chr, _JOINERS) if c not in used), None)
        if joiner is None:
            raise FormatError(f"format {(self.pattern or '')[:80]!r}... holds too many distinct characters")
        one = _strict_regex(self.pattern, self.kind, self.parts)
        object.__setattr__(self, "_joiner", joiner)
        object.__setattr__(self, "_many", re.compile(f"(?:(?:{one}){re.escape(joiner)})*"))

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

    def all_valid(self, texts: Sequence[str]) -> bool:
        """True if ``parse`` accepts every text; False if it may refuse one (then ask ``parse``).

        One regular expression over the joined texts, so thousands of values cost one C call.
        """
        if not texts:
            return True
        joiner = self._joiner
        joined = joiner.join(texts) + joiner
        # A text holding the joiner would pass for two values: the count rules it out.
        return joined.count(joiner) == len(texts) and self._many.fullmatch(joined) is not None

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


def _layout(pattern: str | None, kind: str, parts: tuple[tuple[bool, str], ...]) -> tuple[str | None, str]:
    """The standard rendering ``render`` equals, if any (see ``DateTimeFormat.layout``)."""
    if pattern is None:
        return ("date" if kind == "date" else "iso"), "T"
    date_part = ((True, "YYYY"), (False, "-"), (True, "MM"), (False, "-"), (True, "DD"))
    time_part = ((True, "HH24"), (False, ":"), (True, "MI"), (False, ":"), (True, "SS"))
    if parts == date_part:
        return "date", ""
    if len(parts) >= 11 and parts[:5] == date_part and not parts[5][0] and parts[6:11] == time_part:
        if len(parts) == 11:
            return "date time", parts[5][1]
        if parts[11:] == ((False, "."), (True, "FF")):
            return "date time fraction", parts[5][1]
    return None, ""


def _strict_regex(pattern: str | None, kind: str, parts: tuple[tuple[bool, str], ...]) -> str:
    """One value that ``parse`` accepts, as a regular expression (see ``_CALENDAR``)."""
    if pattern is None:
        dates = "|".join(f"{y}-{m}-{d}" for y, m, d in _CALENDAR)
        return f"(?:{dates})" + (_ISO_TIME if kind == "timestamp" else "")
    tokens = {text for is_token, text in parts if is_token}
    # With a separate TZM, +18 would need TZM 00: such values are left to ``parse``.
    tzh = "[+-](?:0[0-9]|1[0-7])" if "TZM" in tokens else "[+-](?:0[0-9]|1[0-8])"
    cases = []
    for year, month, day in _CALENDAR:
        fields = {**_TIME_FIELDS, "YYYY": year, "MM": month, "DD": day, "TZH": tzh}
        cases.append("".join(fields[text] if is_token else re.escape(text) for is_token, text in parts))
    return "(?:" + "|".join(cases) + ")"

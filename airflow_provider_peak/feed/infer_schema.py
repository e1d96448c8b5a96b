"""Infer Peak column types from the records a fetch emits.

Used when a destination table does not exist and no columns were declared. Types follow the JSON
values: ``bool`` -> boolean, integers -> integer (numeric beyond 64 bits), other numbers -> numeric,
strings -> string, objects and arrays -> JSON, Python ``datetime``/``date`` -> timestamp/date.
Strings are never guessed to be dates: one odd value later would then fail the whole feed. A key
with mixed types becomes numeric (integers and numbers), timestamp (dates and timestamps) or JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

INT64 = (-(2**63), 2**63 - 1)


def kind_of(value: Any) -> str | None:
    """The Peak column type a value suggests (``None`` for a null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if INT64[0] <= value <= INT64[1] else "numeric"
    if isinstance(value, (float, Decimal)):
        return "numeric"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    return "JSON"


def merge_kinds(kinds: set[str]) -> str:
    """One column type for every type seen in a key (``string`` when only nulls were seen)."""
    if not kinds:
        return "string"
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {"integer", "numeric"}:
        return "numeric"
    if kinds <= {"date", "timestamp"}:
        return "timestamp"
    return "JSON"


class SchemaTracker:
    """Collects every key of a run's records (in first-seen order) and the types of their values.

    Types are taken from the first ``sample`` records and from the record where a key first
    appears; keys are tracked for every record, which costs one set comparison per record.

    :param sample: records whose every value is inspected.
    """

    def __init__(self, sample: int = 1000) -> None:
        self.sample = sample
        self.seen = 0
        self._kinds: dict[str, set[str]] = {}
        self._known: set[str] = set()

    def observe(self, record: Mapping[str, Any]) -> None:
        self.seen += 1
        if self.seen <= self.sample:
            for key, value in record.items():
                self._add(key, value)
        elif not record.keys() <= self._known:
            for key in record.keys() - self._known:
                self._add(key, record[key])

    def _add(self, key: str, value: Any) -> None:
        kinds = self._kinds.get(key)
        if kinds is None:
            kinds = self._kinds[key] = set()
            self._known.add(key)
        kind = kind_of(value)
        if kind is not None:
            kinds.add(kind)

    def __len__(self) -> int:
        """How many keys were seen (cheap: for a hot loop that watches for new keys)."""
        return len(self._kinds)

    @property
    def keys(self) -> list[str]:
        return list(self._kinds)

    def columns(self) -> list[dict[str, Any]]:
        """Peak column definitions (``{"name", "type"}``) for every key seen."""
        return [{"name": key, "type": merge_kinds(kinds)} for key, kinds in self._kinds.items()]

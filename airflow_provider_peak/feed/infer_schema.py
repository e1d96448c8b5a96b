"""Infer Peak column types from the records a fetch emits.

Used when a destination table does not exist and no columns were declared. The rules are the type
registry's (``ingest.types``: each type's ``infer`` and ``absorbs``). Types follow the JSON
values: ``bool`` -> boolean, integers -> integer (numeric beyond 64 bits), other numbers -> numeric,
strings -> string, objects and arrays -> JSON, Python ``datetime``/``date`` -> timestamp/date.
Strings are never guessed to be dates: one odd value later would then fail the whole feed. A key
with mixed types becomes numeric (integers and numbers), timestamp (dates and timestamps) or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_peak.ingest.types import ColumnType, infer_type, merge_types

#: Registry names -> the Ingestion API's spelling (``JSON``).
_SPELLING = {member.value.lower(): member.value for member in ColumnType}


def kind_of(value: Any) -> str | None:
    """The Peak column type a value suggests (``None`` for a null): the registry's inference
    (``types.PeakType.infer``), in the wire spelling."""
    found = infer_type(value)
    return None if found is None else _SPELLING[found.name]


def merge_kinds(kinds: set[str]) -> str:
    """One column type for every type seen in a key (``string`` when only nulls were seen)."""
    return _SPELLING[merge_types({kind.lower() for kind in kinds})]


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

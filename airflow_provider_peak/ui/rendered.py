"""The ``records`` of a task on the UI's Rendered Templates tab: JSON, cut to Airflow's size limit.

Airflow stores a rendered field as it is when it is short, and otherwise as a cut Python ``repr``
string ("Truncated. You can change this behaviour in [core]max_templated_field_length. [{'id':
..."), which is what a list of a few thousand records becomes. A task's rendered records are
wrapped in ``RenderedRecords`` instead: the task still iterates over every record, while Airflow
stores the first records that fit within ``[core] max_templated_field_length``, as JSON, followed
by a line saying how many were left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_peak.version_compat import conf

#: Long strings and lists inside a shown record are cut to these sizes.
MAX_TEXT = 200
MAX_ITEMS = 20
_NOTE_ROOM = 160  # characters kept free for the closing note


def max_rendered_length() -> int:
    return conf.getint("core", "max_templated_field_length", fallback=4096)


def _shorten(value: Any) -> Any:
    """A JSON value for display: long strings and lists cut, anything else as its text (NaN and
    infinities too, which JSON cannot hold: Airflow would fail the task storing the preview)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = {str(k): _shorten(v) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            shown["…"] = f"{len(items) - MAX_ITEMS:,} more keys"
        return shown
    if isinstance(value, (list, tuple)):
        shown_items = [_shorten(v) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            shown_items.append(f"… {len(value) - MAX_ITEMS:,} more items")
        return shown_items
    return _shorten(str(value))  # Decimal, datetime, date: their text


def _size(value: Any) -> int:
    # Airflow 3 measures the Python repr of a field, Airflow 2 its text: the longer one counts.
    return max(len(repr(value)), len(json.dumps(value, ensure_ascii=False)))


def records_preview(records: Sequence[Any], max_length: int) -> list[Any]:
    """The records as a JSON list no longer than ``max_length`` characters: all of them when
    they fit, else the first ones and a closing note (``"… 1,990 more records, 2,000 in all"``)."""
    shown: list[Any] = []
    used = 2
    total = len(records)
    for record in records:
        item = _shorten(record)
        size = _size(item) + 2
        if used + size > max_length - (_NOTE_ROOM if len(shown) + 1 < total else 0):
            break
        shown.append(item)
        used += size
    if len(shown) < total:
        shown.append(
            f"… {total - len(shown):,} more records, {total:,} in all "
            f"(the first that fit in [core] max_templated_field_length = {max_length:,} are shown)"
        )
    return shown


class RenderedRecords(Sequence[Any]):
    """A task's rendered records: iterates, indexes and measures as them; Airflow shows
    ``records_preview`` of them (``serialize()`` on Airflow 3, ``str()`` on Airflow 2)."""

    def __init__(self, records: Sequence[Any]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: Any) -> Any:
        return self.records[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.records)

    def serialize(self) -> list[Any]:
        return records_preview(self.records, max_rendered_length())

    def __str__(self) -> str:
        return json.dumps(self.serialize(), ensure_ascii=False)

    def __repr__(self) -> str:
        return f"RenderedRecords({len(self.records):,} records)"

    @classmethod
    def wrap(cls, value: Any) -> Any:
        """``value`` wrapped when it is a list or tuple of records; anything else (a path, a
        generator, a callable) as it is, since showing it must not read it."""
        if isinstance(value, (list, tuple)):
            return cls(value)
        return value


class RenderedRecordsMixin:
    """For an operator with a template field of records (``records``, or the one named by
    ``rendered_records_field``): shows the rendered records as JSON.

    Hooks into ``_do_render_template_fields``, the method Airflow calls to render a task (mapped
    or not) on Airflow 2.11 and 3.
    """

    rendered_records_field = "records"

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        super()._do_render_template_fields(  # type: ignore[misc]
            parent, template_fields, context, jinja_env, seen_oids
        )
        name = self.rendered_records_field
        if parent is self and name in template_fields:
            setattr(self, name, RenderedRecords.wrap(getattr(self, name)))

"""Peak's preview: up to 10 records of a fetch, shown as JSON and as a table.

A preview runs the fetch until it has written ``limit`` records, then stops it. Nothing is sent to
any destination and no state is saved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_peak.feed.destinations.spool import json_default
from airflow_provider_peak.feed.stream import OutputStream, run_to_limit
from airflow_provider_peak.utils.redaction import neutral

PREVIEW_LIMIT = 10
CELL_WIDTH = 30


def collect_preview(
    fetch: Callable[[OutputStream], None], limit: int = PREVIEW_LIMIT
) -> list[dict[str, Any]]:
    """Run ``fetch`` until it wrote ``limit`` records (or finished); return those records."""
    records: list[dict[str, Any]] = []
    stream = OutputStream(records.extend, chunk_size=limit, limit=limit)
    run_to_limit(fetch, stream)
    stream.close()
    return records[:limit]


def as_json(records: Sequence[dict[str, Any]]) -> str:
    """The JSON tab: the records as received."""
    return json.dumps(list(records), indent=2, default=json_default, ensure_ascii=False)


def _cell(value: Any) -> str:
    text = (
        "" if value is None else value if isinstance(value, str) else json.dumps(value, default=json_default)
    )
    text = neutral(text.replace("\n", " "))  # a source's text stays on its row of the log
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def as_table(records: Sequence[dict[str, Any]]) -> str:
    """The TABULAR tab: one row per record, one column per key (in first-seen order)."""
    if not records:
        return "(no records)"
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    rows = [[_cell(record.get(column)) for column in columns] for record in records]
    names = [neutral(str(column)) for column in columns]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, name in enumerate(names)]
    line = "+".join("-" * (w + 2) for w in widths)
    header = "|".join(f" {c.ljust(w)} " for c, w in zip(names, widths, strict=True))
    body = ["|".join(f" {v.ljust(w)} " for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([header, line, *body])


def render(records: Sequence[dict[str, Any]]) -> str:
    """Both tabs, as one text block."""
    count = f"{len(records)} record{'s' if len(records) != 1 else ''}"
    return f"Preview ({count}), JSON:\n{as_json(records)}\n\nPreview ({count}), table:\n{as_table(records)}"

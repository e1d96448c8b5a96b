"""Reading a v2 ingest reply: rows accepted, rows in ``failed`` with their codes, a request id.

Only ``failed`` and the code/category/message of a row error are documented; everything else is
read through ``V2Wire``'s candidate keys and never fails: a part that cannot be read is skipped
with a warning. Server text is cut short, and a reply never claims more failed rows than were
sent. The outcome (``IngestOutcome``) and its totals (``LoadTotals``) are the pipeline's
(``ingest.outcomes``), shared with v1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.ingest.outcomes import IngestOutcome, LoadTotals, RowFailure
from airflow_provider_peak.ingest.record_errors import RowError, short_repr
from airflow_provider_peak.ingest.v2.wire import V2Wire
from airflow_provider_peak.utils.redaction import neutral, neutral_value

__all__ = ["IngestOutcome", "LoadTotals", "RowFailure", "parse_ingest_reply"]

#: Errors kept per failed row, and characters kept of a server message, code or category.
MAX_ERRORS_PER_ROW = 50
MAX_MESSAGE = 300
MAX_CODE = 40


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    return None


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ("" if value is None else short_repr(value, limit))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _errors(item: Mapping[str, Any], position: int, wire: V2Wire) -> list[RowError]:
    raw = _first(item, wire.failed_errors_keys)
    if raw is None and wire.error_code_key in item:  # a flat item: the error itself
        raw = [item]
    if isinstance(raw, (Mapping, str)):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    errors: list[RowError] = []
    for entry in raw[:MAX_ERRORS_PER_ROW]:
        if isinstance(entry, str):
            errors.append(RowError(position, None, "", "", _short(neutral(entry), MAX_MESSAGE)))
            continue
        if not isinstance(entry, Mapping):
            continue
        column = _first(entry, wire.error_column_keys)
        errors.append(
            RowError(
                position,
                # The server's words, one line each (they reach messages and the log); the code is
                # kept as sent (it is counted, and made one line where it is shown).
                neutral(column)[:200] if isinstance(column, str) else None,
                _short(entry.get(wire.error_code_key), MAX_CODE),
                _short(neutral_value(entry.get(wire.error_category_key)), MAX_CODE),
                _short(neutral_value(entry.get(wire.error_message_key)), MAX_MESSAGE),
            )
        )
    return errors


def parse_ingest_reply(
    payload: Any,
    wire: V2Wire | None = None,
    *,
    sent: int,
    rows: Sequence[int] | None = None,
    dry_run: bool = False,
) -> IngestOutcome:
    """An ingest reply as an ``IngestOutcome``.

    :param sent: how many rows the request held.
    :param rows: the input index of each row of the request (``V2Request.rows``), to map
        ``failed`` indices back to the input.
    """
    wire = wire or V2Wire()
    notes: list[str] = []
    if not isinstance(payload, Mapping):
        notes.append(f"the reply is not an object ({type(payload).__name__}); no row failures read")
        payload = {}
    raw_failed = payload.get(wire.failed_key)
    if raw_failed is None:
        raw_failed = []
    elif not isinstance(raw_failed, list):
        notes.append(f"{wire.failed_key!r} is not a list; no row failures read")
        raw_failed = []
    if len(raw_failed) > sent:
        notes.append(
            f"the reply lists {len(raw_failed)} failed rows for {sent} sent; the first {sent} are read"
        )
        raw_failed = raw_failed[:sent]
    failures: list[RowFailure] = []
    by_index: dict[int, int] = {}  # request index -> position in ``failures``
    for item in raw_failed:
        index = _first(item, wire.failed_index_keys) if isinstance(item, Mapping) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < sent:
            index = None
        row = rows[index] if index is not None and rows is not None and index < len(rows) else None
        position = row if row is not None else (index if index is not None else -1)
        if isinstance(item, Mapping):
            errors, data = tuple(_errors(item, position, wire)), _first(item, wire.failed_row_keys)
        else:
            errors, data = (RowError(position, None, "", "", _short(item, MAX_MESSAGE)),), None
        if index is not None and index in by_index:
            notes.append(f"row {index} is listed twice in {wire.failed_key!r}; its errors are merged")
            earlier = failures[by_index[index]]
            failures[by_index[index]] = RowFailure(index, row, earlier.errors + errors, earlier.data)
            continue
        if index is not None:
            by_index[index] = len(failures)
        failures.append(RowFailure(index, row, errors, data))
    accepted = _first(payload, wire.accepted_keys)
    if isinstance(accepted, bool) or not isinstance(accepted, int) or not 0 <= accepted <= sent:
        if accepted is not None:
            notes.append(
                f"accepted count {short_repr(accepted)} is not 0..{sent}; counted from {wire.failed_key!r}"
            )
        accepted = sent - len(failures)
    request_id = _first(payload, wire.request_id_keys)
    return IngestOutcome(
        sent=sent,
        accepted=accepted,
        failed=tuple(failures),
        request_id=_short(request_id, 100) if isinstance(request_id, (str, int)) else None,
        dry_run=dry_run,
        warnings=tuple(notes),
    )

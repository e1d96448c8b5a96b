"""Where a v2 load's row outcomes go: dead-letter lines, and notes of failed rows in the checkpoint.

A dead letter is one JSON line per row: ``row_index`` (in the input), ``stage`` (``client``: the
schema check kept it back; ``server``: Peak reported it in ``failed``), ``request``,
``request_id``, ``errors`` (``column``, ``code``, ``category``, ``message``) and ``row`` (as sent,
numbers exact). A checkpoint note records how many rows of an acknowledged request failed, by
code, so a retried task that skips the request still reports them.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any

import msgspec

from airflow_provider_peak.ingest.record_errors import RecordError, short_repr
from airflow_provider_peak.ingest.v2.body import V2Request
from airflow_provider_peak.ingest.v2.reply import IngestOutcome

#: A checkpoint note of a request's failed rows: ``<key>!failed=<n>!<code>=<n>,...`` (ASCII).
_NOTE = "!failed="
_CODE_TEXT = re.compile(r"[^A-Za-z0-9_.-]")
_DECODE = msgspec.json.Decoder(float_hook=Decimal)
_ENCODE = msgspec.json.Encoder(decimal_format="number", enc_hook=repr)


# ----------------------------------------------------------------------------- checkpoint notes
def failure_note(key: str, outcome: IngestOutcome) -> str:
    """The checkpoint entry recording a request's failed rows (ASCII, one line)."""
    codes = ",".join(
        f"{_CODE_TEXT.sub('', code)[:40] or '-'}={count}" for code, count in sorted(outcome.by_code.items())
    )
    return f"{key}{_NOTE}{len(outcome.failed)}!{codes}"


def read_failure_notes(entries: Iterable[str]) -> dict[str, tuple[int, Counter[str]]]:
    """``{request key: (failed rows, failed rows by code)}`` from a checkpoint's entries."""
    notes: dict[str, tuple[int, Counter[str]]] = {}
    for entry in entries:
        key, found, rest = entry.partition(_NOTE)
        if not found:
            continue
        count, _, codes = rest.partition("!")
        by_code: Counter[str] = Counter()
        for part in filter(None, codes.split(",")):
            code, _, number = part.rpartition("=")
            if number.isdigit():
                by_code[code] = int(number)
        if count.isdigit():
            notes[key] = (int(count), by_code)
    return notes


# ----------------------------------------------------------------------------- dead letters
def _line(entry: dict[str, Any]) -> str:
    """One dead-letter line; numbers exact, and never failing on the bad value itself."""
    try:
        return _ENCODE.encode(entry).decode()
    except Exception:  # a lone surrogate, a huge integer, a cycle...
        try:
            return json.dumps(entry, default=repr, ensure_ascii=True)
        except Exception:
            return json.dumps({**entry, "row": short_repr(entry.get("row"), 2000)}, ensure_ascii=True)


def _error_entry(error: RecordError) -> dict[str, Any]:
    return {"column": error.column, "code": error.code, "category": error.category, "message": error.reason}


class DeadLetters:
    """Writes invalid and failed rows (thread-safe: replies arrive on the sender's threads)."""

    def __init__(self, stream: IO[str], data_key: str) -> None:
        self.stream = stream
        self.data_key = data_key
        self.lock = threading.Lock()

    def client(self, index: int, row: Any, errors: list[RecordError]) -> None:
        entry = {
            "row_index": index,
            "stage": "client",
            "errors": [_error_entry(e) for e in errors],
            "row": row,
        }
        with self.lock:
            self.stream.write(_line(entry) + "\n")

    def server(self, request: V2Request, outcome: IngestOutcome) -> None:
        try:
            sent = _DECODE.decode(request.body).get(self.data_key)
        except (msgspec.DecodeError, AttributeError):
            sent = None
        lines = []
        for failure in outcome.failed:
            row = failure.data
            if failure.index is not None and isinstance(sent, list) and failure.index < len(sent):
                row = sent[failure.index]  # the row exactly as it was sent
            entry = {
                "row_index": failure.row,
                "stage": "server",
                "request": request.index,
                "request_id": outcome.request_id,
                "errors": [_error_entry(e) for e in failure.errors],
                "row": row,
            }
            lines.append(_line(entry) + "\n")
        with self.lock:
            self.stream.writelines(lines)

"""The dead-letter file of a load: one strict JSON line per record that was not loaded.

One writer for every Peak API; each API names the fields of a line its own way (``LetterShape``):

* v1 (``RECORD_LETTERS``): ``record_index`` (in the input), ``errors`` (``column``, ``reason``)
  and ``record``;
* v2 (``ROW_LETTERS``): ``row_index``, ``stage`` (``client``: the schema check kept it back;
  ``server``: Peak reported it in ``failed``), for a server's verdict ``request`` and
  ``request_id``, ``errors`` (``column``, ``code``, ``category``, ``message``) and ``row`` (as
  sent, numbers exact).

Lines are strict JSON whatever the record holds (any strict parser reads them): numbers exact
(``Decimal`` as written), dates in ISO 8601, NaN and Infinity (``float`` or ``Decimal``) as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (a bare ``NaN`` is not JSON), text that is not
valid UTF-8 escaped, anything else JSON cannot hold as its ``repr`` (as its ``str`` in a record that
also holds text that is not valid UTF-8); a record that cannot be written at all (a cycle) is
written as its truncated ``repr``. The record is the one given (the pipeline removes the batch id
it stamps on records before they get here); the errors are beside it. The writer never fails on
the bad value itself, and it is thread-safe (the server's verdicts arrive on the sender's
threads).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import msgspec

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.ingest.outcomes import IngestOutcome
from airflow_provider_peak.ingest.record_errors import RecordError, short_repr
from airflow_provider_peak.utils.extras import require_for_url
from airflow_provider_peak.utils.workdir import private_dir, private_file

__all__ = [
    "RECORD_LETTERS",
    "ROW_LETTERS",
    "DeadLetterWriter",
    "LetterShape",
    "check_dead_letter_target",
    "open_text",
]

_ENCODE = msgspec.json.Encoder(decimal_format="number", enc_hook=repr)
#: Containers nested deeper than this make the record's line its truncated ``repr``.
_MAX_DEPTH = 64


@dataclass(frozen=True)
class LetterShape:
    """How one API's dead-letter lines name their fields.

    :param index: the key of the record's input index; ``record``: the key of the record.
    :param staged: lines say which stage refused the record (``client`` or ``server``).
    :param coded: errors carry ``code`` and ``category``, and their text is ``message`` (else
        ``reason``).
    """

    index: str
    record: str
    staged: bool
    coded: bool


RECORD_LETTERS = LetterShape("record_index", "record", staged=False, coded=False)
ROW_LETTERS = LetterShape("row_index", "row", staged=True, coded=True)


def check_dead_letter_target(path: str | None, conn_id: str | None) -> None:
    """``PeakConfigError`` when ``conn_id`` (``dead_letter_conn_id``) comes with a local
    ``dead_letter_path``: a connection reaches object storage only. A templated path is checked
    once it is rendered."""
    if conn_id and path and "://" not in path and "{{" not in path:
        raise PeakConfigError(
            f"dead_letter_conn_id={conn_id!r} is for an object-storage dead_letter_path (s3://..., "
            f"gs://..., abfs://...); {path!r} is a local path: remove dead_letter_conn_id or give a URL"
        )


def open_text(path: str, conn_id: str | None = None) -> IO[str]:
    """A text file to write (a dead-letter file): object storage (``ObjectStoragePath``, with the
    connection ``conn_id``), or a local file in a folder of the worker's user that no one else can
    write (made ``0700`` where missing, checked as ``utils.workdir`` checks its own), never written
    through a symlink."""
    check_dead_letter_target(path, conn_id)
    if "://" in path:
        from airflow_provider_peak.version_compat import ObjectStoragePath

        require_for_url(path, f"dead-letter files at {urlsplit(path).scheme}:// URLs")
        return ObjectStoragePath(path, conn_id=conn_id).open("w")
    local = Path(path)
    return private_file(private_dir(local.parent) / local.name, "w", encoding="utf-8")


def _plain(value: Any, path: tuple[int, ...] = ()) -> Any:
    """``value`` without what JSON cannot hold as is: NaN and Infinity (as text: ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``), keys that are not text (their ``repr``), tuples and sets
    (lists); ``ValueError`` for a cycle or containers nested too deep."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return value if value.is_finite() else str(value)
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if id(value) in path or len(path) >= _MAX_DEPTH:
            raise ValueError("a cycle, or containers nested too deep")
        inner = (*path, id(value))
        if isinstance(value, dict):
            return {k if isinstance(k, str) else repr(k): _plain(v, inner) for k, v in value.items()}
        return [_plain(v, inner) for v in value]
    return value


def _line(entry: dict[str, Any], record_key: str) -> str:
    """One strict JSON line (see the module docstring)."""
    try:
        plain = _plain(entry)
    except ValueError:  # a cycle, or containers nested too deep
        plain = {**entry, record_key: short_repr(entry.get(record_key), 2000)}
    try:
        return _ENCODE.encode(plain).decode()
    except Exception:  # text that is not valid UTF-8: escaped by the standard library's encoder
        pass
    try:
        return json.dumps(plain, ensure_ascii=True, allow_nan=False, default=str)
    except Exception:  # a failing __str__...
        return json.dumps({**entry, record_key: short_repr(entry.get(record_key), 2000)}, ensure_ascii=True)


class DeadLetterWriter:
    """Writes the records of a load that were not loaded, one line each (thread-safe);
    ``written`` counts the lines."""

    def __init__(self, stream: IO[str], shape: LetterShape) -> None:
        self.stream = stream
        self.shape = shape
        self.lock = threading.Lock()
        self.written = 0

    def _errors(self, errors: Sequence[RecordError]) -> list[dict[str, Any]]:
        if self.shape.coded:
            return [
                {"column": e.column, "code": e.code, "category": e.category, "message": e.reason}
                for e in errors
            ]
        return [{"column": e.column, "reason": e.reason} for e in errors]

    def invalid(self, index: int, record: Any, errors: Sequence[RecordError]) -> None:
        """A record the client's checks kept back (``stage`` ``client``)."""
        shape = self.shape
        entry: dict[str, Any] = {shape.index: index}
        if shape.staged:
            entry["stage"] = "client"
        entry["errors"] = self._errors(errors)
        entry[shape.record] = record
        line = _line(entry, shape.record)
        with self.lock:
            self.stream.write(line + "\n")
            self.written += 1

    def failed(self, request: int, outcome: IngestOutcome, sent: Sequence[Any] | None) -> None:
        """The records of request number ``request`` that the server refused (``stage``
        ``server``); ``sent`` are the request's records as sent (decoded from its body), for the
        lines to carry them exactly."""
        shape = self.shape
        lines = []
        for failure in outcome.failed:
            record = failure.data
            if failure.index is not None and sent is not None and failure.index < len(sent):
                record = sent[failure.index]  # the record exactly as it was sent
            entry: dict[str, Any] = {shape.index: failure.row}
            if shape.staged:
                entry["stage"] = "server"
            entry["request"] = request
            entry["request_id"] = outcome.request_id
            entry["errors"] = self._errors(failure.errors)
            entry[shape.record] = record
            lines.append(_line(entry, shape.record) + "\n")
        with self.lock:
            self.stream.writelines(lines)
            self.written += len(lines)

"""Validate, pack and send any number of records to one Peak table.

The pipeline shared by ``PeakIngestOperator`` and ``PeakHook.ingest_records``:

1. every record is validated and encoded against the table's schema (``validation``);
2. valid records are packed in order into compliant request bodies (``batching``);
3. batches are sent concurrently (``sender``), skipping those a previous try had acknowledged.

With ``on_invalid="fail"`` step 1 runs over the whole input *before* anything is sent: packed
batches are spooled to a temporary file, and nothing is sent if any record is invalid. With
``"skip"`` or ``"dead_letter"`` records stream straight through and invalid ones are counted (and
written to a JSONL file with their errors).
"""

from __future__ import annotations

import json
import logging
import secrets
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.batching import Batch, EncodeAndPack
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.ingest.schema import ColumnType, TableSchema
from airflow_provider_peak.ingest.sender import BatchSender
from airflow_provider_peak.ingest.validation import RecordError

log = logging.getLogger(__name__)

ON_INVALID = ("fail", "skip", "dead_letter")
ERROR_LIMIT = 20
_LEN = struct.Struct("<QIQ")  # body length, record count, first record index


@dataclass
class IngestOptions:
    """How records are batched and sent. Defaults follow the API's documented limits."""

    max_records: int = 500
    max_bytes: int = 1_000_000
    max_concurrency: int = 8
    on_invalid: str = "fail"
    dead_letter_path: str | None = None
    batch_id_column: str | None = None
    progress_interval: float = 10.0
    #: Batches kept open for best-fit packing (see ``batching.pack``); 1 keeps the input order.
    pack_window: int = 16

    def check(self, schema: TableSchema) -> None:
        if self.on_invalid not in ON_INVALID:
            raise PeakConfigError(f"on_invalid must be one of {ON_INVALID}, got {self.on_invalid!r}")
        if self.on_invalid == "dead_letter" and not self.dead_letter_path:
            raise PeakConfigError('on_invalid="dead_letter" needs dead_letter_path')
        if not 1 <= self.max_records <= 500:
            raise PeakConfigError(f"max_records must be 1..500, got {self.max_records}")
        if self.max_bytes < 64:
            raise PeakConfigError(f"max_bytes is too small: {self.max_bytes}")
        if self.batch_id_column is not None:
            column = schema.column_map.get(self.batch_id_column)
            if column is None or column.type is not ColumnType.STRING:
                raise PeakConfigError(
                    f"batch_id_column {self.batch_id_column!r} must be a string column "
                    f"of table {schema.name!r}"
                )


class _BatchIds:
    """Stamps every record with its batch's ``batch_id`` (the same on every try of the run).

    Records are encoded with a random placeholder of the id's exact length, so packing sees each
    record's final size; the placeholder is replaced in the packed body.
    """

    ID_LENGTH = len(Batch(0, b"", 0, 0, run_key="").batch_id)

    def __init__(self, column: str) -> None:
        self.column = column
        self.placeholder = secrets.token_hex(self.ID_LENGTH)[: self.ID_LENGTH]

    def stamp(self, record: Any) -> Any:
        if isinstance(record, dict) and self.column not in record:
            return {**record, self.column: self.placeholder}
        return record

    def apply(self, batch: Batch) -> Batch:
        batch.body = batch.body.replace(self.placeholder.encode(), batch.batch_id.encode())
        return batch


@dataclass
class IngestSummary:
    """What a run did; returned to XCom as a dict."""

    table: str
    records_sent: int = 0
    requests: int = 0
    bytes_sent: int = 0
    invalid: int = 0
    records_resumed: int = 0
    batches_resumed: int = 0
    retries: int = 0
    rate_limited: int = 0
    max_in_flight: int = 0
    min_concurrency: int = 0
    seconds: float = 0.0
    dead_letter_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["seconds"] = round(self.seconds, 3)
        out["records_per_second"] = round(self.records_sent / self.seconds) if self.seconds > 0 else None
        return out

    def as_table(self) -> str:
        rows = [
            (k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v))
            for k, v in self.as_dict().items()
            if v is not None
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def _dead_letter_writer(stream: IO[str]) -> Callable[[int, Any, list[RecordError]], None]:
    def write(index: int, record: Any, errors: list[RecordError]) -> None:
        entry = {
            "record_index": index,
            "errors": [{"column": e.column, "reason": e.reason} for e in errors],
            "record": record,
        }
        # ``repr`` for what JSON cannot hold, so the dead letter never fails on the bad value itself.
        stream.write(json.dumps(entry, default=repr, ensure_ascii=False) + "\n")

    return write


def _spool(batches: Iterable[Batch], spool: IO[bytes]) -> int:
    count = 0
    for batch in batches:
        spool.write(_LEN.pack(len(batch.body), batch.count, batch.first_record))
        spool.write(batch.body)
        count += 1
    spool.seek(0)
    return count


def _unspool(spool: IO[bytes], total: int, run_key: str) -> Iterator[Batch]:
    for index in range(total):
        size, count, first = _LEN.unpack(spool.read(_LEN.size))
        yield Batch(index, spool.read(size), count, first, run_key)


def ingest_records(
    send_one: Callable[[Batch], int],
    schema: TableSchema,
    source: Callable[[], Iterable[Any]],
    options: IngestOptions,
    *,
    checkpoint: Checkpoint | None = None,
    run_key: str = "",
    counters: Callable[[], dict[str, int]] = dict,
    logger: logging.Logger | None = None,
) -> IngestSummary:
    """Run the pipeline; see the module docstring. Raises ``RecordValidationError`` (nothing sent)
    when ``on_invalid="fail"`` and any record is invalid."""
    options.check(schema)
    logger = logger or log
    started = time.monotonic()
    summary = IngestSummary(table=schema.name, dead_letter_path=options.dead_letter_path)
    before = counters()
    stamp = _BatchIds(options.batch_id_column) if options.batch_id_column else None
    with ExitStack() as stack:
        rejected = None
        if options.on_invalid == "dead_letter":
            rejected = _dead_letter_writer(stack.enter_context(_open_text(options.dead_letter_path or "")))
        records: Iterable[Any] = source()
        if stamp is not None:
            records = map(stamp.stamp, records)
        encoded = EncodeAndPack(
            schema,
            records,
            max_records=options.max_records,
            max_bytes=options.max_bytes,
            on_invalid="fail" if options.on_invalid == "fail" else "skip",
            error_limit=ERROR_LIMIT,
            run_key=run_key,
            on_rejected=rejected,
            window=options.pack_window,
        )
        batches: Iterable[Batch] = encoded
        if stamp is not None:
            batches = map(stamp.apply, batches)
        if options.on_invalid == "fail":
            # Validate everything before the first request: spool the batches, send after.
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="peak-spool-"))
            total = _spool(batches, spool)
            logger.info(
                "Validated %s records into %s requests; sending", f"{encoded.records:,}", f"{total:,}"
            )
            batches = _unspool(spool, total, run_key)
        sender = BatchSender(
            send_one,
            max_concurrency=options.max_concurrency,
            checkpoint=checkpoint,
            progress_interval=options.progress_interval,
            rate_limited=lambda: counters().get("rate_limited", 0),
            logger=logger,
        )
        try:
            stats = sender.send(batches)
        finally:
            after = counters()
            summary.retries = after.get("retries", 0) - before.get("retries", 0)
            summary.rate_limited = after.get("rate_limited", 0) - before.get("rate_limited", 0)
        if options.on_invalid == "skip" and encoded.invalid:
            logger.warning(
                "Skipped %d invalid records; first errors:\n%s",
                encoded.invalid,
                "\n".join(str(e) for e in encoded.errors),
            )
    summary.records_sent = stats.records
    summary.requests = stats.requests
    summary.bytes_sent = stats.bytes
    summary.invalid = encoded.invalid
    summary.records_resumed = stats.records_skipped
    summary.batches_resumed = stats.batches_skipped
    summary.max_in_flight = stats.max_in_flight
    summary.min_concurrency = stats.min_concurrency
    summary.seconds = time.monotonic() - started
    return summary


def _open_text(path: str) -> IO[str]:
    if "://" in path:
        from airflow_provider_peak.version_compat import ObjectStoragePath

        return ObjectStoragePath(path).open("w")
    return open(path, "w", encoding="utf-8")

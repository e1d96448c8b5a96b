"""Validate, pack and send any number of records to one Peak table.

The pipeline behind ``PeakHook.load_records`` (which ``PeakIngestOperator``, the REST feed's
``PeakTableDestination`` and ``@task`` code all call):

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_peak.exceptions import PeakAcknowledgementError, PeakConfigError
from airflow_provider_peak.ingest.batching import Batch, EncodeAndPack
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.ingest.limits import MIN_MAX_BYTES, IngestLimits
from airflow_provider_peak.ingest.schema import ColumnType, TableSchema
from airflow_provider_peak.ingest.sender import BatchSender
from airflow_provider_peak.ingest.validation import RecordError
from airflow_provider_peak.utils.checks import check_count, check_number
from airflow_provider_peak.utils.extras import require_for_url

log = logging.getLogger(__name__)

#: What happens to an invalid record: nothing is sent (``fail``), it is dropped and counted
#: (``skip``), or it is written with its errors to a JSONL file (``dead_letter``).
ON_INVALID = ("fail", "skip", "dead_letter")
ERROR_LIMIT = 20
_LEN = struct.Struct("<QIQ")  # body length, record count, first record index


class BatchSink(Protocol):
    """Where the pipeline sends batches: a table of the Peak API (``PeakHook``'s sink)."""

    def send(self, batch: Batch) -> Any:
        """Send one batch (retries included); return the acknowledged count or ``sender.NO_COUNT``."""

    def counters(self) -> Mapping[str, int]:
        """Requests, retries and 429 replies so far (the sink's transport's counts)."""


@dataclass(frozen=True)
class IngestOptions:
    """How records are validated, batched and sent.

    The limits default to the connection's (the tenant's ``max_records``, ``max_bytes`` and
    ``DEFAULT_MAX_CONCURRENCY`` requests in flight); asking for more than the connection allows is
    an error (see ``ingest.limits``). ``within`` returns the options with every limit decided.
    """

    max_records: int | None = None
    max_bytes: int | None = None
    max_concurrency: int | None = None
    on_invalid: str = "fail"
    dead_letter_path: str | None = None
    batch_id_column: str | None = None
    progress_interval: float = 10.0
    #: Batches kept open for best-fit packing (see ``batching.pack``); 1 keeps the input order.
    pack_window: int = 16

    def __post_init__(self) -> None:
        if self.on_invalid not in ON_INVALID:
            raise PeakConfigError(
                f"on_invalid must be one of {', '.join(ON_INVALID)}; got {self.on_invalid!r}"
            )
        if self.on_invalid == "dead_letter" and not self.dead_letter_path:
            raise PeakConfigError('on_invalid="dead_letter" needs dead_letter_path')
        for name in ("max_records", "max_bytes", "max_concurrency"):
            value = getattr(self, name)
            if value is not None:
                check_count(name, value, minimum=MIN_MAX_BYTES if name == "max_bytes" else 1)
        check_number("progress_interval", self.progress_interval, positive=True)
        check_count("pack_window", self.pack_window, minimum=1)

    def within(self, limits: IngestLimits) -> IngestOptions:
        """These options with every limit decided under ``limits`` (the connection's ceiling)."""
        records, size, concurrency = limits.narrow(
            max_records=self.max_records, max_bytes=self.max_bytes, max_concurrency=self.max_concurrency
        )
        return replace(self, max_records=records, max_bytes=size, max_concurrency=concurrency)

    def check_schema(self, schema: TableSchema) -> None:
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
    #: Batches Peak acknowledged with another record count than was sent (see the sender).
    unacknowledged_batches: int = 0
    seconds: float = 0.0
    dead_letter_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["seconds"] = round(self.seconds, 3)
        out["records_per_second"] = round(self.records_sent / self.seconds) if self.seconds > 0 else None
        return out

    def as_table(self) -> str:
        return aligned_table((k.replace("_", " "), v) for k, v in self.as_dict().items() if v is not None)


def aligned_table(rows: Iterable[tuple[str, Any]]) -> str:
    """A summary for the task log: one ``name  value`` line per row, the values aligned."""
    cells = [(name, _cell(value)) for name, value in rows]
    width = max((len(name) for name, _ in cells), default=0)
    return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in cells)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}" if isinstance(value, int) else str(value)


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
    sink: BatchSink,
    schema: TableSchema,
    records: Iterable[Any],
    options: IngestOptions,
    *,
    checkpoint: Checkpoint | None = None,
    logger: logging.Logger | None = None,
) -> IngestSummary:
    """Run the pipeline (see the module docstring) with decided options (``IngestOptions.within``).

    Raises ``RecordValidationError`` (nothing sent) when ``on_invalid="fail"`` and any record is
    invalid, and ``PeakAcknowledgementError`` after sending everything when Peak acknowledged other
    record counts than were sent.
    """
    if options.max_records is None or options.max_bytes is None or options.max_concurrency is None:
        raise PeakConfigError("ingest_records needs decided limits: pass options.within(limits)")
    options.check_schema(schema)
    logger = logger or log
    run_key = checkpoint.run_key if checkpoint is not None else ""
    started = time.monotonic()
    summary = IngestSummary(table=schema.name, dead_letter_path=options.dead_letter_path)
    before = dict(sink.counters())
    stamp = _BatchIds(options.batch_id_column) if options.batch_id_column else None
    with ExitStack() as stack:
        rejected = None
        if options.on_invalid == "dead_letter":
            rejected = _dead_letter_writer(stack.enter_context(open_text(options.dead_letter_path or "")))
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
            sink.send,
            max_concurrency=options.max_concurrency,
            checkpoint=checkpoint,
            progress_interval=options.progress_interval,
            rate_limited=lambda: sink.counters().get("rate_limited", 0),
            logger=logger,
        )
        try:
            stats = sender.send(batches)
        finally:
            after = sink.counters()
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
    summary.unacknowledged_batches = len(stats.mismatched)
    summary.seconds = time.monotonic() - started
    if stats.mismatched:
        logger.error("Ingested into Peak table %s:\n%s", schema.name, summary.as_table())
        raise PeakAcknowledgementError(schema.name, stats.mismatched)
    return summary


def open_text(path: str) -> IO[str]:
    """A text file to write (a dead-letter file): local (its folder made) or object storage."""
    if "://" in path:
        from airflow_provider_peak.version_compat import ObjectStoragePath

        require_for_url(path, f"dead-letter files at {urlsplit(path).scheme}:// URLs")
        return ObjectStoragePath(path).open("w")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8")

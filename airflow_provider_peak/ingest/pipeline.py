"""Validate, pack and send any number of records to one Peak table: one pipeline for every API.

The pipeline behind ``PeakHook.load_records`` and ``PeakV2Hook.load_rows`` (which the ingest
operators, the REST feed's ``PeakTableDestination`` and ``@task`` code call):

1. every record is validated and encoded against the table's schema, with the API's rules
   (``validation``);
2. valid records are packed into compliant request bodies (``batching``), wrapped as the API
   wants them;
3. batches are sent concurrently (``sender``) through the API's adapter (``apis.v1``,
   ``apis.v2``), skipping those an earlier try of the task run had acknowledged (``checkpoint``);
4. each reply is read: records the server refused (v2 reports them row by row; v1 applies a batch
   whole) are counted by code, noted in the checkpoint (so a retried task that skips their
   request still reports them) and, with ``dead_letter``, written to the dead-letter file.

``on_invalid``:

* ``fail``: every record is validated before the first request (the batches are spooled to a
  temporary file, ``spool``): nothing is sent if one is invalid (``RecordValidationError``; v2:
  ``RowValidationError``). Records the server refuses fail the load *after* sending
  (``PeakRowsFailedError``; the other records stay accepted).
* ``skip``: invalid records are dropped and counted; records the server refuses are counted and
  logged.
* ``dead_letter``: both are written to a JSONL file (``dead_letters``), one line per record with
  its errors.

A v2 dry run sends every record JSON can carry, including records the schema check rejects: the
server's own verdict is the preview. Nothing is written to Peak and nothing is checkpointed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from typing import Any, Protocol

from airflow_provider_peak.errors import PeakAcknowledgementError, PeakConfigError
from airflow_provider_peak.ingest.apis.v1 import BatchSink, V1Api
from airflow_provider_peak.ingest.batching import Batch, EncodeAndPack
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.ingest.dead_letters import DeadLetterWriter, LetterShape, open_text
from airflow_provider_peak.ingest.options import ON_INVALID, IngestOptions
from airflow_provider_peak.ingest.outcomes import IngestOutcome, LoadTotals, failure_note, read_failure_notes
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.sender import BatchSender
from airflow_provider_peak.ingest.sources import shown_path
from airflow_provider_peak.ingest.spool import Spool
from airflow_provider_peak.ingest.summary import IngestSummary, LoadSummary, aligned_table
from airflow_provider_peak.ingest.validation import RecordEncoder

__all__ = [
    "ERROR_LIMIT",
    "ON_INVALID",
    "BatchSink",
    "IngestApi",
    "IngestOptions",
    "IngestSummary",
    "aligned_table",
    "ingest_records",
    "load",
    "open_text",
]

log = logging.getLogger(__name__)

#: Errors of invalid records kept for the message and the log.
ERROR_LIMIT = 20


class IngestApi(Protocol):
    """What differs between Peak's APIs once records are encoded (``apis.v1``, ``apis.v2``)."""

    #: The API's words: what it calls a record, an invalid one, a load (for the log).
    records: str
    invalid: str
    loaded: str
    #: How its dead-letter lines name their fields.
    letters: LetterShape
    #: Bytes a body adds around the records' array.
    overhead: int
    #: Halve the requests in flight on a 429 (the tenant limits concurrency), or leave the rate
    #: to a pacer (the tenant limits requests per second).
    adapts_concurrency: bool
    #: The server may refuse some records of a request and accept the others.
    refuses_records: bool
    #: The table's name (for errors) and how the log names it.
    table_name: str
    target: str

    @property
    def encoder(self) -> RecordEncoder: ...

    @property
    def lenient(self) -> RecordEncoder | None:
        """What a dry run sends of the records the encoder refuses (``None``: no dry run)."""

    def wrap(self, batch: Batch) -> Batch:
        """The batch with its body as sent."""

    def batch_name(self, batch: Batch) -> str:
        """How errors name a batch (an id, or the request's number)."""

    def send(self, batch: Batch) -> IngestOutcome:
        """Send one request (retries, and pacing where the API has it) and read its reply."""

    def records_sent(self, body: bytes) -> list[Any] | None:
        """A body's records exactly as sent (for the dead letters of refused records)."""

    def counters(self) -> Mapping[str, int]:
        """Requests, retries and 429 replies so far (the transport's counts)."""


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


def load(
    api: IngestApi,
    records: Iterable[Any],
    options: IngestOptions,
    summary: LoadSummary,
    *,
    checkpoint: Checkpoint | None = None,
    logger: logging.Logger | None = None,
) -> LoadSummary:
    """Run the pipeline (see the module docstring) with decided options (``IngestOptions.within``).

    :param summary: the summary to fill in (the API's view: ``IngestSummary``, ``V2LoadSummary``).
    :raises RecordValidationError: (nothing sent) with ``on_invalid="fail"`` when a record is invalid.
    :raises PeakRowsFailedError: after sending, with ``on_invalid="fail"`` when the server refused records.
    :raises PeakAcknowledgementError: after sending, when Peak acknowledged other record counts
        than were sent.
    """
    if options.max_records is None or options.max_bytes is None or options.max_concurrency is None:
        raise PeakConfigError("a load needs decided limits: pass options.within(the connection's limits)")
    options.check_columns(api.table_name, api.encoder.specs)
    logger = logger or log
    if options.dry_run:
        checkpoint = None  # a preview is sent whole every time, and writes nothing anywhere
    run_key = checkpoint.run_key if checkpoint is not None else ""
    started = time.monotonic()
    before = dict(api.counters())
    totals = LoadTotals(dry_run=options.dry_run)
    lock = threading.Lock()
    notes = read_failure_notes(checkpoint.load()) if checkpoint is not None and api.refuses_records else {}
    resumed_failed: Counter[str] = Counter()
    resumed_count = 0
    stamp = _BatchIds(options.batch_id_column) if options.batch_id_column else None
    # The path as shown (credentials of an object-storage URL masked), in the summary and the log.
    shown = shown_path(options.dead_letter_path) if options.dead_letter_path else None
    summary.dead_letter_path = shown
    with ExitStack() as stack:
        letters = None
        if options.on_invalid == "dead_letter":
            stream = stack.enter_context(open_text(options.dead_letter_path or ""))
            letters = DeadLetterWriter(stream, api.letters)
        if stamp is not None:
            records = map(stamp.stamp, records)
        encoded = EncodeAndPack(
            api.encoder,
            records,
            max_records=options.max_records,
            max_bytes=options.max_bytes - api.overhead,
            on_invalid="fail" if options.on_invalid == "fail" else "skip",
            error_limit=ERROR_LIMIT,
            run_key=run_key,
            on_rejected=letters.invalid if letters is not None else None,
            window=options.pack_window,
            lenient=api.lenient if options.dry_run else None,
        )

        def finished(source: Iterable[Batch]) -> Iterator[Batch]:
            for batch in source:
                yield api.wrap(stamp.apply(batch) if stamp is not None else batch)

        batches: Iterable[Batch] = finished(encoded)
        if options.on_invalid == "fail":
            # Validate everything before the first request: spool the batches, send after.
            spool = stack.enter_context(Spool())
            total = spool.write(batches)
            logger.info(
                "Validated %s %s into %s requests; sending", f"{encoded.records:,}", api.records, f"{total:,}"
            )
            batches = spool.read(run_key)

        def resumed(source: Iterable[Batch]) -> Iterator[Batch]:
            nonlocal resumed_count
            for batch in source:
                if notes and checkpoint is not None:
                    key = batch.key
                    if key in checkpoint and key in notes:
                        count, by_code = notes[key]
                        resumed_count += count
                        resumed_failed.update(by_code)
                yield batch

        def send_one(batch: Batch) -> Any:
            outcome = api.send(batch)
            with lock:
                totals.add(outcome)
            if outcome.failed:
                if checkpoint is not None:
                    checkpoint.ack(failure_note(batch.key, outcome))
                if letters is not None:
                    letters.failed(batch.index, outcome, api.records_sent(batch.body))
            return outcome.acknowledged

        sender: BatchSender[Batch] = BatchSender(
            send_one,
            max_concurrency=options.max_concurrency,
            checkpoint=checkpoint,
            progress_interval=options.progress_interval,
            rate_limited=(lambda: api.counters().get("rate_limited", 0)) if api.adapts_concurrency else None,
            logger=logger,
            name=api.batch_name,
        )
        try:
            stats = sender.send(resumed(batches))
        finally:
            after = api.counters()
            summary.retries = after.get("retries", 0) - before.get("retries", 0)
            summary.rate_limited = after.get("rate_limited", 0) - before.get("rate_limited", 0)
    summary.records_sent = stats.records
    summary.requests = stats.requests
    summary.bytes_sent = stats.bytes
    summary.records_resumed = stats.records_skipped
    summary.batches_resumed = stats.batches_skipped
    summary.max_in_flight = stats.max_in_flight
    summary.min_concurrency = stats.min_concurrency
    summary.unacknowledged_batches = len(stats.mismatched)
    summary.records_accepted = totals.accepted
    summary.records_failed = totals.failed + resumed_count
    summary.failed_by_code = dict(totals.by_code + resumed_failed)
    summary.records_invalid = encoded.invalid
    summary.invalid_by_code = dict(encoded.invalid_by_code)
    summary.seconds = time.monotonic() - started
    if stats.seconds > 0 and stats.requests > 1:
        summary.requests_per_second = stats.requests / stats.seconds
    if encoded.invalid and options.on_invalid != "fail":
        verb = "Wrote" if options.on_invalid == "dead_letter" else "Skipped"
        where = f" to {shown}" if options.on_invalid == "dead_letter" else ""
        logger.warning(
            "%s %d %s%s; first errors:\n%s",
            verb,
            encoded.invalid,
            api.invalid,
            where,
            "\n".join(f"  {e}" for e in encoded.errors),
        )
    if resumed_count:
        logger.warning(
            "%d failed %s are in requests an earlier try sent (their details are in that try's log, "
            "dead letter file, and the table's _failed_rows)",
            resumed_count,
            api.records,
        )
    if stats.mismatched:
        logger.error("%s %s:\n%s", api.loaded, api.target, summary.as_table())
        raise PeakAcknowledgementError(api.table_name, stats.mismatched)
    if summary.records_failed and options.on_invalid == "fail":
        totals.failed += resumed_count
        totals.by_code.update(resumed_failed)
        logger.error("%s %s:\n%s", api.loaded, api.target, summary.as_table())
        error = totals.error()
        assert error is not None
        raise error
    if totals.failed and options.on_invalid == "skip":
        logger.warning(
            "Peak %s %d %s; they are not loaded. First errors:\n%s",
            "would reject" if options.dry_run else "rejected",
            totals.failed,
            api.records,
            "\n".join(f"  {line}" for line in totals.examples),
        )
    return summary


def ingest_records(
    sink: BatchSink,
    schema: TableSchema,
    records: Iterable[Any],
    options: IngestOptions,
    *,
    checkpoint: Checkpoint | None = None,
    logger: logging.Logger | None = None,
) -> IngestSummary:
    """The pipeline for one v1 table (``apis.v1``), with decided options (``IngestOptions.within``).

    Raises ``RecordValidationError`` (nothing sent) when ``on_invalid="fail"`` and any record is
    invalid, and ``PeakAcknowledgementError`` after sending everything when Peak acknowledged other
    record counts than were sent.
    """
    summary = IngestSummary(table=schema.name, dead_letter_path=options.dead_letter_path)
    load(V1Api(sink, schema), records, options, summary, checkpoint=checkpoint, logger=logger)
    return summary

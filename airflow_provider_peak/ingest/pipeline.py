"""Validate, pack and send any number of records to one Peak table: one pipeline for every API.

The pipeline behind ``PeakHook.load_records`` and ``PeakV2Hook.load_rows`` (which the ingest
operators, the REST feed's ``PeakTableDestination`` and ``@task`` code call):

1. every record is validated and encoded against the table's schema, with the API's rules
   (``validation``);
2. valid records are packed into compliant request bodies (``batching``), wrapped as the API
   wants them;
3. batches an earlier try of the task run sent and Peak acknowledged are skipped (``checkpoint``:
   the same position, the same fingerprint); a batch built differently is the input changing
   between tries (``on_changed_input``: ``warn`` sends it under its own batch id, ``fail`` stops
   before anything is sent);
4. the other batches are sent concurrently (``sender``) through the API's adapter (``apis.v1``,
   ``apis.v2``), and each acknowledgement is in the checkpoint before its request counts as done;
5. each reply is read: records the server refused (v2 reports them row by row; v1 applies a batch
   whole) are counted by code, noted in the checkpoint (so a retried task that skips their
   request still reports them) and, with ``dead_letter``, written to the dead-letter file.

``batch_id_column`` stamps each record with its batch's id (``Batch.batch_id``: the run, the
batch's position and its fingerprint), so a batch sent twice shows as one id holding the same
records twice, and an id never holds two different sets of records. The stamp is the pipeline's:
a dead letter holds the record as it was given, never the stamp.

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

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from typing import Any, Protocol

from airflow_provider_peak.errors import PeakAcknowledgementError, PeakChangedInputError, PeakConfigError
from airflow_provider_peak.ingest.apis.v1 import BatchSink, V1Api
from airflow_provider_peak.ingest.batching import Batch, EncodeAndPack
from airflow_provider_peak.ingest.checkpoint import Checkpoint, fingerprint
from airflow_provider_peak.ingest.dead_letters import DeadLetterWriter, LetterShape, open_text
from airflow_provider_peak.ingest.options import ON_CHANGED_INPUT, ON_INVALID, IngestOptions
from airflow_provider_peak.ingest.outcomes import IngestOutcome, LoadTotals
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.sender import BatchSender
from airflow_provider_peak.ingest.sources import shown_path
from airflow_provider_peak.ingest.spool import Spool
from airflow_provider_peak.ingest.summary import IngestSummary, LoadSummary, aligned_table
from airflow_provider_peak.ingest.validation import RecordEncoder

__all__ = [
    "ERROR_LIMIT",
    "ON_CHANGED_INPUT",
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

    def cancel(self) -> None:
        """Abandon the requests in flight and start no other (the task is ending)."""


class _BatchIds:
    """Stamps every record with its batch's ``batch_id`` (the same for the same records on every try
    of the run, another for other records).

    Records are encoded with a placeholder of the id's exact length, so packing sees each record's
    final size. The placeholder depends on the run alone, so a batch's body with placeholders is the
    same on every try: its fingerprint (part of the id, and what the checkpoint keeps) is taken
    there, then the placeholder is replaced by the id.
    """

    ID_LENGTH = len(Batch(0, b"", 0, 0, run_key="").batch_id)

    def __init__(self, column: str, run_key: str) -> None:
        self.column = column
        seed = hashlib.sha256(b"peak batch id placeholder\0" + run_key.encode("utf-8", "surrogatepass"))
        self.placeholder = seed.hexdigest()[: self.ID_LENGTH]
        self._encoded = self.placeholder.encode()

    def stamp(self, record: Any) -> Any:
        if isinstance(record, dict) and self.column not in record:
            return {**record, self.column: self.placeholder}
        return record

    def original(self, record: Any, stamped: str | None = None) -> Any:
        """``record`` as it was given: without the id the pipeline stamped on it (the placeholder,
        or ``stamped``, the id of its batch)."""
        if isinstance(record, dict) and record.get(self.column) in (self.placeholder, stamped):
            return {k: v for k, v in record.items() if k != self.column}
        return record

    def apply(self, batch: Batch) -> Batch:
        batch.content = fingerprint(batch.body)
        batch.body = batch.body.replace(self._encoded, batch.batch_id.encode())
        return batch


class _Resume:
    """What earlier tries of the task run sent: batches Peak acknowledged are skipped (counted, and
    their failed records kept), batches built differently are reported once (``on_changed_input``).

    :param hold: with ``fail``, hold every batch up to the last acknowledged position (in
        ``spool``) until all of them were compared, so that nothing is sent when one differs.
    """

    def __init__(
        self, checkpoint: Checkpoint, options: IngestOptions, api: IngestApi, logger: logging.Logger
    ):
        self.checkpoint = checkpoint
        self.fail = options.on_changed_input == "fail"
        self.api = api
        self.log = logger
        self.batches = 0
        self.records = 0
        self.failed = 0
        self.failed_by_code: Counter[str] = Counter()
        self.changed = 0
        self.last = checkpoint.last_index

    def __call__(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        seen = -1
        for batch in batches:
            seen = batch.index
            ack = self.checkpoint.acked(batch.index)
            if ack is None:
                yield batch
                continue
            if ack.fingerprint == batch.fingerprint:
                self.batches += 1
                self.records += batch.count
                self.failed += ack.failed
                self.failed_by_code.update(ack.by_code)
                continue
            self.changed += 1
            if self.changed == 1:
                self._report(
                    batch.index,
                    f"{self._name(batch)} holds other records than the batch an earlier try sent at "
                    f"that position and Peak acknowledged (fingerprint {batch.fingerprint}, "
                    f"not {ack.fingerprint})",
                )
            yield batch
        if seen < self.last:
            self._report(
                seen + 1,
                f"this try built {seen + 1:,} batches; an earlier try had sent batch {self.last:,} and "
                "Peak acknowledged it",
            )

    def _name(self, batch: Batch) -> str:
        shown = self.api.batch_name(batch)
        first = f"records {batch.indices[0]:,}-{batch.indices[-1]:,}" if batch.indices else "no records"
        name = f"batch {shown}" if shown == str(batch.index) else f"batch {batch.index} (id {shown})"
        return f"{name}, {first} of this try's input,"

    def _report(self, index: int, detail: str) -> None:
        if self.fail:
            raise PeakChangedInputError(self.api.table_name, index, detail)
        self.log.warning(
            "The input of %s changed between tries of this task run: %s. The batches that differ are "
            "sent under their own batch ids; what the earlier try sent stays in Peak, so records may "
            "be there twice (on_changed_input='fail' stops such a retry before it sends anything)",
            self.api.target,
            detail,
        )

    def held(self, batches: Iterable[Batch], spool: Spool, run_key: str) -> Iterator[Batch]:
        """``batches``, the first ones (up to the last acknowledged position) only once every one
        of them was compared (read back from ``spool``)."""
        source = iter(batches)
        after: list[Batch] = []
        for batch in source:
            if batch.index > self.last:
                after.append(batch)
                break
            spool.write([batch])
        yield from spool.read(run_key)
        yield from after
        yield from source


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
    stamp = _BatchIds(options.batch_id_column, run_key) if options.batch_id_column else None
    resume = _Resume(checkpoint, options, api, logger) if checkpoint is not None and len(checkpoint) else None
    # The path as shown (credentials of an object-storage URL masked), in the summary and the log.
    shown = shown_path(options.dead_letter_path) if options.dead_letter_path else None
    summary.dead_letter_path = shown
    with ExitStack() as stack:
        letters = None
        rejected = None
        if options.on_invalid == "dead_letter":
            target = options.dead_letter_path or ""
            stream = stack.enter_context(open_text(target, options.dead_letter_conn_id))
            letters = DeadLetterWriter(stream, api.letters)
            rejected = letters.invalid
            if stamp is not None:
                writer = letters

                def rejected(index: int, record: Any, errors: Any) -> None:
                    writer.invalid(index, stamp.original(record), errors)

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
            on_rejected=rejected,
            window=options.pack_window,
            lenient=api.lenient if options.dry_run else None,
        )

        def finished(source: Iterable[Batch]) -> Iterator[Batch]:
            for batch in source:
                wrapped = api.wrap(batch)
                yield stamp.apply(wrapped) if stamp is not None else wrapped

        batches: Iterable[Batch] = finished(encoded)
        if resume is not None:
            batches = resume(batches)
        if options.on_invalid == "fail":
            # Validate everything before the first request: spool the batches, send after.
            spool = stack.enter_context(Spool())
            total = spool.write(batches)
            logger.info(
                "Validated %s %s into %s requests; sending", f"{encoded.records:,}", api.records, f"{total:,}"
            )
            batches = spool.read(run_key)
        elif resume is not None and resume.fail:
            # Compare every batch an earlier try sent before sending any.
            batches = resume.held(batches, stack.enter_context(Spool()), run_key)

        def send_one(batch: Batch) -> Any:
            outcome = api.send(batch)
            if checkpoint is not None:
                # Stored before the request counts as done: a kill now leaves it known, not in doubt.
                checkpoint.ack(
                    batch.index, batch.fingerprint, failed=len(outcome.failed), by_code=outcome.by_code
                )
            with lock:
                totals.add(outcome)
            if outcome.failed and letters is not None:
                sent = api.records_sent(batch.body)
                if sent is not None and stamp is not None:
                    sent = [stamp.original(record, batch.batch_id) for record in sent]
                letters.failed(batch.index, outcome, sent)
            return outcome.acknowledged

        sender: BatchSender[Batch] = BatchSender(
            send_one,
            max_concurrency=options.max_concurrency,
            cancel=api.cancel,
            progress_interval=options.progress_interval,
            rate_limited=(lambda: api.counters().get("rate_limited", 0)) if api.adapts_concurrency else None,
            logger=logger,
            name=api.batch_name,
        )
        try:
            stats = sender.send(batches)
        finally:
            summary.dead_letters = letters.written if letters is not None else 0
            after = api.counters()
            summary.retries = after.get("retries", 0) - before.get("retries", 0)
            summary.rate_limited = after.get("rate_limited", 0) - before.get("rate_limited", 0)
            if checkpoint is not None:
                summary.checkpoint_writes = checkpoint.writes
                summary.checkpoint_seconds = checkpoint.write_seconds
    resumed_count = resume.failed if resume is not None else 0
    resumed_failed: Counter[str] = resume.failed_by_code if resume is not None else Counter()
    summary.records_sent = stats.records
    summary.requests = stats.requests
    summary.bytes_sent = stats.bytes
    summary.records_resumed = resume.records if resume is not None else 0
    summary.batches_resumed = resume.batches if resume is not None else 0
    summary.batches_changed = resume.changed if resume is not None else 0
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

"""Load any number of rows into one v2 solution table: check, pack, send (paced), count outcomes.

The pipeline behind ``PeakV2Hook.load_rows`` (which ``PeakSolutionIngestOperator`` calls), the v2
counterpart of ``ingest.pipeline``:

1. each row is checked and encoded against the solution table (``rows.RowValidator``); a row the
   schema rejects is *invalid* and follows ``on_invalid``;
2. encoded rows are packed in input order into bodies of at most ``max_rows`` rows and
   ``max_bytes`` bytes as sent (``body.pack_requests``);
3. requests go out concurrently through ``sender.BatchSender``; the sink paces every start at the
   tenant's request rate and retries; requests an earlier try of the task run had acknowledged are
   skipped (the checkpoint);
4. each reply's ``failed`` rows are added up by code (``reply.LoadTotals``) and, with
   ``dead_letter``, written with their codes and messages.

v2 is not all-or-nothing: a request's good rows are written even when others fail, so a request
is acknowledged (checkpointed) on any 200, together with a note of its failed rows, so that a
retried task still reports them. ``on_invalid``:

* ``fail``: every row is checked before the first request (requests are spooled to a temporary
  file): ``RowValidationError`` and nothing sent if the schema rejects one. Rows the server
  rejects fail the load *after* sending (``PeakRowsFailedError``; the other rows stay accepted).
* ``skip``: invalid rows are dropped and counted; the server's failures are counted and logged.
* ``dead_letter``: both are written to a JSONL file, one line per row with its errors.

A dry run sends every row JSON can carry with ``dryRun``, including rows the schema check rejects:
the server's own verdict is the preview. Nothing is written to Peak and nothing is checkpointed.
"""

from __future__ import annotations

import logging
import struct
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

from airflow_provider_peak.exceptions import (
    PeakAcknowledgementError,
    PeakConfigError,
    RowValidationError,
)
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.ingest.pipeline import ERROR_LIMIT, ON_INVALID, aligned_table, open_text
from airflow_provider_peak.ingest.record_errors import RecordError
from airflow_provider_peak.ingest.sender import BatchSender
from airflow_provider_peak.ingest.v2.body import RequestBody, V2Request, pack_requests
from airflow_provider_peak.ingest.v2.outcomes import DeadLetters, failure_note, read_failure_notes
from airflow_provider_peak.ingest.v2.reply import IngestOutcome, LoadTotals
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import SolutionTable
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire
from airflow_provider_peak.utils.checks import check_count, check_number

log = logging.getLogger(__name__)

#: Requests in flight a load asks for when it does not say; the pacer, not this, keeps the rate.
DEFAULT_MAX_CONCURRENCY = 16
MAX_CONCURRENCY = 100
_HEAD = struct.Struct("<QII")  # body length, row count, request index


class V2Sink(Protocol):
    """Where the pipeline sends requests: one solution table (``PeakV2Hook``'s sink)."""

    def send(self, request: V2Request) -> IngestOutcome:
        """Send one request (pacing and retries included) and read its reply."""

    def counters(self) -> Mapping[str, int]:
        """Requests, retries and 429 replies so far (the sink's transport's counts)."""


@dataclass(frozen=True)
class V2LoadOptions:
    """How rows are checked, packed and sent to a solution table.

    :param operation: ``upsert`` (on the primary key) or ``append``, any letter case.
    :param dry_run: send with ``dryRun``: the server validates, nothing is written.
    :param on_invalid: ``fail``, ``skip`` or ``dead_letter`` (see the module docstring).
    :param dead_letter_path: the JSONL file (local or object storage) of ``dead_letter``.
    :param max_rows: rows per request (default and ceiling: the connection's ``max_rows``).
    :param max_bytes: bytes per request body (default and ceiling: the connection's ``max_bytes``).
    :param max_concurrency: requests in flight at most (1..100); the request *rate* is paced.
    :param progress_interval: seconds between progress lines.
    """

    operation: Operation | str = Operation.UPSERT
    dry_run: bool = False
    on_invalid: str = "fail"
    dead_letter_path: str | None = None
    max_rows: int | None = None
    max_bytes: int | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    progress_interval: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation.parse(self.operation))
        if not isinstance(self.dry_run, bool):
            raise PeakConfigError(f"dry_run must be true or false, got {self.dry_run!r}")
        if self.on_invalid not in ON_INVALID:
            raise PeakConfigError(
                f"on_invalid must be one of {', '.join(ON_INVALID)}; got {self.on_invalid!r}"
            )
        if self.on_invalid == "dead_letter" and not self.dead_letter_path:
            raise PeakConfigError('on_invalid="dead_letter" needs dead_letter_path')
        for name in ("max_rows", "max_bytes"):
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name), minimum=1)
        check_count("max_concurrency", self.max_concurrency, minimum=1, maximum=MAX_CONCURRENCY)
        check_number("progress_interval", self.progress_interval, positive=True)

    def within(self, wire: V2Wire) -> V2LoadOptions:
        """These options with ``max_rows`` / ``max_bytes`` decided under the connection's limits."""

        def decide(name: str, value: int | None, ceiling: int) -> int:
            if value is not None and value > ceiling:
                raise PeakConfigError(
                    f"{name}={value:,} is above the peak_v2 connection's {name}={ceiling:,} (the API's "
                    f"limit): lower {name}, or raise the connection's {name} extra if the tenant allows more"
                )
            return ceiling if value is None else value

        return replace(
            self,
            max_rows=decide("max_rows", self.max_rows, wire.max_rows),
            max_bytes=decide("max_bytes", self.max_bytes, wire.max_bytes),
        )


@dataclass
class V2LoadSummary:
    """What a load did; returned to XCom as a dict.

    ``rows_accepted`` / ``rows_failed`` are the server's verdicts (in a dry run: what it *would*
    do); ``rows_invalid`` are rows the client's schema check kept back (or JSON cannot carry).
    Requests acknowledged by an earlier try are not sent again: their rows are ``rows_resumed``,
    and their failed rows (from the checkpoint's notes) are in ``rows_failed`` and the codes.
    """

    solution: str
    table: str
    operation: str
    dry_run: bool = False
    rows_sent: int = 0
    rows_accepted: int = 0
    rows_failed: int = 0
    rows_invalid: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    invalid_by_code: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    bytes_sent: int = 0
    requests_resumed: int = 0
    rows_resumed: int = 0
    retries: int = 0
    rate_limited: int = 0
    max_in_flight: int = 0
    #: Requests started per second while sending (``None`` for fewer than two requests).
    requests_per_second: float | None = None
    seconds: float = 0.0
    dead_letter_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["seconds"] = round(self.seconds, 3)
        if self.requests_per_second is not None:
            out["requests_per_second"] = round(self.requests_per_second, 2)
        out["rows_per_second"] = round(self.rows_sent / self.seconds) if self.seconds > 0 else None
        return out

    def as_table(self) -> str:
        """A short aligned table for the task log: counts first, then failed rows by code."""
        rows: list[tuple[str, Any]] = [
            (k.replace("_", " "), v)
            for k, v in self.as_dict().items()
            if not k.endswith("_by_code") and v is not None
        ]
        for title, counts in (("failed", self.failed_by_code), ("invalid", self.invalid_by_code)):
            for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]:
                rows.append((f"{title} {code or '(no code)'}", count))
        return aligned_table(rows)


# ----------------------------------------------------------------------------- spool
def _spool(requests: Iterable[V2Request], spool: IO[bytes]) -> int:
    count = 0
    for request in requests:
        spool.write(_HEAD.pack(len(request.body), len(request.rows), request.index))
        spool.write(array("q", request.rows).tobytes())
        spool.write(request.body)
        count += 1
    spool.seek(0)
    return count


def _unspool(spool: IO[bytes], total: int) -> Iterator[V2Request]:
    width = array("q").itemsize
    for _ in range(total):
        size, count, index = _HEAD.unpack(spool.read(_HEAD.size))
        rows = array("q")
        rows.frombytes(spool.read(count * width))
        yield V2Request(index, spool.read(size), tuple(rows))


# ----------------------------------------------------------------------------- the load
class _Rows:
    """Checks and encodes rows for packing, counting (and handing over) the invalid ones."""

    def __init__(
        self,
        table: SolutionTable | None,
        options: V2LoadOptions,
        wire: V2Wire,
        dead_letters: DeadLetters | None,
    ) -> None:
        self.validator = RowValidator(table, case_sensitive=wire.case_sensitive_keys)
        self.free = RowValidator(None) if options.dry_run else None
        self.dead_letters = dead_letters
        self.invalid = 0
        self.by_code: Counter[str] = Counter()
        self.errors: list[RecordError] = []

    def encode(self, rows: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
        for index, row in enumerate(rows):
            result = self.validator.encode(row, index)
            if isinstance(result, list) and self.free is not None:
                sendable = self.free.encode(row, index)  # a dry run lets the server judge
                result = sendable if isinstance(sendable, bytes) else result
            if isinstance(result, bytes):
                yield index, result
                continue
            self.invalid += 1
            self.by_code.update(dict.fromkeys(e.code or "" for e in result).keys())
            if len(self.errors) < ERROR_LIMIT:
                self.errors.extend(result[: ERROR_LIMIT - len(self.errors)])
            if self.dead_letters is not None:
                self.dead_letters.client(index, row, result)


def load_rows(
    sink: V2Sink,
    solution: str,
    table_name: str,
    table: SolutionTable | None,
    rows: Iterable[Any],
    options: V2LoadOptions,
    *,
    wire: V2Wire | None = None,
    checkpoint: Checkpoint | None = None,
    logger: logging.Logger | None = None,
) -> V2LoadSummary:
    """Run the pipeline (see the module docstring) with decided options (``V2LoadOptions.within``).

    :param table_name: the full table name sent to (``{prefix}{OBJECT}{suffix}``).
    :param table: its schema; ``None`` (or a table without columns) sends rows unchecked.
    :raises RowValidationError: (nothing sent) with ``on_invalid="fail"`` when the schema rejects a row.
    :raises PeakRowsFailedError: after sending, with ``on_invalid="fail"`` when the server rejected rows.
    :raises PeakAcknowledgementError: after sending, when a reply's counts do not add up to the rows sent.
    """
    if options.max_rows is None or options.max_bytes is None:
        raise PeakConfigError("load_rows needs decided limits: pass options.within(wire)")
    wire = wire or V2Wire()
    logger = logger or log
    operation = Operation.parse(options.operation)
    if options.dry_run:
        checkpoint = None  # a preview is sent whole every time, and writes nothing anywhere
    started = time.monotonic()
    summary = V2LoadSummary(
        solution, table_name, operation.value, options.dry_run, dead_letter_path=options.dead_letter_path
    )
    before = dict(sink.counters())
    totals = LoadTotals(dry_run=options.dry_run)
    lock = threading.Lock()
    notes = read_failure_notes(checkpoint.load()) if checkpoint is not None else {}
    resumed_failed: Counter[str] = Counter()
    resumed_count = 0
    with ExitStack() as stack:
        dead_letters = None
        if options.on_invalid == "dead_letter":
            dead_letters = DeadLetters(
                stack.enter_context(open_text(options.dead_letter_path or "")), wire.data_key
            )
        checked = _Rows(table, options, wire, dead_letters)
        body = RequestBody(solution, operation, dry_run=options.dry_run, wire=wire)
        requests: Iterable[V2Request] = pack_requests(
            checked.encode(rows), body, max_rows=options.max_rows, max_bytes=options.max_bytes, wire=wire
        )
        if options.on_invalid == "fail":
            # Check everything before the first request: spool the requests, send after.
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="peak-v2-spool-"))
            total = _spool(requests, spool)
            if checked.invalid:
                raise RowValidationError(checked.errors, checked.invalid)
            logger.info("Checked the rows into %s requests; sending", f"{total:,}")
            requests = _unspool(spool, total)

        def resumed(source: Iterable[V2Request]) -> Iterator[V2Request]:
            nonlocal resumed_count
            for request in source:
                if checkpoint is not None and request.key in checkpoint and request.key in notes:
                    count, by_code = notes[request.key]
                    resumed_count += count
                    resumed_failed.update(by_code)
                yield request

        def send_one(request: V2Request) -> int:
            outcome = sink.send(request)
            with lock:
                totals.add(outcome)
            if outcome.failed:
                if checkpoint is not None:
                    checkpoint.ack(failure_note(request.key, outcome))
                if dead_letters is not None:
                    dead_letters.server(request, outcome)
            return outcome.accepted + len(outcome.failed)

        sender: BatchSender[V2Request] = BatchSender(
            send_one,
            max_concurrency=options.max_concurrency,
            checkpoint=checkpoint,
            progress_interval=options.progress_interval,
            rate_limited=None,  # the pacer reacts to 429s; halving the threads on top would only slow
            logger=logger,
        )
        try:
            stats = sender.send(resumed(requests))
        finally:
            after = sink.counters()
            summary.retries = after.get("retries", 0) - before.get("retries", 0)
            summary.rate_limited = after.get("rate_limited", 0) - before.get("rate_limited", 0)
    summary.rows_sent = stats.records
    summary.requests = stats.requests
    summary.bytes_sent = stats.bytes
    summary.requests_resumed = stats.batches_skipped
    summary.rows_resumed = stats.records_skipped
    summary.max_in_flight = stats.max_in_flight
    summary.rows_accepted = totals.accepted
    summary.rows_failed = totals.failed + resumed_count
    summary.failed_by_code = dict(totals.by_code + resumed_failed)
    summary.rows_invalid = checked.invalid
    summary.invalid_by_code = dict(checked.by_code)
    summary.seconds = time.monotonic() - started
    if stats.seconds > 0 and stats.requests > 1:
        summary.requests_per_second = stats.requests / stats.seconds
    if checked.invalid and options.on_invalid != "fail":
        verb = "Wrote" if options.on_invalid == "dead_letter" else "Skipped"
        where = f" to {options.dead_letter_path}" if options.on_invalid == "dead_letter" else ""
        logger.warning(
            "%s %d rows the solution schema rejects%s; first errors:\n%s",
            verb,
            checked.invalid,
            where,
            "\n".join(f"  {e}" for e in checked.errors),
        )
    if resumed_count:
        logger.warning(
            "%d failed rows are in requests an earlier try sent (their details are in that try's log, "
            "dead letter file, and the table's _failed_rows)",
            resumed_count,
        )
    if stats.mismatched:
        logger.error("Loaded into Peak solution table %s:\n%s", table_name, summary.as_table())
        raise PeakAcknowledgementError(table_name, stats.mismatched)
    if summary.rows_failed and options.on_invalid == "fail":
        totals.failed += resumed_count
        totals.by_code.update(resumed_failed)
        logger.error("Loaded into Peak solution table %s:\n%s", table_name, summary.as_table())
        error = totals.error()
        assert error is not None
        raise error
    if totals.failed and options.on_invalid == "skip":
        logger.warning(
            "Peak %s %d rows; they are not loaded. First errors:\n%s",
            "would reject" if options.dry_run else "rejected",
            totals.failed,
            "\n".join(f"  {line}" for line in totals.examples),
        )
    return summary

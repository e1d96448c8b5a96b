"""Send packed batches to Peak concurrently, never more than ``max_concurrency`` in flight.

Batches are pulled from an iterator only as fast as they are sent, so memory stays bounded
whatever the input size. The first failure stops new sends; requests already in flight finish
and their acknowledgements are kept in the checkpoint.

Concurrency adapts to the server (additive increase, multiplicative decrease): when Peak answers
429 (other clients share the tenant's 30 requests), the limit halves; each window of successful
requests without a 429 raises it by one, back up to ``max_concurrency``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_peak.ingest.checkpoint import Checkpoint, batch_key

log = logging.getLogger(__name__)

#: The API's tenant-wide limit; no single task may exceed it.
API_MAX_IN_FLIGHT = 30


class BatchLike(Protocol):
    index: int
    body: bytes
    count: int


B = TypeVar("B", bound=BatchLike)


@dataclass
class SendStats:
    """Order-independent totals of one send."""

    records: int = 0
    requests: int = 0
    bytes: int = 0
    batches_skipped: int = 0
    records_skipped: int = 0
    max_in_flight: int = 0
    min_concurrency: int = 0
    concurrency_decreases: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_lock", None)
        out["seconds"] = round(self.seconds, 3)
        return out


class BatchSender(Generic[B]):
    """Concurrent, checkpointed sending of batches through ``send_one(batch) -> records ingested``.

    :param send_one: sends one batch (``PeakHook.ingest`` with the table bound); retries are its job.
    :param max_concurrency: requests in flight at most (1..30).
    :param checkpoint: acknowledged batches are skipped and new acknowledgements recorded.
    :param progress_interval: seconds between progress log lines.
    :param rate_limited: returns how many 429 replies were seen so far (drives the adaptive limit).
    """

    def __init__(
        self,
        send_one: Callable[[B], int],
        *,
        max_concurrency: int = 8,
        checkpoint: Checkpoint | None = None,
        progress_interval: float = 10.0,
        rate_limited: Callable[[], int] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not 1 <= max_concurrency <= API_MAX_IN_FLIGHT:
            raise ValueError(f"max_concurrency must be 1..{API_MAX_IN_FLIGHT}, got {max_concurrency}")
        self.send_one = send_one
        self.max_concurrency = max_concurrency
        self.checkpoint = checkpoint
        self.progress_interval = progress_interval
        self.log = logger or log
        self.stats = SendStats(min_concurrency=max_concurrency)
        self._in_flight = 0
        self._rate_limited = rate_limited or (lambda: 0)
        self.limit = max_concurrency
        self._seen_429 = 0
        self._successes = 0

    def _adapt(self) -> None:
        """AIMD on the number of requests allowed in flight (called from the submitting thread)."""
        seen = self._rate_limited()
        if seen > self._seen_429:
            self._seen_429 = seen
            self._successes = 0
            if self.limit > 1:
                self.limit = max(1, self.limit // 2)
                self.stats.concurrency_decreases += 1
                self.stats.min_concurrency = min(self.stats.min_concurrency, self.limit)
                self.log.warning("Peak is rate limiting (429): concurrency lowered to %d", self.limit)
        elif self._successes >= self.limit and self.limit < self.max_concurrency:
            self._successes = 0
            self.limit += 1

    def _run(self, batch: B, key: str) -> None:
        stats = self.stats
        with stats._lock:
            self._in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, self._in_flight)
        try:
            self.send_one(batch)
        finally:
            with stats._lock:
                self._in_flight -= 1
        if self.checkpoint is not None:
            self.checkpoint.ack(key)
        with stats._lock:
            stats.records += batch.count
            stats.requests += 1
            stats.bytes += len(batch.body)

    def send(self, batches: Iterable[B]) -> SendStats:
        started = time.monotonic()
        next_report = started + self.progress_interval
        pending: set[Future[None]] = set()
        error: BaseException | None = None
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="peak-send") as pool:
            try:
                for batch in batches:
                    key = batch_key(batch.index, batch.body)
                    if self.checkpoint is not None and key in self.checkpoint:
                        self.stats.batches_skipped += 1
                        self.stats.records_skipped += batch.count
                        continue
                    while len(pending) >= self.limit:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        self._successes += len(done)
                        error = error or _first_error(done)
                        self._adapt()
                    if error is not None:
                        break
                    pending.add(pool.submit(self._run, batch, key))
                    if time.monotonic() >= next_report:
                        self._report(started)
                        next_report = time.monotonic() + self.progress_interval
            finally:
                # Let requests already in flight finish, so their acknowledgements are recorded.
                done, _ = wait(pending)
                error = error or _first_error(done)
        self.stats.seconds = time.monotonic() - started
        if error is not None:
            raise error
        return self.stats

    def _report(self, started: float) -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        self.log.info(
            "Sent %s records in %s requests (%.0f records/s)",
            f"{self.stats.records:,}",
            f"{self.stats.requests:,}",
            self.stats.records / elapsed,
        )


def _first_error(done: Iterable[Future[None]]) -> BaseException | None:
    for future in done:
        exc = future.exception()
        if exc is not None:
            return exc
    return None

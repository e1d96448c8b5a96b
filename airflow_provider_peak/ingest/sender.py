"""Send packed batches to Peak concurrently, never more than ``max_concurrency`` in flight.

Batches are pulled from an iterator only as fast as they are sent, so memory stays bounded
whatever the input size. The first failure stops new sends; requests already in flight finish
(``send_one`` records their acknowledgements). A request is in flight until ``send_one`` returns,
so a caller that stores each acknowledgement inside ``send_one`` bounds what a killed process
leaves in doubt to ``max_concurrency`` requests.

A deadline or a kill of the task (an exception that is not an ``Exception``: Airflow's
``AirflowTaskTimeout`` and ``AirflowTaskTerminated``, ``KeyboardInterrupt``, ``SystemExit``) calls
``cancel`` first: the transport abandons the requests in flight and starts no other, so the task
ends at once instead of when they would have finished their retries.

Concurrency adapts to the server (additive increase, multiplicative decrease): when Peak answers
429 (other clients share the tenant's 30 requests), the limit halves; each window of successful
requests without a 429 raises it by one, back up to ``max_concurrency``.

Every acknowledgement is checked: a 2xx whose record count differs from the batch, or cannot be
read, is recorded (the batch was applied as far as the server said, so it is checkpointed and never
sent again by the provider) and reported when the send ends; a reply without a count is trusted,
with one warning per send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_peak.transport.retry import RATE_LIMIT_DECREASE

log = logging.getLogger(__name__)

#: What ``send_one`` returns when the reply holds no record count.
NO_COUNT: Any = object()


class BatchLike(Protocol):
    # Read-only members, so that frozen dataclasses (v2's ``V2Request``) satisfy it.
    @property
    def index(self) -> int: ...

    @property
    def body(self) -> bytes: ...

    @property
    def count(self) -> int: ...


B = TypeVar("B", bound=BatchLike)


@dataclass
class SendStats:
    """Order-independent totals of one send."""

    records: int = 0
    requests: int = 0
    bytes: int = 0
    max_in_flight: int = 0
    min_concurrency: int = 0
    concurrency_decreases: int = 0
    seconds: float = 0.0
    #: Batches whose acknowledgement did not match: ``(batch id, records sent, acknowledged)``.
    mismatched: list[tuple[str, int, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_lock", None)
        out["mismatched"] = len(self.mismatched)
        out["seconds"] = round(self.seconds, 3)
        return out


class BatchSender(Generic[B]):
    """Concurrent sending of batches through ``send_one(batch) -> acknowledged count``.

    :param send_one: sends one batch and returns the count the server acknowledged (``NO_COUNT``
        when the reply has none); retries, and recording the acknowledgement, are its job.
    :param max_concurrency: requests in flight at most (the caller decides the ceiling).
    :param cancel: abandons the requests in flight and refuses new ones (the transport's); called
        when the task is ending (see the module docstring).
    :param progress_interval: seconds between progress log lines.
    :param rate_limited: returns how many 429 replies were seen so far (drives the adaptive limit).
    :param name: how an unacknowledged batch is named in the error (default: its ``batch_id``, else
        its index).
    """

    def __init__(
        self,
        send_one: Callable[[B], Any],
        *,
        max_concurrency: int = 8,
        cancel: Callable[[], None] | None = None,
        progress_interval: float = 10.0,
        rate_limited: Callable[[], int] | None = None,
        logger: logging.Logger | None = None,
        name: Callable[[B], str] | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        self.send_one = send_one
        self.max_concurrency = max_concurrency
        self.cancel = cancel
        self.progress_interval = progress_interval
        self.log = logger or log
        self.stats = SendStats(min_concurrency=max_concurrency)
        self._in_flight = 0
        # Set by the request that fails, before its future is done: the loop starts nothing more.
        self._failed = threading.Event()
        self._rate_limited = rate_limited or (lambda: 0)
        self.limit = max_concurrency
        self._seen_429 = 0
        self._successes = 0
        self._warned_no_count = False
        self._name: Callable[[B], str] = name or _batch_id

    def _adapt(self) -> None:
        """AIMD on the number of requests allowed in flight (called from the submitting thread)."""
        seen = self._rate_limited()
        if seen > self._seen_429:
            self._seen_429 = seen
            self._successes = 0
            if self.limit > 1:
                self.limit = max(1, int(self.limit * RATE_LIMIT_DECREASE))
                self.stats.concurrency_decreases += 1
                self.stats.min_concurrency = min(self.stats.min_concurrency, self.limit)
                self.log.warning("Peak is rate limiting (429): concurrency lowered to %d", self.limit)
        elif self._successes >= self.limit and self.limit < self.max_concurrency:
            self._successes = 0
            self.limit += 1

    def _run(self, batch: B) -> None:
        stats = self.stats
        with stats._lock:
            self._in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, self._in_flight)
        try:
            acknowledged = self.send_one(batch)
        except BaseException:
            self._failed.set()
            self.log.debug("The request of batch %s failed: no new request starts", self._name(batch))
            raise
        finally:
            with stats._lock:
                self._in_flight -= 1
        with stats._lock:
            stats.records += batch.count
            stats.requests += 1
            stats.bytes += len(batch.body)
            if acknowledged is NO_COUNT:
                warn, self._warned_no_count = not self._warned_no_count, True
            else:
                warn = False
                exact = isinstance(acknowledged, int) and not isinstance(acknowledged, bool)
                if not exact or acknowledged != batch.count:
                    stats.mismatched.append((self._name(batch), batch.count, acknowledged))
        if warn:
            self.log.warning(
                "Peak's ingest reply holds no record count; trusting that each 2xx applied its whole "
                "batch (set the peak connection's records_ingested_key extra if the count has another name)"
            )

    def send(self, batches: Iterable[B]) -> SendStats:
        started = time.monotonic()
        next_report = started + self.progress_interval
        pending: set[Future[None]] = set()
        error: BaseException | None = None
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="peak-send") as pool:
            try:
                for batch in batches:
                    # Requests that already ended, then (when the pool is full) the next to end: a
                    # failure stops new sends at once, not only when the pool next fills.
                    done = {future for future in pending if future.done()}
                    while True:
                        if done:
                            pending -= done
                            self._successes += len(done)
                            error = error or _first_error(done)
                            self._adapt()
                        if error is not None or len(pending) < self.limit:
                            break
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    if error is not None or self._failed.is_set():
                        break  # a failed request's error is raised below, once it is done
                    pending.add(pool.submit(self._run, batch))
                    if time.monotonic() >= next_report:
                        self._report(started)
                        next_report = time.monotonic() + self.progress_interval
            except Exception:
                raise
            except BaseException:
                # The task is ending (a deadline, a kill): abandon what is in flight, start nothing.
                if self.cancel is not None:
                    self.cancel()
                raise
            finally:
                # Let requests already in flight finish, so their acknowledgements are recorded
                # (once cancelled, they end at once).
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


def _batch_id(batch: Any) -> str:
    return str(getattr(batch, "batch_id", batch.index))


def _first_error(done: Iterable[Future[None]]) -> BaseException | None:
    for future in done:
        exc = future.exception()
        if exc is not None:
            return exc
    return None

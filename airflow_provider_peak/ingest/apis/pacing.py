"""The v2 adapter's pacing: request starts at the tenant's rate, slower when the server says 429.

Peak's v2 API limits a tenant to a number of requests *per second* (50), not to a number in
flight (as v1 does, where the sender adapts its concurrency instead), so a concurrency cap
cannot keep a load within it: fast replies let a few threads exceed any rate. ``RequestPacer``
is a token bucket in its virtual-scheduling form (GCRA): each ``acquire`` reserves the next start
time at least ``1 / rate`` after the previous one (a burst of ``burst`` may start together),
sleeps until then and returns it. So in any window of ``W``
seconds at most ``burst - 1 + ceil(W * ceiling)`` requests start, whatever the number of threads.

On a 429 (``on_rate_limited``) the pacer waits ``Retry-After`` before any new start, including
starts already reserved by waiting threads, and halves its rate; 429s of requests started before
that decrease do not halve it again, as they were paced at the old rate. Every
``recovery_interval`` of successes it climbs back by ``recovery_step`` of the ceiling. Time is
``time.monotonic`` unless a clock (and a matching sleep) is injected, as the tests do.

``stats.busiest_second`` counts the granted starts (on the pacer's clock) in the busiest one-second
window: the pacer's own account of the rate it let through, which a slow machine can only lower.
What a server sees also depends on when each request reaches it; ``benchmarks/`` measures that.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.transport.retry import RATE_LIMIT_DECREASE

_WINDOW = 1.0  # seconds: the window of ``PacerStats.busiest_second``
_EPSILON = 1e-9  # starts 1/rate apart add up with rounding errors; an exact second is not inside


@dataclass
class PacerStats:
    """Counters since the pacer was made."""

    granted: int = 0
    waited_seconds: float = 0.0
    rate_limited: int = 0
    decreases: int = 0
    pauses: int = 0
    lowest_rate: float = 0.0
    #: The most starts granted in any one-second window ``(t - 1, t]`` of the pacer's clock.
    busiest_second: int = 0

    def as_dict(self) -> dict[str, float]:
        out = asdict(self)
        out["waited_seconds"] = round(self.waited_seconds, 3)
        return out


def _positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise PeakConfigError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class RequestPacer:
    """A thread-safe token bucket for request starts (see the module docstring).

    :param rate: requests per second at most (the ceiling; the tenant's limit, or a share of it).
    :param burst: requests that may start at the same instant after an idle spell (1: none).
    :param min_rate: the rate never drops below this on 429s (default: ``rate / 50``, at most 1/s).
    :param decrease: the factor applied to the rate on a 429 (0 < decrease < 1).
    :param recovery_step: the fraction of the ceiling added back per ``recovery_interval`` of
        successes without a 429.
    :param max_retry_after: a longer ``Retry-After`` is capped to this many seconds.
    :param clock: a monotonic clock in seconds; ``sleep`` must advance it.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        min_rate: float | None = None,
        decrease: float = RATE_LIMIT_DECREASE,
        recovery_step: float = 0.1,
        recovery_interval: float = 1.0,
        max_retry_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ceiling = _positive("rate", rate)
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise PeakConfigError(f"burst must be a positive integer, got {burst!r}")
        self.burst = burst
        self.min_rate = _positive("min_rate", min_rate) if min_rate is not None else min(1.0, rate / 50)
        if self.min_rate > self.ceiling:
            raise PeakConfigError(f"min_rate {min_rate} is above rate {rate}")
        if not 0 < decrease < 1:
            raise PeakConfigError(f"decrease must be between 0 and 1, got {decrease!r}")
        self.decrease = decrease
        self.recovery_step = _positive("recovery_step", recovery_step)
        self.recovery_interval = _positive("recovery_interval", recovery_interval)
        self.max_retry_after = _positive("max_retry_after", max_retry_after)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._rate = self.ceiling
        # Burst tolerance in seconds, measured at the ceiling so that a lower rate never widens it.
        self._tolerance = (burst - 1) / self.ceiling
        now = clock()
        self._tat = now  # theoretical arrival time of the next request
        self._paused_until = now
        self._epoch = 0  # bumped by every pause: slots reserved before it are void
        self._last_decrease = -math.inf
        self._last_change = now
        self.stats = PacerStats(lowest_rate=self.ceiling)
        self._granted: list[float] = []  # granted starts, sorted, as far back as a window can reach
        self._reserved: list[float] = []  # starts reserved by threads still waiting for them

    @property
    def rate(self) -> float:
        """The current rate in requests per second."""
        with self._lock:
            return self._rate

    def _reserve(self, now: float) -> float:
        """Reserve the next start (lock held) and return it."""
        slot = max(now, self._tat - self._tolerance, self._paused_until)
        self._tat = max(self._tat, slot) + 1.0 / self._rate
        return slot

    def acquire(self) -> float:
        """Wait for this request's turn; return its reserved start time on the pacer's clock (pass
        it to ``on_success`` / ``on_rate_limited``)."""
        asked: float | None = None
        while True:
            with self._lock:
                now = self._clock()
                asked = now if asked is None else asked
                epoch = self._epoch
                slot = self._reserve(now)
                self._reserved.append(slot)
            if slot > now:
                try:
                    self._sleep(slot - now)
                except BaseException:  # a cancelled wait (the hook's sleep raises): no start
                    with self._lock:
                        self._reserved.remove(slot)
                    raise
            with self._lock:
                self._reserved.remove(slot)
                # A pause that began while this thread slept voids a slot that falls inside it.
                if self._epoch == epoch or slot >= self._paused_until:
                    self.stats.granted += 1
                    self.stats.waited_seconds += max(0.0, self._clock() - asked)
                    self._count_start(slot)
                    return slot

    def _count_start(self, slot: float) -> None:
        """Update ``stats.busiest_second`` with a granted start (lock held).

        Threads may take their grants slightly out of order, so the start goes in its place and
        every window ``(end - 1, end]`` that holds it is counted: those ending at it or at a later
        start less than a second after it.
        """
        granted = self._granted
        bisect.insort(granted, slot)
        ends = granted[
            bisect.bisect_left(granted, slot) : bisect.bisect_left(granted, slot + _WINDOW - _EPSILON)
        ]
        for end in ends:
            inside = bisect.bisect_right(granted, end) - bisect.bisect_right(
                granted, end - _WINDOW + _EPSILON
            )
            self.stats.busiest_second = max(self.stats.busiest_second, inside)
        # A window can still reach back a second before the earliest start a thread waits for.
        horizon = min([granted[-1], *self._reserved]) - _WINDOW
        if granted[0] < horizon - _WINDOW:  # trimmed now and then: amortised O(1) per start
            del granted[: bisect.bisect_right(granted, horizon)]

    def on_success(self, started: float | None = None) -> None:
        """A request that was not rate limited: the rate recovers step by step."""
        with self._lock:
            now = self._clock()
            if self._rate >= self.ceiling or now - self._last_change < self.recovery_interval:
                return
            if started is not None and started <= self._last_decrease:
                return  # sent before the last 429 was handled: says nothing about the new rate
            self._rate = min(self.ceiling, self._rate + self.recovery_step * self.ceiling)
            self._last_change = now

    def on_rate_limited(self, retry_after: float | None = None, started: float | None = None) -> None:
        """A 429: pause for ``retry_after`` seconds (capped), and lower the rate once per overload.

        :param started: the value ``acquire`` returned for the refused request; a request started
            before the last decrease does not lower the rate again.
        """
        with self._lock:
            now = self._clock()
            self.stats.rate_limited += 1
            if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
                until = now + min(retry_after, self.max_retry_after)
                if until > self._paused_until:
                    self._paused_until = until
                    self._tat = max(self._tat, until)
                    self._epoch += 1
                    self.stats.pauses += 1
            if started is not None and started <= self._last_decrease:
                return
            self._rate = max(self.min_rate, self._rate * self.decrease)
            self._last_decrease = now
            self._last_change = now
            self.stats.decreases += 1
            self.stats.lowest_rate = min(self.stats.lowest_rate, self._rate)

"""``RequestPacer``: starts never exceed the rate over any window, 429s pause and slow it down, and
it recovers step by step; on a fake clock, with real threads, and against the emulator over HTTP."""

from __future__ import annotations

import itertools
import math
import threading
import time
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.apis.pacing import RequestPacer
from peak_emulator import PeakEmulator
from peak_emulator.ingestion_v2 import IngestionV2Api


class FakeClock:
    """A clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.on_sleep: list[Any] = []  # callbacks run at the start of the next sleeps

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        if self.on_sleep:
            self.on_sleep.pop(0)()
        self.now += seconds


def pacer(rate: float = 50.0, **kwargs: Any) -> tuple[RequestPacer, FakeClock]:
    clock = FakeClock()
    return RequestPacer(rate, clock=clock, sleep=clock.sleep, **kwargs), clock


def most_in_a_window(starts: list[float], width: float) -> int:
    """The most starts in any half-open window [t, t + width)."""
    starts = sorted(starts)
    best, low = 0, 0
    for high, start in enumerate(starts):
        while starts[low] <= start - width + 1e-9:
            low += 1
        best = max(best, high - low + 1)
    return best


def bound(rate: float, burst: int, width: float) -> int:
    return burst - 1 + math.ceil(width * rate - 1e-9)


def test_back_to_back_requests_are_spaced_by_one_over_the_rate() -> None:
    p, clock = pacer(50)
    starts = [p.acquire() for _ in range(101)]
    assert starts[0] == 1000.0
    assert all(b - a == pytest.approx(0.02) for a, b in itertools.pairwise(starts))
    assert clock.now == pytest.approx(1002.0)
    assert most_in_a_window(starts, 1.0) == 50 == p.stats.busiest_second
    assert p.stats.granted == 101 and p.stats.waited_seconds == pytest.approx(2.0)


def test_a_burst_after_an_idle_spell_then_the_rate() -> None:
    p, clock = pacer(10, burst=4)
    clock.now += 60
    starts = [p.acquire() for _ in range(8)]
    assert starts[:4] == [starts[0]] * 4
    assert [round(s - starts[0], 6) for s in starts[4:]] == [0.1, 0.2, 0.3, 0.4]
    assert most_in_a_window(starts, 1.0) <= bound(10, 4, 1.0)


def test_a_429_halves_the_rate_once_per_overload() -> None:
    p, _ = pacer(40)
    early = [p.acquire() for _ in range(5)]
    for started in early:  # five refusals of requests paced at the old rate: one decrease
        p.on_rate_limited(None, started)
    assert (p.rate, p.stats.decreases, p.stats.rate_limited) == (20.0, 1, 5)
    later = p.acquire()
    p.on_rate_limited(None, later)
    assert p.rate == 10.0 and p.stats.lowest_rate == 10.0
    a, b = p.acquire(), p.acquire()
    assert b - a == pytest.approx(0.1)


def test_retry_after_pauses_every_new_start() -> None:
    p, clock = pacer(50)
    started = p.acquire()
    p.on_rate_limited(1.5, started)
    assert p.acquire() == pytest.approx(started + 1.5)
    p.on_rate_limited(3600, None)  # capped
    assert p.acquire() - clock.now == 0 and clock.now == pytest.approx(started + 1.5 + 60)
    for odd in (-1.0, 0.0, float("nan"), float("inf")):
        before = clock.now
        p.on_rate_limited(odd, None)
        assert p.acquire() - before < 1.1  # no pause, only slower
    assert p.stats.pauses == 2


def test_the_rate_recovers_step_by_step_and_not_below_the_floor() -> None:
    p, clock = pacer(50, min_rate=5)
    for _ in range(6):
        p.on_rate_limited(None, None)
    assert p.rate == 5.0  # floored
    old = clock.now - 1  # a request started before the decrease says nothing about the new rate
    clock.now += 2
    p.on_success(old)
    assert p.rate == 5.0
    rates = []
    for _ in range(12):
        clock.now += 0.5
        p.on_success(clock.now)
        rates.append(p.rate)
    assert rates == [10.0, 10.0, 15.0, 15.0, 20.0, 20.0, 25.0, 25.0, 30.0, 30.0, 35.0, 35.0]
    for _ in range(40):
        clock.now += 1
        p.on_success(clock.now)
    assert p.rate == 50.0  # never above the ceiling


def test_a_pause_voids_slots_reserved_by_waiting_requests() -> None:
    p, clock = pacer(10)
    first = p.acquire()
    # The next request waits 0.1 s for its slot; meanwhile a 429 asks for a 2 s pause.
    clock.on_sleep.append(lambda: p.on_rate_limited(2.0, first))
    second = p.acquire()
    assert second >= first + 2.0
    assert clock.now == second


def test_a_cancelled_wait_grants_nothing_and_holds_no_history_back() -> None:
    clock = FakeClock()

    def cancel(seconds: float) -> None:
        raise InterruptedError("the task is ending")

    p = RequestPacer(10, clock=clock, sleep=cancel)
    p.acquire()  # no wait: granted
    with pytest.raises(InterruptedError):
        p.acquire()  # would wait 0.1 s: cancelled
    assert p.stats.granted == 1 and p._reserved == []
    p._sleep = clock.sleep
    starts = [p.acquire() for _ in range(60)]
    assert p.stats.busiest_second == most_in_a_window(starts, 1.0) == 10
    assert len(p._granted) <= 3 * 10  # trimmed: about two seconds of starts at most


operations = st.lists(
    st.one_of(
        st.tuples(st.just("idle"), st.floats(0, 3)),
        st.tuples(st.just("acquire"), st.integers(1, 30)),
        st.tuples(st.just("429"), st.one_of(st.none(), st.floats(0, 5))),
        st.tuples(st.just("ok"), st.integers(1, 30)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    operations,
    st.floats(0.5, 200),
    st.integers(1, 5),
    st.sampled_from([0.05, 0.5, 1.0, 3.0]),
)
def test_starts_never_exceed_the_rate_over_any_window(
    ops: list[Any], rate: float, burst: int, width: float
) -> None:
    p, clock = pacer(rate, burst=burst)
    starts: list[float] = []
    pauses: list[tuple[float, float]] = []
    for op, arg in ops:
        if op == "idle":
            clock.now += arg
        elif op == "acquire":
            for _ in range(arg):
                slot = p.acquire()
                assert slot == clock.now  # the call returns at its start, not before
                starts.append(slot)
        elif op == "429":
            p.on_rate_limited(arg, starts[-1] if starts else None)
            if arg is not None and arg > 0:
                pauses.append((clock.now, clock.now + min(arg, 60.0)))
        else:
            for _ in range(arg):
                clock.now += 0.25
                p.on_success(clock.now)
        assert p.min_rate <= p.rate <= rate
    assert starts == sorted(starts)
    assert most_in_a_window(starts, width) <= bound(rate, burst, width)
    assert p.stats.busiest_second == most_in_a_window(starts, 1.0)  # the pacer's own count agrees
    for begin, end in pauses:
        assert not any(begin < s < end - 1e-9 for s in starts)


def test_threads_share_one_schedule() -> None:
    p = RequestPacer(200)
    starts: list[float] = []
    late: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            slot = p.acquire()
            returned = time.monotonic()
            with lock:
                starts.append(slot)
                late.append(returned - slot)

    threads = [threading.Thread(target=work) for _ in range(8)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert len(starts) == 160
    assert all(b - a >= 1 / 200 - 1e-9 for a, b in itertools.pairwise(starts))
    assert most_in_a_window(starts, 0.1) <= bound(200, 1, 0.1)
    assert p.stats.busiest_second == most_in_a_window(starts, 1.0) <= bound(200, 1, 1.0)
    assert min(late) >= 0  # nobody started before its slot
    assert time.monotonic() - began >= 159 / 200


def test_bad_settings() -> None:
    for kwargs, message in [
        ({"rate": 0}, "rate must be a positive number"),
        ({"rate": float("inf")}, "rate must be a positive number"),
        ({"rate": 5, "burst": 0}, "burst must be a positive integer"),
        ({"rate": 5, "min_rate": 10}, "min_rate 10 is above rate 5"),
        ({"rate": 5, "decrease": 1}, "decrease must be between 0 and 1"),
        ({"rate": 5, "recovery_step": -1}, "recovery_step must be a positive number"),
    ]:
        with pytest.raises(PeakConfigError, match=message):
            RequestPacer(**kwargs)


# ----------------------------------------------------------------------------- against the emulator
TOKEN = "pat-pacer"


@pytest.fixture
def limited() -> Any:
    api = IngestionV2Api(tokens={TOKEN: "pacer"})
    with PeakEmulator(api_keys=(), quiet=True, ingestion_v2=api) as emu:
        yield emu, api


def test_paced_threads_stay_under_the_tenant_rate(limited: Any) -> None:
    emu, api = limited
    p = RequestPacer(25)  # half the tenant's 50/s: room for a loaded machine's delays
    url = f"{emu.url}/api/v2/schema/solutions"
    statuses: list[int] = []

    def work() -> None:
        with requests.Session() as session:
            for _ in range(15):
                started = p.acquire()
                status = session.get(url, headers={"Authorization": TOKEN}, timeout=10).status_code
                statuses.append(status)
                p.on_success(started)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 60
    assert api.stats()["max_rate"] <= 50 and api.stats()["rate_limited"] == 0


def test_a_pacer_above_the_rate_adapts_to_429s(limited: Any) -> None:
    emu, api = limited
    api.set_rate_limit(20)
    p = RequestPacer(40)  # twice what the tenant may do
    url = f"{emu.url}/api/v2/schema/solutions"
    statuses: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        with requests.Session() as session:
            done = 0
            while done < 15:
                started = p.acquire()
                reply = session.get(url, headers={"Authorization": TOKEN}, timeout=10)
                with lock:
                    statuses.append(reply.status_code)
                if reply.status_code == 429:
                    p.on_rate_limited(float(reply.headers["Retry-After"]), started)
                    continue
                p.on_success(started)
                done += 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 60 and api.stats()["rate_limited"] == statuses.count(429)
    assert p.stats.rate_limited >= 1 and p.stats.pauses >= 1 and p.stats.lowest_rate <= 20
    assert statuses.count(429) <= 15  # it slowed down instead of hammering the tenant's limit

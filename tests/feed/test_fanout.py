"""FeedRuntime: a bounded fan-out (the fetch never runs far ahead), identical records, ordered commits."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_provider_peak.feed import Destination, FeedRuntime, RunInfo


class ListDestination(Destination):
    """A destination kept in a list: optionally slow, optionally failing after some records."""

    kind = "list"

    def __init__(self, name: str, delay: float = 0.0, fail_after: int | None = None, order: int = 50) -> None:
        self._name = name
        self.delay = delay
        self.fail_after = fail_after
        self.commit_order = order
        self.seen = 0
        self.committed: list[int] | None = None
        self.commit_log: list[str] | None = None

    @property
    def target(self) -> str:
        return self._name

    def load(self, records: Any, run: RunInfo) -> dict[str, Any]:
        staged: list[int] = []
        for chunk in records:
            time.sleep(self.delay)
            staged.extend(record["i"] for record in chunk)
            self.seen = len(staged)
            if self.fail_after is not None and self.seen >= self.fail_after:
                raise RuntimeError(f"{self._name} is full")
        records.wait_for_commit()
        self.committed = staged
        if self.commit_log is not None:
            self.commit_log.append(self._name)
        return {"records": len(staged)}


def test_a_slow_destination_holds_the_fetch_back_and_both_get_the_same_records():
    slow, fast = ListDestination("slow", delay=0.002), ListDestination("fast")
    runtime = FeedRuntime([slow, fast], RunInfo("orders"), chunk_size=10, max_chunks=2)
    lead = 0

    def fetch(stream):
        nonlocal lead
        for i in range(2_000):
            stream.write({"i": i})
            lead = max(lead, stream.count - slow.seen)

    result = runtime.run(fetch)
    assert result.records == 2_000
    assert slow.committed == fast.committed == list(range(2_000))
    # Queue (2 chunks) + the chunk the destination holds + the chunk being filled.
    assert lead <= 4 * 10


def test_a_failing_destination_stops_the_fetch_and_nobody_commits():
    healthy, failing = ListDestination("healthy"), ListDestination("failing", fail_after=300)
    runtime = FeedRuntime([healthy, failing], RunInfo("orders"), chunk_size=50, max_chunks=2)
    written = 0

    def fetch(stream):
        nonlocal written
        for i in range(100_000):
            stream.write({"i": i})
            written = stream.count

    with pytest.raises(RuntimeError, match="failing is full"):
        runtime.run(fetch)
    assert written < 1_000
    assert healthy.committed is None and failing.committed is None
    assert not [t for t in threading.enumerate() if t.name.startswith("peak-feed-")]


def test_commits_run_in_commit_order():
    log: list[str] = []
    late, early = ListDestination("late", order=50), ListDestination("early", order=10)
    late.commit_log = early.commit_log = log
    FeedRuntime([late, early], RunInfo("orders")).run(lambda stream: stream.write({"i": 1}))
    assert log == ["early", "late"]


def test_a_fetch_error_is_raised_as_it_is():
    destination = ListDestination("d")

    def fetch(stream):
        stream.write({"i": 1})
        raise KeyError("cursor")

    with pytest.raises(KeyError, match="cursor"):
        FeedRuntime([destination], RunInfo("orders")).run(fetch)
    assert destination.committed is None

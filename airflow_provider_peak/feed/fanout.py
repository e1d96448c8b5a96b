"""Run one fetch into several destinations: a bounded fan-out, then an ordered commit.

The fetch runs on the calling thread (so signals, time-outs and tracebacks behave as in any task);
each destination runs on its own thread and reads chunks from its own bounded queue. A slow
destination therefore slows the fetch down instead of letting records pile up in memory; every
destination receives the same chunks, in the same order.

When the fetch returns, the run waits until every destination has staged its records, then grants
the commit to each in ``commit_order`` and waits for it before the next, stopping at the first
failure. The caller commits the feed's state only after ``run`` returned.

When the task is ending (its ``execution_timeout`` passed, or it was killed: ``cancel``, or an
exception that is not an ``Exception`` reaching ``run``), every destination is told to stop at
once (``Destination.cancel``) before the run waits for their threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords, describe_counts
from airflow_provider_peak.feed.stream import DEFAULT_CHUNK_SIZE, FeedAborted, Fetch, OutputStream


@dataclass
class _Lane:
    destination: Destination
    records: StagedRecords
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None


@dataclass
class RunResult:
    """What a run delivered: records fetched, each destination's own counts, and the duration."""

    records: int
    destinations: dict[str, dict[str, Any]]
    seconds: float


class FeedRuntime:
    """Streams one fetch into ``destinations`` and commits them in order.

    :param destinations: where the records go (at least one).
    :param run: identity and logger of the run.
    :param chunk_size: records per chunk handed to the destinations.
    :param max_chunks: chunks queued per destination before the fetch waits.
    :param progress_interval: seconds between progress lines in the log.
    """

    def __init__(
        self,
        destinations: Sequence[Destination],
        run: RunInfo,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_chunks: int = 4,
        progress_interval: float = 30.0,
    ) -> None:
        if not destinations:
            raise PeakError("a feed run needs at least one destination")
        self.destinations = list(destinations)
        self.run_info = run
        self.chunk_size = chunk_size
        self.max_chunks = max_chunks
        self.progress_interval = progress_interval
        self._abort = threading.Event()
        #: The destinations that committed in the last ``run``, in commit order (a run that fails
        #: after the first commit cannot take those back).
        self.committed: list[str] = []

    @property
    def log(self) -> Any:
        return self.run_info.logger

    def run(self, fetch: Fetch) -> RunResult:
        """Run ``fetch`` with an ``OutputStream``; return when every destination has committed.

        Raises the fetch's own exception if it failed, else the first destination error; in both
        cases every destination has removed what it staged.
        """
        started = time.monotonic()
        self.committed = []
        lanes = [_Lane(d, StagedRecords(d.name, self._abort, self.max_chunks)) for d in self.destinations]
        for index, lane in enumerate(lanes):
            lane.thread = threading.Thread(
                target=self._work,
                args=(lane,),
                name=f"peak-feed-{index}-{lane.destination.kind}",
                daemon=True,
            )
            lane.thread.start()
        progress = _Progress(self.log, lanes, self.progress_interval)

        def sink(chunk: list[dict[str, Any]]) -> None:
            if self._abort.is_set():
                raise FeedAborted
            for lane in lanes:
                lane.records.put(chunk)
            progress.tick(stream.count)

        stream = OutputStream(sink, chunk_size=self.chunk_size)
        try:
            fetch(stream)
            stream.close()
            self.log.info(
                "Fetch finished: %s records; waiting for the destinations to stage them", f"{stream.count:,}"
            )
            for lane in lanes:
                lane.records.end()
            self._wait_staged(lanes)
            for lane in sorted(lanes, key=lambda item: item.destination.commit_order):
                lane.records.grant_commit()
                lane.done.wait()
                if lane.error is not None:
                    raise lane.error
                self.committed.append(lane.destination.name)
                self.log.info("%s committed: %s", lane.destination.name, describe_counts(lane.result or {}))
        except FeedAborted:
            self._stop(lanes)
            raise self._first_error(lanes) from None
        except Exception:
            self._stop(lanes)
            raise
        except BaseException:  # a deadline or a kill: the destinations stop sending at once
            self.cancel()
            self._stop(lanes)
            raise
        return RunResult(
            records=stream.count,
            destinations={lane.destination.name: dict(lane.result or {}) for lane in lanes},
            seconds=time.monotonic() - started,
        )

    def cancel(self) -> None:
        """The task is ending: abort the run and tell every destination to stop at once."""
        self._abort.set()
        for destination in self.destinations:
            try:
                destination.cancel()
            except Exception:
                self.log.exception("Stopping %s failed", destination.name)

    def _work(self, lane: _Lane) -> None:
        try:
            result = lane.destination.load(lane.records, self.run_info)
            if not lane.records.committing:
                raise PeakError(f"{lane.destination.name} returned without waiting for the commit")
            lane.result = result
        except FeedAborted:
            pass
        except BaseException as exc:
            lane.error = exc
            self._abort.set()
        finally:
            lane.done.set()

    def _wait_staged(self, lanes: list[_Lane]) -> None:
        while True:
            failed = next((lane for lane in lanes if lane.error is not None), None)
            if failed is not None:
                raise FeedAborted
            if all(lane.records.staged.is_set() or lane.done.is_set() for lane in lanes):
                return
            time.sleep(0.05)

    def _stop(self, lanes: list[_Lane]) -> None:
        self._abort.set()
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join()

    @staticmethod
    def _first_error(lanes: list[_Lane]) -> BaseException:
        for lane in lanes:
            if lane.error is not None:
                return lane.error
        return PeakError("the feed run was aborted")


class _Progress:
    def __init__(self, log: Any, lanes: list[_Lane], interval: float) -> None:
        self.log = log
        self.lanes = lanes
        self.interval = interval
        self.started = time.monotonic()
        self.next = self.started + interval

    def tick(self, count: int) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.interval
        rate = count / max(now - self.started, 1e-9)
        read = ", ".join(f"{lane.destination.name} {lane.records.records_read:,}" for lane in self.lanes)
        self.log.info("Fetched %s records (%.0f/s); received by destinations: %s", f"{count:,}", rate, read)

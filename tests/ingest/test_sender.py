"""``BatchSender``: what it sends, and when it stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from airflow_provider_peak.ingest.sender import BatchSender


@dataclass
class _Batch:
    index: int
    body: bytes
    count: int = 1


def test_a_failed_request_stops_new_sends_before_the_pool_fills() -> None:
    started: list[int] = []
    failed = threading.Event()

    def send_one(batch: _Batch) -> int:
        started.append(batch.index)
        if batch.index == 0:
            failed.set()
            raise RuntimeError("400 from Peak")
        return 1

    def batches() -> Iterator[_Batch]:
        # A producer slower than the failing request: batch 0 has failed before batch 1 is ready.
        for index in range(20):
            yield _Batch(index, b"[{}]")
            if index == 0:
                assert failed.wait(10)
                time.sleep(0.2)  # the worker thread finishes the future after raising

    with pytest.raises(RuntimeError, match="400 from Peak"):
        BatchSender(send_one, max_concurrency=8).send(batches())
    assert started == [0]

"""``BatchSender``: what it sends, and when it stops."""

from __future__ import annotations

import logging
import threading
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
    known = threading.Event()

    class _Failure(logging.Handler):  # the sender's own word that a request failed
        def emit(self, record: logging.LogRecord) -> None:
            if "failed" in record.getMessage():
                known.set()

    logger = logging.getLogger("tests.ingest.sender")
    logger.setLevel(logging.DEBUG)
    handler = _Failure()
    logger.addHandler(handler)

    def send_one(batch: _Batch) -> int:
        started.append(batch.index)
        if batch.index == 0:
            raise RuntimeError("400 from Peak")
        return 1

    def batches() -> Iterator[_Batch]:
        # A producer slower than the failing request: batch 0 has failed before batch 1 is ready.
        for index in range(20):
            yield _Batch(index, b"[{}]")
            if index == 0:
                assert known.wait(10)

    try:
        with pytest.raises(RuntimeError, match="400 from Peak"):
            BatchSender(send_one, max_concurrency=8, logger=logger).send(batches())
    finally:
        logger.removeHandler(handler)
    assert started == [0]

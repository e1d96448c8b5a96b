"""The deadline a task's wait hands to its trigger: ``timeout`` from now, or the end of the task's
``execution_timeout`` counted from the try's start, whichever comes first."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_peak.utils.task_run import wait_deadline


def _context(start_date: datetime | None) -> dict[str, object]:
    return {"ti": SimpleNamespace(start_date=start_date)}


def test_the_execution_timeout_counts_from_the_start_of_the_try():
    started = datetime.now(timezone.utc) - timedelta(seconds=50)
    end = wait_deadline(_context(started), timedelta(seconds=60), 3_600)
    assert end == pytest.approx(started.timestamp() + 60)


def test_the_timeout_when_it_ends_first():
    before = time.time()
    end = wait_deadline(_context(datetime.now(timezone.utc)), timedelta(hours=1), 30)
    assert before + 30 <= end <= time.time() + 30


@pytest.mark.parametrize("timeout", [math.inf, 120.0])
def test_a_try_without_a_start_date_counts_the_execution_timeout_from_now(timeout):
    # Airflow 2.11's dag.test() runs a task whose start date is not set: the deadline is still
    # finite (a deferral's timeout is made from it), not the infinite timeout of a task without one.
    before = time.time()
    end = wait_deadline(_context(None), timedelta(seconds=60), timeout)
    assert before + 60 <= end <= time.time() + 60

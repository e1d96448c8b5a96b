"""A task run's identity, defined once: what survives a retry, what names one try, and pool slots.

A *task run* is one task of one DAG run (one map index); its *tries* are Airflow's retries of it.
Checkpoints and feed state are keyed by the run (so a retry resumes), staging objects by the try
(so a retry never collides with what a killed try left behind).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

#: The pool that holds Peak's tenant-wide budget of 30 requests in flight (see "Running at scale").
PEAK_POOL = "peak_api"
#: The pool that holds a tenant's v2 request rate: one slot per request per second (50).
PEAK_V2_POOL = "peak_v2_api"


def claim_pool_slots(kwargs: dict[str, Any], requests_in_flight: int, *, pool: str = PEAK_POOL) -> None:
    """In the ``peak_api`` pool, a task takes one slot per request it may have in flight (in the
    ``peak_v2_api`` pool, one per request per second it may start)."""
    if kwargs.get("pool") == pool:
        kwargs.setdefault("pool_slots", requests_in_flight)


@dataclass(frozen=True)
class TaskRun:
    """Who is running: the task instance's identity, read from the task context.

    :param map_index: ``-1`` for a task that is not mapped (also when Airflow says ``None``).
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    try_number: int = 1

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskRun:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=getattr(ti, "run_id", None) or context.get("run_id") or "run",
            map_index=-1 if map_index is None else int(map_index),
            try_number=getattr(ti, "try_number", 1) or 1,
        )

    def key(self, *parts: str) -> str:
        """Identifies this task run across tries (not across runs or map indexes), e.g. for a checkpoint:
        ``dag/task/run/map_index/<parts>``."""
        return "/".join([self.dag_id, self.task_id, self.run_id, str(self.map_index), *parts])

    @property
    def try_token(self) -> str:
        """A short name of this try for staging objects: readable, unique per try, identifier-safe
        (``manual__2026-01-01`` -> ``manual_2026_01_01_c75f69c4_t1``)."""
        # The readable part is cut and sanitised, so run ids differing only after 32 characters or
        # in punctuation would share it; the hash of the whole run id keeps them apart.
        readable = re.sub(r"[^A-Za-z0-9]+", "_", self.run_id)[:32].strip("_")
        digest = hashlib.sha256(self.run_id.encode()).hexdigest()[:8]
        index = f"_m{self.map_index}" if self.map_index >= 0 else ""
        return f"{readable}_{digest}{index}_t{self.try_number}".lstrip("_")

    @property
    def earlier_try_tokens(self) -> tuple[str, ...]:
        """The ``try_token`` of every earlier try of this task run (what they may have left)."""
        return tuple(replace(self, try_number=number).try_token for number in range(1, self.try_number))


def wait_deadline(context: Mapping[str, Any], execution_timeout: timedelta | None, timeout: float) -> float:
    """The UNIX time a wait must end by: ``timeout`` seconds from now, or sooner when the task's
    ``execution_timeout``, counted from the start of this try, ends first.

    A deferrable task hands it to its trigger: Airflow does not apply ``execution_timeout`` to a
    deferred task on its own, so without it the remote work would outlive the task's time limit.
    """
    end = time.time() + timeout
    started = getattr(context.get("ti"), "start_date", None)
    if execution_timeout is not None and isinstance(started, datetime):
        end = min(end, started.timestamp() + execution_timeout.total_seconds())
    return end

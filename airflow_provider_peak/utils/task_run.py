"""A task run's identity, defined once: what survives a retry, what names one try, and pool slots.

A *task run* is one task of one DAG run (one map index); its *tries* are Airflow's retries of it.
Checkpoints and feed state are keyed by the run (so a retry resumes), staging objects by the try
(so a retry never collides with what a killed try left behind).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

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

    @property
    def digest(self) -> str:
        """This task run's name in the provider's Airflow Variables (``utils.task_run_store``): the
        first 24 hex digits of the SHA-256 of the JSON array ``[dag_id, task_id, run_id,
        map_index]``, which no two task runs share, whatever characters their ids hold."""
        identity = json.dumps([self.dag_id, self.task_id, self.run_id, self.map_index])
        return hashlib.sha256(identity.encode()).hexdigest()[:24]

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
    A try without a start date (Airflow 2.11's ``dag.test()`` runs tasks without one) counts it
    from now.
    """
    now = time.time()
    end = now + timeout
    if execution_timeout is not None:
        started = getattr(context.get("ti"), "start_date", None)
        start = started.timestamp() if isinstance(started, datetime) else now
        end = min(end, start + execution_timeout.total_seconds())
    return end


class RecordResumableJobMixin:
    """Airflow 3.3's ``ResumableJobMixin`` protocol for older Airflow, over the task run's store
    (``version_compat.task_run_store``: Airflow Variables there): a try after a crash reconnects
    to the remote job an earlier try started and stored, returns at once when that job succeeded,
    and starts a new one when it failed.

    Subclasses implement the mixin's methods: ``submit_job``, ``get_job_status``,
    ``is_job_active``, ``is_job_succeeded``, ``poll_until_complete``, ``get_job_result``.
    """

    external_id_key: str = "remote_job_id"

    def __init__(self, *, durable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.durable = durable

    def execute_resumable(self, context: Any) -> Any:
        job: Any = self
        if not self.durable:
            external_id = job.submit_job(context)
            job.poll_until_complete(external_id, context)
            return job.get_job_result(external_id, context)
        from airflow_provider_peak.version_compat import task_run_store

        store = task_run_store(context, namespace="")
        external_id = store.get(self.external_id_key)
        if external_id:
            status = job.get_job_status(external_id, context)
            if job.is_job_active(status):
                log.info("Reconnecting to the job %s an earlier try started (%s)", external_id, status)
                job.poll_until_complete(external_id, context)
                return job.get_job_result(external_id, context)
            if job.is_job_succeeded(status):
                log.info("The job %s an earlier try started has succeeded", external_id)
                return job.get_job_result(external_id, context)
            log.warning("The job %s an earlier try started ended %s: starting a new one", external_id, status)
        external_id = job.submit_job(context)
        if external_id is not None:
            store.set(self.external_id_key, external_id)
        job.poll_until_complete(external_id, context)
        return job.get_job_result(external_id, context)

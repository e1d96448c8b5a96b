"""Where a task run keeps its records (the checkpoints of its loads, the REST feed's delivered
run), and when they go: the one place the ingest operators, ``PeakHook``, ``PeakV2Hook`` and the
REST feed's Peak destination get them from.

* **Where**: the task run's store (``version_compat.task_run_store``, defined in
  ``utils.task_run_store``): Airflow's task state store of the task instance on Airflow 3.3+ (keys
  ``peak.*``, shared by every try), Airflow Variables (``peak_run__<digest of the task run>__*``)
  on Airflow 2.11 to 3.2. Both are Airflow's, so a retry on any worker reads them, and no file on
  a worker is needed.
* **When they go**: never while the task instance may be retried. Once Airflow has recorded its
  success, they are removed by the task's own process (an Airflow listener,
  ``version_compat.after_success``); on Airflow 3.3 with ``[state_store] clear_on_success`` the
  API server removes them in the same transaction instead, otherwise keys left behind (a process
  killed right after its success was recorded) expire after ``[state_store]
  default_retention_days``. A try that fails keeps them for the next.

``ingest.checkpoint`` holds what a checkpoint is; this module, how a task run has one.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.ingest.checkpoint import Checkpoint, RunRecords
from airflow_provider_peak.utils.task_run import TaskRun

__all__ = ["load_checkpoint", "task_records", "warn_checkpoint_dir"]

log = logging.getLogger(__name__)


def task_records(context: Mapping[str, Any]) -> RunRecords:
    """The records of the running task instance (see the module docstring); their removal once
    Airflow has recorded the task's success is arranged here."""
    from airflow_provider_peak.version_compat import after_success, task_run_store

    run = TaskRun.from_context(context)
    store = task_run_store(context)
    records = RunRecords(store, run.key())
    if not store.cleared_on_success:
        identity = (run.dag_id, run.task_id, run.run_id, run.map_index)
        after_success(identity, "remove the provider's records of the task run", records.remove)
    return records


def load_checkpoint(
    given: Checkpoint | None,
    context: Mapping[str, Any] | None,
    load: Sequence[str],
    **meta: Any,
) -> Checkpoint | None:
    """The checkpoint one load uses: ``given`` (the caller's); else, with a task ``context``, this
    task run's checkpoint of the load named by ``load``, loaded (it stays until Airflow has
    recorded the task's success: the load never removes it); else none."""
    if given is not None or context is None:
        return given
    return task_records(context).checkpoint("/".join(load), **meta)


def warn_checkpoint_dir(checkpoint_dir: str | None) -> None:
    """``checkpoint_dir`` had the local copy of a task run's checkpoint; it is kept in Airflow now."""
    if checkpoint_dir is not None:
        warnings.warn(
            "checkpoint_dir is no longer used: a task run's checkpoint is kept in Airflow (the task "
            "state store, or Variables before Airflow 3.3), where a retry on any worker reads it",
            DeprecationWarning,
            stacklevel=3,
        )

"""Where a task run keeps its records (the checkpoints of its loads, the REST feed's delivered
run), and when they go: the one place the ingest operators, ``PeakHook``, ``PeakV2Hook`` and the
REST feed's Peak destination get them from.

* **Where**: Airflow's task state store of the task instance on Airflow 3.3+ (keys ``peak.*``,
  scoped by Airflow to the DAG, run, task and map index, shared by every try), Airflow Variables
  (``peak_run__<hash of the task instance>__*``) on Airflow 2.11 to 3.2. Both are Airflow's, so a
  retry on any worker reads them, and no file on a worker is needed.
* **When they go**: never while the task instance may be retried. Once Airflow has recorded its
  success, they are removed by the task's own process (an Airflow listener,
  ``version_compat.after_success``); on Airflow 3.3 with ``[state_store] clear_on_success`` the
  API server removes them in the same transaction instead, otherwise keys left behind (a process
  killed right after its success was recorded) expire after ``[state_store]
  default_retention_days``. A try that fails keeps them for the next.

``ingest.checkpoint`` holds what a checkpoint is; this module, how a task run has one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.ingest.checkpoint import Checkpoint, RunRecords
from airflow_provider_peak.utils.task_run import TaskRun

__all__ = ["TaskStateStore", "VariableStore", "load_checkpoint", "task_records", "warn_checkpoint_dir"]

log = logging.getLogger(__name__)

#: What deleting a task run's records means, in every message that suggests it.
START_OVER = "To start the load over (every batch is sent again, and Peak may already hold some), "


def _scope(run: TaskRun) -> str:
    index = f", map index {run.map_index}" if run.map_index >= 0 else ""
    return f"task {run.dag_id}.{run.task_id}, run {run.run_id}{index}"


class TaskStateStore:
    """A task run's records in Airflow's task state store (Airflow 3.3+), under keys ``peak.*``."""

    PREFIX = "peak."

    def __init__(self, accessor: Any, run: TaskRun) -> None:
        self.accessor = accessor
        self.run = run

    def get(self, key: str) -> Any:
        return self.accessor.get(self.PREFIX + key)

    def set(self, key: str, value: Any) -> None:
        self.accessor.set(self.PREFIX + key, value)

    def delete(self, key: str) -> None:
        self.accessor.delete(self.PREFIX + key)

    def describe(self, key: str) -> str:
        return f"Airflow's task state store, key {self.PREFIX + key!r} of {_scope(self.run)}"

    @property
    def remedy(self) -> str:
        run = self.run
        return (
            f"{START_OVER}delete the task instance's state-store keys that start with {self.PREFIX!r} "
            f"(REST API: DELETE /api/v2/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/"
            f"{run.task_id}/state-store/<key>), then clear the task"
        )


class VariableStore:
    """A task run's records in Airflow Variables (Airflow 2.11 to 3.2): one Variable per key,
    named ``peak_run__<24 hex digits of the task instance>__<key>``, holding JSON."""

    def __init__(self, run: TaskRun) -> None:
        self.run = run
        self.prefix = f"peak_run__{hashlib.sha256(run.key().encode()).hexdigest()[:24]}__"

    def get(self, key: str) -> Any:
        from airflow_provider_peak.version_compat import Variable

        # The default goes positionally: it is ``default`` in the task SDK and ``default_var`` on 2.11.
        raw = Variable.get(self.prefix + key, None)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        from airflow_provider_peak.version_compat import Variable

        Variable.set(self.prefix + key, json.dumps(value, separators=(",", ":")))

    def delete(self, key: str) -> None:
        from airflow_provider_peak.version_compat import Variable

        Variable.delete(self.prefix + key)

    def describe(self, key: str) -> str:
        return f"Airflow Variable {self.prefix + key!r} ({_scope(self.run)})"

    @property
    def remedy(self) -> str:
        return (
            f"{START_OVER}delete the Airflow Variables whose names start with {self.prefix!r} "
            "(`airflow variables delete <name>`), then clear the task"
        )


def task_records(context: Mapping[str, Any]) -> RunRecords:
    """The records of the running task instance (see the module docstring); their removal once
    Airflow has recorded the task's success is arranged here."""
    from airflow_provider_peak.version_compat import (
        after_success,
        task_state_cleared_on_success,
        task_state_store,
    )

    run = TaskRun.from_context(context)
    accessor = task_state_store(context)
    store = TaskStateStore(accessor, run) if accessor is not None else VariableStore(run)
    records = RunRecords(store, run.key())
    if not (accessor is not None and task_state_cleared_on_success()):
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

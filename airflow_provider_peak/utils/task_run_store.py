"""Where a task run keeps what survives its retries: the one store behind the ingest checkpoints,
the REST feed's record of a delivered run and ``PeakRunWorkflowOperator``'s run id.

``version_compat.task_run_store(context)`` chooses it (the only place that does):

* ``TaskStateStore``: Airflow's task state store of the task instance (Airflow 3.3+), scoped by
  Airflow to the DAG, run, task and map index and shared by every try; keys ``<namespace><key>``.
* ``VariableStore``: Airflow Variables (Airflow 2.11 to 3.2), one per key, holding JSON, named
  ``peak_run__<digest>__<key>``, where the digest is ``TaskRun.digest``: the first 24 hex digits of
  the SHA-256 of the JSON array ``[dag_id, task_id, run_id, map_index]``, so no two task runs
  share a name whatever their ids contain.

Both are Airflow's, so a retry on any worker reads them. ``VariableStore`` also reads what earlier
versions wrote (see ``VariableStore``), so a retry after an upgrade finds it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from typing import Any, cast

from airflow_provider_peak.utils.task_run import TaskRun

__all__ = ["START_OVER", "TaskStateStore", "VariableStore", "forget_on_success"]

#: The keys of the workflow's Variable of earlier versions that are moved (what they wrote).
_LEGACY_KEY = re.compile(r"[A-Za-z0-9._-]{1,100}\Z")

#: What deleting a task run's records means, in every message that suggests it.
START_OVER = "To start the load over (every batch is sent again, and Peak may already hold some), "


def _scope(run: TaskRun) -> str:
    index = f", map index {run.map_index}" if run.map_index >= 0 else ""
    return f"task {run.dag_id}.{run.task_id}, run {run.run_id}{index}"


class TaskStateStore:
    """A task run's values in Airflow's task state store (Airflow 3.3+), under keys
    ``<namespace><key>`` (``peak.`` for the provider's records; none for the keys Airflow's
    ``ResumableJobMixin`` reads itself)."""

    def __init__(self, accessor: Any, run: TaskRun, namespace: str = "peak.") -> None:
        self.accessor = accessor
        self.run = run
        self.namespace = namespace

    @property
    def cleared_on_success(self) -> bool:
        """Whether Airflow removes these keys itself when it records the task's success."""
        from airflow_provider_peak.version_compat import task_state_cleared_on_success

        return task_state_cleared_on_success()

    def get(self, key: str, default: Any = None) -> Any:
        value = self.accessor.get(self.namespace + key)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self.accessor.set(self.namespace + key, value)

    def delete(self, key: str) -> None:
        self.accessor.delete(self.namespace + key)

    def describe(self, key: str) -> str:
        return f"Airflow's task state store, key {self.namespace + key!r} of {_scope(self.run)}"

    @property
    def remedy(self) -> str:
        run = self.run
        return (
            f"{START_OVER}delete the task instance's state-store keys that start with "
            f"{self.namespace!r} (REST API: DELETE /api/v2/dags/{run.dag_id}/dagRuns/{run.run_id}/"
            f"taskInstances/{run.task_id}/state-store/<key>), then clear the task"
        )


class VariableStore:
    """A task run's values in Airflow Variables (Airflow 2.11 to 3.2): one Variable per key, named
    ``peak_run__<TaskRun.digest>__<key>``, holding JSON.

    **What earlier versions wrote is read.** Before this layout, the ingest checkpoints named their
    Variables after a digest of ``dag/task/run/map_index`` (ambiguous when an id holds ``/``), and
    ``PeakRunWorkflowOperator`` kept one JSON object per task run in ``peak_task_run/<digest>``.
    The first use of a store looks for both, once: the workflow's object is copied key by key
    (where the new key is absent) and deleted; while the old checkpoint records exist, a key
    missing under the new name is read under the old one, and deleting a key deletes both (their
    index goes last, once the task run succeeded). A task run that has neither pays two reads.
    """

    PREFIX = "peak_run__"
    #: The workflow's Variable of earlier versions (read as described above).
    LEGACY_RECORD = "peak_task_run/"

    cleared_on_success = False

    def __init__(self, run: TaskRun) -> None:
        self.run = run
        self.prefix = f"{self.PREFIX}{run.digest}__"
        legacy = hashlib.sha256(run.key().encode()).hexdigest()
        self._legacy_prefix = f"{self.PREFIX}{legacy[:24]}__"
        self._legacy_record = f"{self.LEGACY_RECORD}{legacy[:32]}"
        self._lock = threading.Lock()
        self._looked: bool = False
        self._legacy_keys = False

    def get(self, key: str, default: Any = None) -> Any:
        self._read_legacy()
        raw = _variable_get(self.prefix + key)
        if raw is None and self._legacy_keys:
            raw = _variable_get(self._legacy_prefix + key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        from airflow_provider_peak.version_compat import Variable

        if value is None:  # as Airflow's task state store: ``get`` says None for a key not there
            raise ValueError("Cannot set value as None")
        self._read_legacy()
        Variable.set(self.prefix + key, json.dumps(value, separators=(",", ":")))

    def delete(self, key: str) -> None:
        from airflow_provider_peak.version_compat import Variable

        self._read_legacy()
        Variable.delete(self.prefix + key)
        if self._legacy_keys:
            Variable.delete(self._legacy_prefix + key)

    def describe(self, key: str) -> str:
        return f"Airflow Variable {self.prefix + key!r} ({_scope(self.run)})"

    @property
    def remedy(self) -> str:
        legacy = f" (and {self._legacy_prefix!r}, an earlier version's)" if self._legacy_keys else ""
        return (
            f"{START_OVER}delete the Airflow Variables whose names start with {self.prefix!r}{legacy} "
            "(`airflow variables delete <name>`), then clear the task"
        )

    def _read_legacy(self) -> None:
        """Look for what earlier versions wrote for this task run, once per store."""
        if self._looked:  # every later call: no lock on the checkpoint's write path
            return
        with self._lock:
            if self._looked:
                return
            # The old checkpoint records always include their index: it is written first.
            self._legacy_keys = _variable_get(self._legacy_prefix + "index") is not None
            raw = _variable_get(self._legacy_record)
            if raw is not None:
                from airflow_provider_peak.version_compat import Variable

                values = json.loads(raw) if raw else {}
                for key, value in (values if isinstance(values, dict) else {}).items():
                    if not _LEGACY_KEY.match(key) or value is None:  # not a key the provider wrote
                        continue
                    if _variable_get(self.prefix + key) is None:
                        Variable.set(self.prefix + key, json.dumps(value, separators=(",", ":")))
                Variable.delete(self._legacy_record)
            self._looked = True  # last: another thread must not read before the move is done


def forget_on_success(context: Mapping[str, Any], store: Any, name: str, *keys: str) -> None:
    """Delete ``keys`` from ``store`` once Airflow has recorded the task's success, so that a later
    clear of the task starts over. Not before: a worker that dies between the work's end and that
    record leaves a retry that must find what was done, not do it again. Nothing to do without a
    store, or where Airflow clears it itself (``cleared_on_success``). ``name`` says what is
    forgotten (a later call with the same name in the same try replaces the earlier one)."""
    if store is None or store.cleared_on_success:
        return
    from airflow_provider_peak.version_compat import after_success

    def forget() -> None:
        for key in keys:
            store.delete(key)

    run = TaskRun.from_context(context)
    after_success((run.dag_id, run.task_id, run.run_id, run.map_index), name, forget)


def _variable_get(name: str) -> str | None:
    from airflow_provider_peak.version_compat import Variable

    # The default goes positionally: it is ``default`` in the task SDK and ``default_var`` on 2.11.
    return cast("str | None", Variable.get(name, None))

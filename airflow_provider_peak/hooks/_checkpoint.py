"""The checkpoint of a hook's load within a task run: where ``PeakHook`` and ``PeakV2Hook`` get
theirs (``ingest.checkpoint`` holds what a checkpoint is; this, how a task run has one).

Inside a task a checkpoint is mirrored to an Airflow Variable, so that a retry on another worker
resumes too; it is keyed by the task run (``utils.task_run.TaskRun``) and the load within it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.utils.task_run import TaskRun

__all__ = ["VariableMirror", "load_checkpoint", "task_checkpoint"]

log = logging.getLogger(__name__)


class VariableMirror:
    """A checkpoint's copy in an Airflow Variable, so a retry on another worker resumes too."""

    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> set[str]:
        from airflow_provider_peak.version_compat import Variable

        raw = Variable.get(self.key, None)
        return set(json.loads(raw)["acked"]) if raw else set()

    def save(self, acked: set[str], meta: dict[str, Any]) -> None:
        from airflow_provider_peak.version_compat import Variable

        Variable.set(self.key, json.dumps({**meta, "acked": sorted(acked)}))

    def delete(self) -> None:
        from airflow_provider_peak.version_compat import Variable

        Variable.delete(self.key)


def task_checkpoint(
    run_key: str, *, in_task: bool = True, directory: str | None = None, **meta: Any
) -> Checkpoint:
    """The checkpoint of one task run's load, loaded; inside a task it is mirrored to a Variable, so
    a retry on another worker resumes too."""
    mirror = VariableMirror(Checkpoint.variable_key(run_key)) if in_task else None
    checkpoint = Checkpoint(run_key, directory=directory, mirror=mirror, meta=meta)
    if checkpoint.load():
        log.info("Resuming: requests acknowledged by an earlier try of this run are skipped")
    return checkpoint


@contextmanager
def load_checkpoint(
    given: Checkpoint | None,
    context: Mapping[str, Any] | None,
    key: Sequence[str],
    *,
    directory: str | None = None,
    **meta: Any,
) -> Iterator[Checkpoint | None]:
    """The checkpoint one load uses: ``given`` (the caller's to close); else, with a task
    ``context``, this task run's (``key`` names the load within it), closed here and removed once
    the load succeeded; else none."""
    if given is not None or context is None:
        yield given
        return
    checkpoint = task_checkpoint(TaskRun.from_context(context).key(*key), directory=directory, **meta)
    success = False
    try:
        yield checkpoint
        success = True
    finally:
        checkpoint.close(success=success)

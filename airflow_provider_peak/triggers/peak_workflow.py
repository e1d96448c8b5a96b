"""Triggers of Peak workflow runs: wait for one run to end (``PeakWorkflowRunTrigger``, for
deferrable tasks), and fire once per new run of a workflow (``PeakWorkflowExecutionTrigger``, an
event trigger for an ``AssetWatcher``: DAGs scheduled on "Peak workflow X succeeded").

Both poll with the transport's non-blocking client (httpx) and its retries; a poll that still
fails with a 5xx or a network error is tolerated a bounded number of times in a row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook, is_transient
from airflow_provider_peak.models.peak_workflow import SUCCESS, check_status, iso, still_running
from airflow_provider_peak.utils.redaction import safe_text
from airflow_provider_peak.version_compat import (
    HAS_EVENT_TRIGGERS,
    BaseEventTrigger,
    BaseTrigger,
    TriggerEvent,
)

#: Polls in a row that may fail with a 5xx or a network error before the trigger gives up.
MAX_POLL_FAILURES = 5
#: Run ids an event trigger remembers (the newest), to fire once per run.
SEEN_LIMIT = 10_000


class PeakWorkflowRunTrigger(BaseTrigger):
    """Poll a Peak workflow run until it ends, or until ``end_time``.

    Yields exactly one event ``{"status", "workflow_id", "execution_id", "run_status",
    "failed_steps", "message"}``: ``success`` when the run ended ``Success``, ``failed`` when it
    ended ``Failed`` or ``Stopped``, ``timeout`` at ``end_time`` (the task's deadline: its
    ``execution_timeout`` or ``timeout``, whichever is first; the run goes on in Peak), ``error``
    when the API cannot be used (after the transport's retries and ``max_poll_failures``
    transient failures in a row).

    :param workflow_id: the workflow.
    :param execution_id: the run.
    :param end_time: give up at this UNIX time.
    :param poll_interval: seconds between polls.
    :param peak_conn_id: the ``peak`` connection.
    :param max_poll_failures: polls in a row that may fail with a 5xx or a network error.
    """

    def __init__(
        self,
        *,
        workflow_id: str,
        execution_id: str,
        end_time: float,
        poll_interval: float = 30.0,
        peak_conn_id: str = PeakWorkflowHook.default_conn_name,
        max_poll_failures: int = MAX_POLL_FAILURES,
    ) -> None:
        super().__init__()
        self.workflow_id = str(workflow_id)
        self.execution_id = str(execution_id)
        self.end_time = float(end_time)
        self.poll_interval = float(poll_interval)
        self.peak_conn_id = peak_conn_id
        self.max_poll_failures = int(max_poll_failures)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "workflow_id": self.workflow_id,
                "execution_id": self.execution_id,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "peak_conn_id": self.peak_conn_id,
                "max_poll_failures": self.max_poll_failures,
            },
        )

    def _event(
        self, status: str, run_status: str | None, message: str, failed: list[str] | None = None
    ) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "workflow_id": self.workflow_id,
                "execution_id": self.execution_id,
                "run_status": run_status,
                "failed_steps": failed or [],
                "message": message,
            }
        )

    async def on_kill(self) -> None:
        """The task was killed while deferred (Airflow 3.3+): Peak has no call to stop the run."""
        self.log.warning("The task was killed: %s", still_running(self.execution_id, self.workflow_id))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = PeakWorkflowHook(self.peak_conn_id)
        failures, last = 0, None
        reported = False  # the triggerer cancels a trigger once it took its event: not a kill
        try:
            while True:
                try:
                    execution = await hook.aget_execution(self.workflow_id, self.execution_id)
                except Exception as exc:
                    failures += 1
                    if not is_transient(exc) or failures > self.max_poll_failures:
                        raise
                    self.log.warning(
                        "Peak workflow %s run %s: poll failed (%s)", self.workflow_id, self.execution_id, exc
                    )
                else:
                    failures, last = 0, execution.status
                    if execution.terminal:
                        status = "success" if execution.succeeded else "failed"
                        message = f"{execution.describe()} ended {execution.status}"
                        reported = True
                        yield self._event(status, execution.status, message, execution.failed_steps)
                        return
                    self.log.info("%s is %s", execution.describe(), execution.status)
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    message = f"still {last or 'unknown'} at the task's deadline. " + still_running(
                        self.execution_id, self.workflow_id
                    )
                    reported = True
                    yield self._event("timeout", last, message)
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
        except asyncio.CancelledError:
            if not reported:  # the triggerer is stopping, or the task was killed
                self.log.warning("Stopped waiting: %s", still_running(self.execution_id, self.workflow_id))
            raise
        except Exception as exc:  # the task decides what an unusable API means
            message = safe_text(f"{type(exc).__name__}: {exc}", secrets=hook._known_secrets())
            reported = True
            yield self._event("error", last, message)
        finally:
            await hook.aclose()


class PeakWorkflowExecutionTrigger(BaseEventTrigger):
    """Fire once per new run of a Peak workflow that ends in one of ``statuses`` (``Success`` by
    default): an event trigger for an ``AssetWatcher`` (Airflow 3 only), so a DAG can be scheduled
    on "Peak workflow X succeeded".

    Each event is ``{"workflow_id", "execution_id", "status", "executed_at", "finished_at",
    "failed_steps"}``, fired once per run id. The trigger watches runs started from the time it
    starts (less ``lookback`` seconds) on: after a triggerer restart it starts again from then, so
    a run that ended while no triggerer ran is not announced (none is announced twice by one
    trigger).

    :param workflow_id: the workflow.
    :param statuses: the statuses that fire (``Success``, ``Failed``, ``Stopped``).
    :param poll_interval: seconds between polls.
    :param lookback: how far before the trigger's start a run may have started (a run started
        before that is never announced).
    :param peak_conn_id: the ``peak`` connection.
    """

    def __init__(
        self,
        *,
        workflow_id: str,
        statuses: Sequence[str] = (SUCCESS,),
        poll_interval: float = 60.0,
        lookback: float = 0.0,
        peak_conn_id: str = PeakWorkflowHook.default_conn_name,
    ) -> None:
        if not HAS_EVENT_TRIGGERS:
            from airflow_provider_peak.exceptions import PeakConfigError

            raise PeakConfigError(
                "PeakWorkflowExecutionTrigger schedules DAGs through an AssetWatcher, which needs "
                "Airflow 3.0 or later; on Airflow 2 use PeakWorkflowRunSensor in a scheduled DAG"
            )
        super().__init__()
        self.workflow_id = str(workflow_id)
        self.statuses = [check_status(status, "statuses") for status in statuses]
        self.poll_interval = float(poll_interval)
        self.lookback = float(lookback)
        self.peak_conn_id = peak_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "workflow_id": self.workflow_id,
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
                "lookback": self.lookback,
                "peak_conn_id": self.peak_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = PeakWorkflowHook(self.peak_conn_id)
        since = iso(datetime.now(timezone.utc) - timedelta(seconds=self.lookback))
        seen: dict[str, None] = {}  # insertion-ordered: the oldest are forgotten first
        failures = 0
        try:
            while True:
                try:
                    runs = [
                        run
                        async for run in hook.alist_executions(
                            self.workflow_id, statuses=self.statuses, date_from=since
                        )
                    ]
                except Exception as exc:
                    failures += 1
                    if not is_transient(exc) or failures > MAX_POLL_FAILURES:
                        raise
                    self.log.warning("Peak workflow %s: listing its runs failed (%s)", self.workflow_id, exc)
                else:
                    failures = 0
                    for run in reversed(runs):  # oldest first
                        if run.execution_id in seen or run.status not in self.statuses:
                            continue
                        seen[run.execution_id] = None
                        if len(seen) > SEEN_LIMIT:
                            seen.pop(next(iter(seen)))
                        self.log.info("%s ended %s", run.describe(), run.status)
                        yield TriggerEvent(run.summary())
                await asyncio.sleep(self.poll_interval)
        finally:
            await hook.aclose()

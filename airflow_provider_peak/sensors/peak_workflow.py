"""``PeakWorkflowRunSensor``: wait until a Peak workflow run ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook
from airflow_provider_peak.models.peak_workflow import SUMMARY_KEY, WorkflowExecution, check_id, still_running
from airflow_provider_peak.triggers.peak_workflow import PeakWorkflowRunTrigger
from airflow_provider_peak.ui.links import PeakWorkflowRunLink
from airflow_provider_peak.utils.task_run import wait_deadline
from airflow_provider_peak.version_compat import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)

#: Extra time a deferral is allowed beyond the sensor's timeout (the trigger's event comes first).
_DEFER_GRACE = timedelta(seconds=60)


class PeakWorkflowRunSensor(BaseSensorOperator):
    """Wait until a Peak workflow run ends; succeed when it ended ``Success``, fail (with its
    status, failed steps and their last log lines) when it ended ``Failed`` or ``Stopped``.

    With ``deferrable=True`` it checks once, then waits in the triggerer
    (``PeakWorkflowRunTrigger``) without a worker slot, within the sensor's ``timeout``. Returns
    ``{"workflow_id", "execution_id", "status", ...}`` (XCom), the run's summary, which it also
    keeps in XCom ``summary`` when the run ended, even if it failed (the Peak page lists it). When
    the sensor times out, the run goes on in Peak (Peak has no call to stop one).

    :param workflow_id: the workflow (templated).
    :param execution_id: the run, e.g. ``PeakRunWorkflowOperator(wait_for_completion=False)``'s
        return value (templated).
    :param fetch_logs: put the failed steps' last log lines into the failure message.
    :param peak_conn_id: the ``peak`` connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("workflow_id", "execution_id")
    ui_color = "#e8f4ff"
    operator_extra_links = (PeakWorkflowRunLink(),)

    def __init__(
        self,
        *,
        workflow_id: str | int,
        execution_id: str,
        fetch_logs: bool = True,
        peak_conn_id: str = PeakWorkflowHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workflow_id = workflow_id
        self.execution_id = execution_id
        self.fetch_logs = fetch_logs
        self.peak_conn_id = peak_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PeakWorkflowHook:
        return PeakWorkflowHook(self.peak_conn_id)

    def _ids(self) -> tuple[str, str]:
        return check_id(self.workflow_id, "workflow_id"), check_id(self.execution_id, "execution_id")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        workflow_id, execution_id = self._ids()
        PeakWorkflowRunLink.persist(context, self.hook, workflow_id, execution_id)
        execution = self.hook.get_execution(workflow_id, execution_id)
        self.log.info("%s is %s", execution.describe(), execution.status)
        if not execution.terminal:
            return False
        return PokeReturnValue(True, self._ended(context, execution))

    def _ended(self, context: Context, execution: WorkflowExecution) -> dict[str, Any]:
        """The ended run's summary, kept in XCom ``summary``; the run's error if it did not succeed."""
        summary = self.hook.run_summary(execution)
        context["ti"].xcom_push(key=SUMMARY_KEY, value=summary)
        if not execution.succeeded:
            raise self.hook.failure(execution, fetch_logs=self.fetch_logs)
        return summary

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout:
                self.log.error("Timed out: %s", still_running(*reversed(self._ids())))
                raise
        done = self.poke(context)
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        workflow_id, execution_id = self._ids()
        self.defer(
            trigger=PeakWorkflowRunTrigger(
                workflow_id=workflow_id,
                execution_id=execution_id,
                end_time=wait_deadline(context, self.execution_timeout, self.timeout),
                poll_interval=self.poke_interval,
                peak_conn_id=self.peak_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + _DEFER_GRACE,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        workflow_id, execution_id = self._ids()
        status = event.get("status")
        if status in ("success", "failed"):
            return self._ended(context, self.hook.get_execution(workflow_id, execution_id))
        message = f"Peak workflow {workflow_id} run {execution_id}: {event.get('message', '')}"
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise PeakError(message)

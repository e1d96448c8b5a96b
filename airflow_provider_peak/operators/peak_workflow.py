"""``PeakRunWorkflowOperator``: run a Peak workflow and wait for it, crash-safe and deferrable."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow_provider_peak.exceptions import (
    PeakConfigError,
    PeakConflictError,
    PeakError,
    PeakWorkflowTimeoutError,
)
from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook, RunRequest
from airflow_provider_peak.models.peak_workflow import (
    SUMMARY_KEY,
    TERMINAL,
    WorkflowExecution,
    check_id,
    execute_body,
    still_running,
)
from airflow_provider_peak.transport.retry import may_have_reached
from airflow_provider_peak.triggers.peak_workflow import PeakWorkflowRunTrigger
from airflow_provider_peak.ui.links import PeakWorkflowRunLink
from airflow_provider_peak.utils.task_run import wait_deadline
from airflow_provider_peak.utils.task_run_store import forget_on_success
from airflow_provider_peak.version_compat import (
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseOperator,
    Context,
    ResumableJobMixin,
    conf,
    task_run_store,
)

ON_CONFLICT = ("fail", "wait", "skip")
#: Extra time a deferral is allowed beyond the task's deadline, so that the trigger's own timeout
#: event (with the run's last status) normally arrives first.
DEFER_GRACE = timedelta(seconds=60)
#: Where a run request is kept before it is sent (see ``submit_job``).
REQUEST_KEY = "peak_workflow_request"


def _end_time(context: Context, execution_timeout: timedelta | None, timeout: float | None) -> float | None:
    """The task's deadline as a UNIX time (``wait_deadline``); ``None`` with neither limit."""
    if timeout is None and execution_timeout is None:
        return None
    return wait_deadline(context, execution_timeout, math.inf if timeout is None else timeout)


class PeakRunWorkflowOperator(ResumableJobMixin, BaseOperator):
    """Start a run of a Peak workflow and (by default) wait for it to end; returns the run's
    execution id.

    **Never two runs for one task run.** The run request is not sent again when it may have
    reached Peak: the run it started is found and adopted. Its execution id is kept with the task
    run (Airflow 3.3's task state store through ``ResumableJobMixin``; on older Airflow the task
    run's Airflow Variables), so a retry after a worker crash waits on the same run instead of
    starting another; a retry after the run failed starts a new one.

    **Deferrable and bounded.** With ``deferrable=True`` the wait happens in the triggerer
    (``PeakWorkflowRunTrigger``), which carries the task's deadline: ``execution_timeout`` and
    ``timeout`` hold while deferred. Peak has no call to stop a run: on a timeout or a kill the
    task says that the run goes on, and names it.

    A run that ends ``Failed`` or ``Stopped`` fails the task with its status and failed steps; the
    last log lines of those steps are in the message (``fetch_logs``).

    The run's summary (workflow id and name, execution id, status, times, seconds, failed steps,
    link) is kept in XCom ``summary`` when the run ends, when the task stops waiting at its
    deadline (with the last status seen), or once it started with ``wait_for_completion=False``;
    a failed task keeps it too. The Peak page lists it.

    :param workflow_id: the Peak workflow (templated).
    :param workflow_params: the run's global parameters (templated); not ``params``, which is
        Airflow's own.
    :param step_params: parameters per step name (templated).
    :param steps: the steps to run: step names, or ``{"stepName", "runDAG"}`` dicts (templated);
        every step by default.
    :param wait_for_completion: wait for the run to end (otherwise return once it started).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls of the run.
    :param timeout: seconds to wait for the run (``None``: no limit but ``execution_timeout``).
    :param on_conflict: what a 409 (a run is active and the workflow allows no concurrent runs)
        does: ``fail`` the task, ``wait`` for the active run to end and then start this one (within
        ``timeout``), or ``skip`` the task.
    :param fetch_logs: write the steps' logs to the task log when the run ends, and the failed
        steps' last lines into the failure message.
    :param peak_conn_id: the ``peak`` connection.
    :param durable: keep the run's id across tries (``ResumableJobMixin``); default true.
    """

    template_fields: Sequence[str] = ("workflow_id", "workflow_params", "step_params", "steps")
    template_fields_renderers = {"workflow_params": "json", "step_params": "json", "steps": "json"}
    ui_color = "#e8f4ff"
    operator_extra_links = (PeakWorkflowRunLink(),)
    external_id_key = "peak_workflow_execution_id"

    def __init__(
        self,
        *,
        workflow_id: str | int,
        workflow_params: Mapping[str, Any] | None = None,
        step_params: Mapping[str, Mapping[str, Any]] | None = None,
        steps: Sequence[str | Mapping[str, Any]] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | None = None,
        on_conflict: str = "fail",
        fetch_logs: bool = True,
        peak_conn_id: str = PeakWorkflowHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_conflict not in ON_CONFLICT:
            raise PeakConfigError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}; got {on_conflict!r}")
        if poll_interval <= 0 or (timeout is not None and timeout <= 0):
            raise PeakConfigError("poll_interval and timeout must be positive numbers of seconds")
        self.workflow_id = workflow_id
        self.workflow_params = workflow_params
        self.step_params = step_params
        self.steps = steps
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.on_conflict = on_conflict
        self.fetch_logs = fetch_logs
        self.peak_conn_id = peak_conn_id
        self._execution_id: str | None = None
        self._end: float | None = None
        self._last: WorkflowExecution | None = None  # the run as last seen by a synchronous wait

    @cached_property
    def hook(self) -> PeakWorkflowHook:
        return PeakWorkflowHook(self.peak_conn_id)

    @property
    def _workflow(self) -> str:
        return check_id(self.workflow_id, "workflow_id")

    # ------------------------------------------------------------------ execute
    def execute(self, context: Context) -> Any:
        execute_body(self.workflow_params, self.step_params, self.steps)  # refuse bad input before any call
        self._end = _end_time(context, self.execution_timeout, self.timeout)
        store = self._store(context)
        try:
            result = self.execute_resumable(context)
        except (AirflowTaskTimeout, PeakWorkflowTimeoutError) as exc:
            if self._last is not None:
                self._record(context, self._last)
            if self._execution_id and isinstance(exc, AirflowTaskTimeout):
                self.log.error("Timed out: %s", self._still_running())
            raise
        self._forget_run_on_success(context, store)
        return result

    def on_kill(self) -> None:
        if self._execution_id:
            self.log.warning("Killed: %s", self._still_running())

    def _still_running(self) -> str:
        eid = self._execution_id or "?"
        return still_running(eid, self._workflow, self.hook.run_url(self._workflow, eid))

    def _forget_run_on_success(self, context: Context, store: Any) -> None:
        """Forget the run once Airflow has recorded the task's success, so that a later clear of the
        task runs the workflow again. Not before: a worker that dies between the run's end and that
        record leaves a retry that must find the finished run, not start another."""
        forget_on_success(context, store, "forget the Peak workflow run", self.external_id_key, REQUEST_KEY)

    def _store(self, context: Context) -> Any:
        """Where the run's request and id are kept across tries (nowhere with ``durable=False``):
        un-namespaced keys, as Airflow 3.3's ``ResumableJobMixin`` reads its ``external_id_key``."""
        return task_run_store(context, namespace="") if getattr(self, "durable", True) else None

    # ------------------------------------------------------------------ ResumableJobMixin
    def submit_job(self, context: Context) -> str:
        """Start the run, never twice: the request is kept with the task run before it is sent, so
        a try that finds one without its run id (an earlier try died between the two) adopts the
        run that request started, if Peak lists one."""
        store = self._store(context)
        pending = store.get(REQUEST_KEY) if store is not None else None
        if isinstance(pending, Mapping) and not pending.get("execution_id"):
            found = self.hook.adopt(RunRequest.from_json(pending), delays=(0.0,))
            if found is not None:
                self.log.warning("Adopted run %s, which an earlier try of this task started", found)
                return self._started(context, store, pending, found)
        while True:
            request = self.hook.new_run_request(self._workflow)
            if store is not None:
                store.set(REQUEST_KEY, request.to_json())
            try:
                execution_id = self.hook.run_workflow(
                    self._workflow, self.workflow_params, self.step_params, self.steps, request=request
                )
            except PeakConflictError:
                if store is not None:
                    store.delete(REQUEST_KEY)
                if self.on_conflict == "fail":
                    raise
                if self.on_conflict == "skip":
                    raise AirflowSkipException(
                        f"Peak workflow {self._workflow} has a run in progress and allows no concurrent "
                        "runs (on_conflict='skip')"
                    ) from None
                self._wait_for_active_runs()
                continue
            except PeakError as exc:
                if store is not None and not may_have_reached(exc):
                    store.delete(REQUEST_KEY)  # Peak surely started nothing: nothing to adopt
                raise
            return self._started(context, store, request.to_json(), execution_id)

    def _started(self, context: Context, store: Any, request: Mapping[str, Any], execution_id: str) -> str:
        if store is not None:
            store.set(REQUEST_KEY, {**request, "execution_id": execution_id})
        self._execution_id = execution_id
        self.log.info("Peak workflow %s run %s started", self._workflow, execution_id)
        PeakWorkflowRunLink.persist(context, self.hook, self._workflow, execution_id)
        return execution_id

    def _wait_for_active_runs(self) -> None:
        """on_conflict='wait': wait for the workflow's active runs to end (within the deadline)."""
        active = [
            run
            for run in self.hook.list_executions(self._workflow, max_pages=1)
            if run.status not in TERMINAL
        ]
        for run in active:
            self.log.info("%s is %s: waiting for it to end (on_conflict='wait')", run.describe(), run.status)
            self.hook.wait_for_execution(
                self._workflow, run.execution_id, poll_interval=self.poll_interval, end_time=self._end
            )
        if not active:  # Peak said 409 but lists no active run: give it a poll interval
            time.sleep(min(self.poll_interval, 5.0))
        if self._end is not None and time.time() >= self._end:
            raise PeakWorkflowTimeoutError(
                self._workflow,
                "",
                "Running",
                f"Peak workflow {self._workflow} stayed busy until the deadline",
            )

    def get_job_status(self, external_id: Any, context: Context) -> str:
        self._execution_id = str(external_id)
        PeakWorkflowRunLink.persist(context, self.hook, self._workflow, str(external_id))
        return self.hook.get_execution(self._workflow, str(external_id)).status

    def is_job_active(self, status: str) -> bool:
        return status not in TERMINAL

    def is_job_succeeded(self, status: str) -> bool:
        return status == "Success"

    def poll_until_complete(self, external_id: Any, context: Context) -> str:  # type: ignore[override]
        """Wait for the run (or defer to the trigger); its id, which is what a try that reconnected
        to an earlier try's run returns (Airflow's mixin returns this method's value then)."""
        execution_id = str(external_id)
        self._execution_id = execution_id
        if not self.wait_for_completion:
            self._record(context, self.hook.get_execution(self._workflow, execution_id))
            return execution_id
        if self.deferrable:
            execution = self.hook.get_execution(self._workflow, execution_id)
            if not execution.terminal:
                end = self._end if self._end is not None else time.time() + 7 * 86400
                self.defer(
                    trigger=PeakWorkflowRunTrigger(
                        workflow_id=self._workflow,
                        execution_id=execution_id,
                        end_time=end,
                        poll_interval=self.poll_interval,
                        peak_conn_id=self.peak_conn_id,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=max(end - time.time(), 0)) + DEFER_GRACE,
                )
        else:
            execution = self.hook.wait_for_execution(
                self._workflow,
                execution_id,
                poll_interval=self.poll_interval,
                end_time=self._end,
                on_poll=self._polled,
            )
        self._finish(context, execution)
        return execution_id

    def _polled(self, run: WorkflowExecution) -> None:
        self._last = run
        self.log.info("%s is %s", run.describe(), run.status)

    def get_job_result(self, external_id: Any, context: Context) -> str:
        self._execution_id = str(external_id)
        return str(external_id)

    # ------------------------------------------------------------------ the end of a run
    def _record(self, context: Context, execution: WorkflowExecution) -> None:
        """Keep the run's summary in XCom ``summary`` (the Peak page reads it)."""
        context["ti"].xcom_push(key=SUMMARY_KEY, value=self.hook.run_summary(execution))

    def _finish(self, context: Context, execution: WorkflowExecution) -> None:
        """Keep the run's summary; log the steps' logs (``fetch_logs``); fail the task when the run
        did not succeed."""
        self._record(context, execution)
        if execution.succeeded:
            if self.fetch_logs:
                for step in execution.steps:
                    for line in self.hook.iter_logs(execution.workflow_id, execution.execution_id, step.name):
                        self.log.info("[%s] %s", step.name, line)
            self.log.info("%s ended %s", execution.describe(), execution.status)
            return
        error = self.hook.failure(execution, fetch_logs=self.fetch_logs)
        self.log.error("%s", error)
        raise error

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger's event: the run's id, or the matching error."""
        event = event or {}
        execution_id = str(event.get("execution_id") or "")
        self._execution_id = execution_id or None
        status = event.get("status")
        store = self._store(context)
        if status in ("success", "failed"):
            self._finish(context, self.hook.get_execution(self._workflow, execution_id))
            self._forget_run_on_success(context, store)
            return execution_id
        message = f"Peak workflow {self._workflow} run {execution_id}: {event.get('message', '')}"
        self.log.error("%s", message)
        if status == "timeout" and execution_id:
            try:
                self._record(context, self.hook.get_execution(self._workflow, execution_id))
            except PeakError as exc:  # the timeout is the task's error, not this read's
                self.log.warning("Could not read the run's last status: %s", exc)
        if status == "timeout":
            raise PeakWorkflowTimeoutError(
                self._workflow, execution_id, str(event.get("run_status")), message
            )
        raise PeakError(message)

"""Peak workflow runs as the provider reads them: the request that starts one, a run's details and
steps, what its status means, and the words of a failure. No Airflow import and no I/O: the hook,
the operator, the sensor and the triggers share it.

Peak's SDK (peak-sdk 1.29.0) documents five statuses: ``Success``, ``Running``, ``Stopped``,
``Stopping`` and ``Failed``. ``Success``, ``Failed`` and ``Stopped`` end a run; any other status
(``Running``, ``Stopping``, or one the SDK does not list, such as a queued state) is a run still
going on, so a new status Peak adds never fails a task by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_peak.errors import PeakConfigError, PeakError
from airflow_provider_peak.utils.redaction import safe_text

SUCCESS = "Success"
FAILED = "Failed"
STOPPED = "Stopped"
#: The statuses Peak's SDK documents.
STATUSES = (SUCCESS, "Running", STOPPED, "Stopping", FAILED)
#: The statuses that end a run.
TERMINAL = frozenset({SUCCESS, FAILED, STOPPED})
#: The XCom key under which workflow tasks keep a run's summary (kept when the task fails too).
SUMMARY_KEY = "summary"
#: Log lines of each failed step shown in a failure message.
FAILURE_LOG_LINES = 20
#: Characters of one log line kept (Peak's lines are a step's own output: untrusted, unbounded).
LOG_LINE_CHARS = 2_000
#: A workflow id reaches a URL path only as digits or a plain name (Peak's ids are integers).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def check_id(value: Any, name: str) -> str:
    """``value`` as an id that may be put in a URL path (``PeakConfigError`` otherwise)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not text or not _ID.fullmatch(text):
        raise PeakConfigError(f"{name} must be a Peak id (letters, digits, '_', '.', '-'), got {value!r}")
    return text


def check_status(value: Any, name: str = "status") -> str:
    """One of Peak's statuses, matched without regard to case (``success`` -> ``Success``)."""
    for status in STATUSES:
        if isinstance(value, str) and value.strip().lower() == status.lower():
            return status
    raise PeakConfigError(f"{name} must be one of {', '.join(STATUSES)}; got {value!r}")


def _text_map(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise PeakConfigError(f"{name} must be a mapping of parameter names to values, got {value!r}")
    for key, item in value.items():
        if isinstance(item, (Mapping, list, tuple, set)):
            raise PeakConfigError(f"{name}[{key!r}] must be a single value (text, number or bool)")
    return dict(value)


def execute_body(
    workflow_params: Mapping[str, Any] | None = None,
    step_params: Mapping[str, Mapping[str, Any]] | None = None,
    steps: Sequence[str | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The body of a run request: ``{"params": {"global", "stepWise"}, "stepsToRun": [...]}``,
    with only what was given; ``{}`` runs the whole workflow with its own parameters.

    :param steps: step names (each run with the steps after it: ``runDAG`` true), or dicts with
        ``stepName`` and ``runDAG``.
    """
    body: dict[str, Any] = {}
    params: dict[str, Any] = {}
    if workflow_params:
        params["global"] = _text_map(workflow_params, "workflow_params")
    if step_params:
        if not isinstance(step_params, Mapping):
            raise PeakConfigError("step_params must map step names to their parameters")
        params["stepWise"] = {
            str(step): _text_map(values, f"step_params[{step!r}]") for step, values in step_params.items()
        }
    if params:
        body["params"] = params
    if steps:
        if isinstance(steps, (str, Mapping)):
            raise PeakConfigError("steps must be a list of step names or of {stepName, runDAG} dicts")
        wanted = []
        for step in steps:
            if isinstance(step, str) and step:
                wanted.append({"stepName": step, "runDAG": True})
            elif (
                isinstance(step, Mapping)
                and isinstance(step.get("stepName"), str)
                and step["stepName"]
                and set(step) <= {"stepName", "runDAG"}
                and isinstance(step.get("runDAG", True), bool)
            ):
                wanted.append({"stepName": step["stepName"], "runDAG": step.get("runDAG", True)})
            else:
                raise PeakConfigError(
                    f"steps: {step!r} is neither a step name nor a {{stepName, runDAG}} dict"
                )
        body["stepsToRun"] = wanted
    return body


def iso(moment: datetime) -> str:
    """``moment`` as Peak's SDK sends dates: ISO 8601 in UTC, to the millisecond."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WorkflowKeys:
    """The reply keys of the workflows API (the connection's ``workflow_*_key`` extras)."""

    execution_id: str = "executionId"
    status: str = "status"
    steps: str = "steps"


@dataclass(frozen=True)
class WorkflowStep:
    """One step of a run: its name, status (``None`` when Peak gives none) and Peak's node id."""

    name: str
    status: str | None = None
    node_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is not None and self.status.lower() in ("failed", "error", "stopped")


@dataclass(frozen=True)
class WorkflowExecution:
    """A run of a workflow, read from its details (or from an item of the list of runs)."""

    workflow_id: str
    execution_id: str
    status: str
    executed_at: str | None = None
    finished_at: str | None = None
    run_id: str | None = None
    steps: tuple[WorkflowStep, ...] = field(default_factory=tuple)

    @classmethod
    def from_wire(
        cls, workflow_id: str, execution_id: str | None, reply: Any, keys: WorkflowKeys = WorkflowKeys()
    ) -> WorkflowExecution:
        """The run from Peak's reply; ``PeakError`` naming what is missing when it cannot be read."""
        if not isinstance(reply, Mapping):
            raise PeakError(f"Peak's reply about a run of workflow {workflow_id} is not a JSON object")
        found_id = reply.get(keys.execution_id, reply.get("id", execution_id))
        status = reply.get(keys.status)
        if not isinstance(status, str) or not status or found_id in (None, ""):
            raise PeakError(
                f"Peak's reply about a run of workflow {workflow_id} has no {keys.status!r} or "
                f"{keys.execution_id!r} (the workflow_status_key / workflow_execution_id_key extras)"
            )
        raw_steps = reply.get(keys.steps) or []
        steps = tuple(
            WorkflowStep(
                name=str(step.get("name", step.get("stepName", "?")))[:200],
                status=_short(step.get(keys.status, step.get("stepStatus"))),
                node_id=_short(step.get("nodeId")),
                started_at=_short(step.get("startedAt")),
                finished_at=_short(step.get("finishedAt")),
            )
            for step in (raw_steps if isinstance(raw_steps, list) else [])
            if isinstance(step, Mapping)
        )
        return cls(
            workflow_id=str(workflow_id),
            execution_id=str(found_id)[:200],
            status=status[:100],
            executed_at=_short(reply.get("executedAt")),
            finished_at=_short(reply.get("finishedAt")),
            run_id=_short(reply.get("runId")),
            steps=steps,
        )

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    @property
    def failed_steps(self) -> list[str]:
        return [step.name for step in self.steps if step.failed]

    def describe(self) -> str:
        """``Peak workflow 12 run 3f2c...`` for messages."""
        return f"Peak workflow {self.workflow_id} run {self.execution_id}"

    @property
    def seconds(self) -> float | None:
        """How long the run took in Peak (``finished_at - executed_at``); ``None`` while it runs
        or when Peak gave no readable times."""
        started, finished = _moment(self.executed_at), _moment(self.finished_at)
        if started is None or finished is None or finished < started:
            return None
        return round((finished - started).total_seconds(), 3)

    def summary(self) -> dict[str, Any]:
        """A small JSON summary (XCom, trigger events)."""
        return {
            "workflow_id": self.workflow_id,
            "execution_id": self.execution_id,
            "status": self.status,
            "executed_at": self.executed_at,
            "finished_at": self.finished_at,
            "seconds": self.seconds,
            "failed_steps": self.failed_steps,
        }


def _moment(value: str | None) -> datetime | None:
    """An ISO 8601 time of Peak's (``...Z`` or with an offset; UTC without one), or ``None``."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _short(value: Any, limit: int = 200) -> str | None:
    return None if value is None else str(value)[:limit]


def failure_message(
    execution: WorkflowExecution, logs: Mapping[str, Sequence[str]] | None = None, url: str | None = None
) -> str:
    """What a failed run says: its status, its failed steps and their last log lines."""
    failed = execution.failed_steps
    where = f": step {', '.join(failed)} failed" if failed else ""
    lines = [f"{execution.describe()} ended {execution.status}{where}"]
    for step, tail in (logs or {}).items():
        if tail:
            lines.append(f"--- last {len(tail)} log lines of step {step}:")
            lines.extend(f"    {line}" for line in tail)
    if url:
        lines.append(f"See {url}")
    return "\n".join(lines)


def still_running(execution_id: str, workflow_id: str, url: str | None = None) -> str:
    """The words of a task that stops waiting while the run goes on."""
    where = f" ({url})" if url else ""
    return (
        f"Peak workflow {workflow_id} run {execution_id}{where} goes on in Peak: Peak has no call to stop a "
        "run, so the provider leaves it running"
    )


def log_line(item: Any, secrets: Sequence[str] = ()) -> str:
    """One log entry of Peak (``{"message", "timestamp" (ms)}``) as one bounded line, scrubbed of
    the connection's secrets (a step's output is the step's to choose)."""
    if isinstance(item, Mapping):
        message = item.get("message", "")
        stamp = item.get("timestamp")
        when = ""
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            try:
                when = iso(datetime.fromtimestamp(stamp / 1000, timezone.utc)) + " "
            except (OverflowError, OSError, ValueError):
                when = ""
        text = f"{when}{message}"
    else:
        text = str(item)
    return safe_text(text, LOG_LINE_CHARS, secrets=secrets)

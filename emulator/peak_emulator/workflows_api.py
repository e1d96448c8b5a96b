"""Peak's workflows API, served by the emulator under ``/workflows/api/v1`` as Peak's SDK
(peak-sdk 1.29.0, ``peak/resources/workflows.py``) calls it:

* ``POST /workflows/{id}/execute`` starts a run: ``{"executionId"}``; 404 for an unknown
  workflow, 409 when a run is active and the workflow allows no concurrent runs, 429 when the
  tenant's queue is full (``queue_limit`` active runs);
* ``GET /workflows/{id}``: the workflow's ``id``, ``name`` and ``metadata``
  (``allowConcurrentExecution``), as the SDK's ``describe_workflow`` reads it;
* ``GET /workflows/{id}/executions/{executionId}``: the run's ``status``, ``executedAt``,
  ``finishedAt``, ``runId`` and ``steps`` (``name``, ``nodeId``, ``status``, ``startedAt``,
  ``finishedAt``);
* ``GET /workflows/executions/{id}?statuses=&dateFrom=&dateTo=&count=&pageSize=&pageNumber=``:
  the runs, newest first, ``{executions, pageSize, pageNumber, pageCount, workflowId}``;
* ``GET /workflows/{id}/executions/{executionId}/logs?stepName=&nextToken=``: a step's log lines,
  ``log_page_size`` at a time, ``{stepRunStatus, logs: [{message, timestamp (ms)}], nextToken}``.

The same credentials as Peak's Ingestion API (a tenant API key raw in ``Authorization``, or a
token); errors shaped as FastAPI's ``{"detail": ...}``, as the SDK reads them.

A run walks through its steps one after the other, each lasting ``step`` seconds, or one read of
the run's details with ``step="read"`` (so a test of a poller does not depend on the machine's
speed), or none with ``step=0``. A step named in the workflow's ``fail_step`` (or scripted for one
run with ``script``) fails, and the run with it. Faults of the server's ``Faults`` apply on the
routes ``workflow_describe``, ``workflow_execute``, ``workflow_get``, ``workflow_list`` and
``workflow_logs``; a ``drop_after_apply`` fault on ``workflow_execute`` starts the run and closes
the connection without a reply (the "reply lost" case); ``status_after_apply`` starts it and
answers the fault's status (a 5xx after the run started).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from peak_emulator.faults import Faults
from peak_emulator.replies import Reply

PREFIX = "/workflows/api/v1"
Step = float | Literal["read"]
SUCCESS, RUNNING, FAILED = "Success", "Running", "Failed"
#: The demo workflows every emulator starts with: id -> (name, steps, step that fails).
DEMO_WORKFLOWS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "101": ("retrain-demand-model", ("prepare", "train", "publish"), None),
    "102": ("refresh-solution", ("extract", "score"), "score"),
}


class _Error(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _parse_time(value: str, name: str) -> float:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Error(400, f"{name} must be an ISO 8601 date, got {value[:40]!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class _Run:
    id: str
    workflow_id: str
    steps: tuple[str, ...]
    fail_step: str | None
    step: Step
    body: Any = None
    started: float = field(default_factory=time.monotonic)
    executed_at: float = field(default_factory=time.time)
    reads: int = 0

    def ticks(self, now: float) -> int:
        """Steps done so far: each lasts ``step`` seconds, or one read."""
        if self.step == "read":
            return self.reads
        if self.step > 0:
            return int((now - self.started) / self.step)
        return len(self.steps)

    def state(self, now: float) -> tuple[str, list[tuple[str, str]]]:
        """The run's status and each started step's ``(name, status)``."""
        done = self.ticks(now)
        steps: list[tuple[str, str]] = []
        for index, name in enumerate(self.steps):
            if index > done:
                break
            if index == done:
                steps.append((name, RUNNING))
                break
            if name == self.fail_step:
                steps.append((name, FAILED))
                return FAILED, steps
            steps.append((name, SUCCESS))
        return (SUCCESS if done >= len(self.steps) else RUNNING), steps

    def step_time(self, index: int) -> str:
        offset = index * self.step if isinstance(self.step, (int, float)) else 0.0
        return _iso(self.executed_at + offset)

    def to_wire(self, now: float, *, details: bool) -> dict[str, Any]:
        status, steps = self.state(now)
        reply: dict[str, Any] = {
            "executionId": self.id,
            "status": status,
            "executedAt": _iso(self.executed_at),
            "finishedAt": self.step_time(len(steps)) if status != RUNNING else None,
            "runId": f"run-{self.id[:8]}",
        }
        if details:
            reply["request"] = self.body  # what the run was started with (not a field of Peak's)
            reply["steps"] = [
                {
                    "name": name,
                    "nodeId": f"{self.id[:8]}-{index}",
                    "status": step_status,
                    "startedAt": self.step_time(index),
                    "finishedAt": self.step_time(index + 1) if step_status != RUNNING else None,
                }
                for index, (name, step_status) in enumerate(steps)
            ]
        return reply


@dataclass
class _Workflow:
    id: str
    name: str
    steps: tuple[str, ...]
    fail_step: str | None = None
    allow_concurrent: bool = False
    log_lines: int = 5
    scripts: list[str | None] = field(default_factory=list)
    runs: list[_Run] = field(default_factory=list)


class WorkflowsApi:
    """A local Peak workflows API (see the module docstring). Thread-safe.

    :param authenticate: checks an ``Authorization`` header; raises (with ``status`` and
        ``message``) to refuse it. ``None``: every request is let in.
    :param step: seconds each step of a run lasts, ``"read"`` (one read of the run's details
        each), or 0 (runs end at once).
    :param queue_limit: active runs of the tenant before a run request gets 429.
    :param log_page_size: log lines per page.
    :param faults: the server's fault rules.
    """

    def __init__(
        self,
        *,
        authenticate: Callable[[str | None], None] | None = None,
        step: Step = 0.5,
        queue_limit: int = 20,
        log_page_size: int = 3,
        faults: Faults | None = None,
        demo: bool = True,
    ) -> None:
        self.authenticate = authenticate
        self.step = step
        self.queue_limit = queue_limit
        self.log_page_size = log_page_size
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        self._workflows: dict[str, _Workflow] = {}
        self.stats: Counter[str] = Counter()
        if demo:
            for workflow_id, (name, steps, fail_step) in DEMO_WORKFLOWS.items():
                self.define(workflow_id, steps, name=name, fail_step=fail_step)

    # ------------------------------------------------------------------ test controls
    def define(
        self,
        workflow_id: str | int,
        steps: Iterable[str] = ("prepare", "train"),
        *,
        name: str | None = None,
        fail_step: str | None = None,
        allow_concurrent: bool = False,
        log_lines: int = 5,
    ) -> None:
        """Create (or replace) a workflow."""
        steps = tuple(steps)
        if not steps or (fail_step is not None and fail_step not in steps):
            raise ValueError(f"a workflow needs steps, and fail_step among them; got {steps}, {fail_step!r}")
        with self._lock:
            self._workflows[str(workflow_id)] = _Workflow(
                str(workflow_id),
                name or f"workflow-{workflow_id}",
                steps,
                fail_step,
                allow_concurrent,
                log_lines,
            )

    def script(self, workflow_id: str | int, fail_step: str | None) -> None:
        """The next run of the workflow fails at ``fail_step`` (``None``: succeeds)."""
        with self._lock:
            self._workflows[str(workflow_id)].scripts.append(fail_step)

    def executions(self, workflow_id: str | int) -> list[dict[str, Any]]:
        """Every run of the workflow, oldest first (no read is counted)."""
        now = time.monotonic()
        with self._lock:
            return [run.to_wire(now, details=True) for run in self._workflows[str(workflow_id)].runs]

    def reset(self, *, step: Step | None = None) -> None:
        """Forget every run and counter, and the workflows defined since (a server shared by tests)."""
        with self._lock:
            self._workflows.clear()
            self.stats.clear()
            if step is not None:
                self.step = step
        for workflow_id, (name, steps, fail_step) in DEMO_WORKFLOWS.items():
            self.define(workflow_id, steps, name=name, fail_step=fail_step)

    def admin(self, method: str, parts: list[str], query: Mapping[str, list[str]], body: bytes) -> Reply:
        """``/_emulator/workflows/...``: ``POST`` a workflow (``{"workflowId", "steps",
        "failStep"?, "allowConcurrent"?}``), ``POST <id>/script`` (``{"failStep"}``), ``GET stats``."""
        try:
            payload = json.loads(body) if body else {}
            if method == "GET" and parts == ["stats"]:
                with self._lock:
                    return Reply(200, dict(self.stats))
            if method == "POST" and parts == [""]:
                self.define(
                    payload["workflowId"],
                    payload.get("steps") or ("prepare", "train"),
                    name=payload.get("name"),
                    fail_step=payload.get("failStep"),
                    allow_concurrent=bool(payload.get("allowConcurrent")),
                )
                return Reply(201, {"ok": True})
            if method == "POST" and len(parts) == 2 and parts[1] == "script":
                self.script(parts[0], payload.get("failStep"))
                return Reply(200, {"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"detail": str(exc)})
        return Reply(404, {"detail": "no such admin endpoint"})

    # ------------------------------------------------------------------ HTTP
    def owns(self, path: str) -> bool:
        return path.startswith(f"{PREFIX}/")

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        parts = path[len(PREFIX) :].strip("/").split("/")
        route = _route(method, parts)
        try:
            if self.authenticate is not None:
                try:
                    self.authenticate(headers.get("Authorization"))
                except Exception as exc:
                    raise _Error(getattr(exc, "status", 401), getattr(exc, "message", str(exc))) from None
            if route is None:
                raise _Error(404, "Not Found")
            fault = self.faults.pick(route)
            dropped = False
            if fault is not None:
                if fault.action == "latency":
                    time.sleep(fault.seconds)
                elif fault.action == "reset":
                    return self._count(route, Reply(0, drop="reset"))
                elif fault.action == "status":
                    headers_out = (
                        {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                    )
                    return self._count(
                        route, Reply(fault.status, {"detail": "injected by the emulator"}, headers_out)
                    )
                elif fault.action in ("drop_after_apply", "status_after_apply"):
                    dropped = True
            reply = self._answer(route, parts, query, body)
            if dropped and fault is not None and fault.action == "status_after_apply":
                reply = Reply(fault.status, {"detail": "injected by the emulator after the run started"})
            elif dropped:
                reply = Reply(0, drop="close")
        except _Error as exc:
            reply = Reply(exc.status, {"detail": exc.detail})
        return self._count(route or "unknown", reply)

    def _count(self, route: str, reply: Reply) -> Reply:
        with self._lock:
            self.stats[f"{route} {reply.status or 'dropped'}"] += 1
        return reply

    def _answer(self, route: str, parts: list[str], query: Mapping[str, list[str]], raw: bytes) -> Reply:
        now = time.monotonic()
        with self._lock:
            if route == "workflow_list":
                return Reply(200, self._list(self._workflow(parts[2]), query, now))
            workflow = self._workflow(parts[1])
            if route == "workflow_describe":
                return Reply(
                    200,
                    {
                        "id": int(workflow.id) if workflow.id.isdigit() else workflow.id,
                        "name": workflow.name,
                        "metadata": {"allowConcurrentExecution": workflow.allow_concurrent},
                    },
                )
            if route == "workflow_execute":
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    raise _Error(400, "the body is not valid JSON") from None
                if not isinstance(body, dict) or set(body) - {"params", "stepsToRun"}:
                    raise _Error(422, "the body may hold params and stepsToRun only")
                return Reply(200, {"executionId": self._start(workflow, now, body)})
            run = next((r for r in workflow.runs if r.id == parts[3]), None)
            if run is None:
                raise _Error(404, f"execution {parts[3]} of workflow {workflow.id} not found")
            if route == "workflow_get":
                reply = run.to_wire(now, details=True)
                run.reads += 1
                return Reply(200, reply)
            return Reply(200, self._logs(workflow, run, query, now))

    # ------------------------------------------------------------------ behaviour (lock held)
    def _workflow(self, workflow_id: str) -> _Workflow:
        workflow = self._workflows.get(workflow_id)
        if workflow is None:
            raise _Error(404, f"workflow {workflow_id} not found")
        return workflow

    def _start(self, workflow: _Workflow, now: float, body: Any) -> str:
        active = [r for w in self._workflows.values() for r in w.runs if r.state(now)[0] == RUNNING]
        if not workflow.allow_concurrent and any(r.workflow_id == workflow.id for r in active):
            raise _Error(409, "The workflow is in a conflicting state and a new run cannot be started")
        if len(active) >= self.queue_limit:
            raise _Error(429, "The queue is full")
        fail_step = workflow.scripts.pop(0) if workflow.scripts else workflow.fail_step
        run = _Run(str(uuid.uuid4()), workflow.id, workflow.steps, fail_step, self.step, body)
        workflow.runs.append(run)
        self.stats["runs_started"] += 1
        return run.id

    def _list(self, workflow: _Workflow, query: Mapping[str, list[str]], now: float) -> dict[str, Any]:
        def one(name: str, default: str = "") -> str:
            return (query.get(name) or [default])[0]

        statuses = {s for value in query.get("statuses", []) for s in value.split(",") if s}
        since = _parse_time(one("dateFrom"), "dateFrom") if one("dateFrom") else None
        until = _parse_time(one("dateTo"), "dateTo") if one("dateTo") else None
        try:
            page_size, page_number = int(one("pageSize", "25")), int(one("pageNumber", "1"))
            count = int(one("count")) if one("count") else None
        except ValueError:
            raise _Error(400, "pageSize, pageNumber and count must be integers") from None
        if not 1 <= page_size <= 100 or page_number < 1:
            raise _Error(400, "pageSize must be 1..100 and pageNumber at least 1")
        runs = [
            run.to_wire(now, details=False)
            for run in sorted(workflow.runs, key=lambda r: r.executed_at, reverse=True)
            if (since is None or run.executed_at >= since) and (until is None or run.executed_at <= until)
        ]
        runs = [run for run in runs if not statuses or run["status"] in statuses][:count]
        pages = max(1, -(-len(runs) // page_size))
        start = (page_number - 1) * page_size
        return {
            "executions": runs[start : start + page_size],
            "pageSize": page_size,
            "pageNumber": page_number,
            "pageCount": pages,
            "workflowId": workflow.id,
        }

    def _logs(
        self, workflow: _Workflow, run: _Run, query: Mapping[str, list[str]], now: float
    ) -> dict[str, Any]:
        step_name = (query.get("stepName") or [""])[0]
        token = (query.get("nextToken") or [""])[0]
        _, steps = run.state(now)
        step_status = dict(steps).get(step_name)
        if step_name not in run.steps:
            raise _Error(400, f"step {step_name!r} is not a step of workflow {workflow.id}")
        lines = [
            f"{step_name}: working on part {i + 1} of {workflow.log_lines}" for i in range(workflow.log_lines)
        ]
        if step_status == FAILED:
            lines.append(f"{step_name}: ERROR the step failed (exit code 1)")
        if step_status is None:
            lines = []
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            raise _Error(400, "nextToken is not a token this API gave") from None
        page = lines[offset : offset + self.log_page_size]
        stamp = int(run.executed_at * 1000)
        reply: dict[str, Any] = {
            "stepRunStatus": step_status,
            "logs": [{"message": line, "timestamp": stamp + offset + i} for i, line in enumerate(page)],
        }
        if offset + self.log_page_size < len(lines):
            reply["nextToken"] = base64.urlsafe_b64encode(str(offset + self.log_page_size).encode()).decode()
        return reply


def _route(method: str, parts: list[str]) -> str | None:
    """The route of ``parts`` (the path after ``/workflows/api/v1``), ``None`` when none matches."""
    if len(parts) == 2 and parts[0] == "workflows" and method == "GET":
        return "workflow_describe"
    if len(parts) == 3 and parts[:2] == ["workflows", "executions"] and method == "GET":
        return "workflow_list"
    if len(parts) == 3 and parts[0] == "workflows" and parts[2] == "execute" and method == "POST":
        return "workflow_execute"
    if len(parts) >= 4 and parts[0] == "workflows" and parts[2] == "executions" and method == "GET":
        if len(parts) == 4:
            return "workflow_get"
        if len(parts) == 5 and parts[4] == "logs":
            return "workflow_logs"
    return None

"""``PeakWorkflowHook``: run a Peak workflow, read its runs and their logs, wait for one to end.

The ``peak`` connection's credentials, transport and retries; the workflows API's base and every
path and reply key are connection extras (``hooks._connection.PeakSettings``, defaults from Peak's
SDK). Reads are retried as every read of the provider is. Starting a run is not: a request that
may have reached Peak is never sent again, since a second one could start a second run. When its
reply is lost, the hook looks for the run it started among the workflow's runs since just before
the request, adopts it when it finds it, and otherwise says the run may have started.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from airflow_provider_peak.exceptions import (
    PeakConnectionError,
    PeakError,
    PeakServerError,
    PeakWorkflowFailedError,
    PeakWorkflowStartUnknownError,
    PeakWorkflowTimeoutError,
)
from airflow_provider_peak.hooks._connection import PeakSettings, read_connection
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.models.peak_workflow import (
    FAILURE_LOG_LINES,
    WorkflowExecution,
    WorkflowKeys,
    check_id,
    check_status,
    execute_body,
    failure_message,
    iso,
    log_line,
    still_running,
)
from airflow_provider_peak.transport.paging import PageTokens
from airflow_provider_peak.transport.retry import ADOPT_DELAYS, may_have_reached
from airflow_provider_peak.transport.urls import join_url
from airflow_provider_peak.ui.links import workflow_run_url
from airflow_provider_peak.utils.redaction import neutral
from airflow_provider_peak.version_compat import aget_connection

__all__ = ["PeakWorkflowHook", "RunRequest", "is_transient"]

log = logging.getLogger(__name__)

#: Runs a lookup reads at most (a page of Peak's list).
LOOKUP_PAGE_SIZE = 50


def is_transient(exc: BaseException) -> bool:
    """A failure a poll may outlive: a 5xx or a network failure (after the transport's retries)."""
    return isinstance(exc, (PeakServerError, PeakConnectionError))


@dataclass(frozen=True)
class RunRequest:
    """What is known before a run request is sent: the workflow, the time from which a lookup
    searches (``since``, ISO 8601) and the runs that existed then (``known``), so that a run the
    request started can be told apart from earlier ones. JSON-ready (``to_json``), so an operator
    can keep it with the task run before it sends the request."""

    workflow_id: str
    since: str
    known: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "since": self.since, "known": list(self.known)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunRequest:
        return cls(str(value["workflow_id"]), str(value["since"]), tuple(map(str, value.get("known") or ())))


class PeakWorkflowHook(PeakHook):
    """Runs Peak workflows and reads their runs (see the module docstring).

    :param peak_conn_id: the ``peak`` connection (the same credentials as ``PeakHook``).
    :param timeout: read time-out in seconds (beats the connection's ``timeout`` extra).
    :param max_retries: retries after the first attempt (beats the ``max_retries`` extra).
    :param api_retry_args: ``tenacity`` arguments replacing the default policy (a run request keeps
        its own predicate: it is retried only when Peak surely did not act on it).
    """

    hook_name = "Peak workflows"

    # ------------------------------------------------------------------ wire
    @property
    def keys(self) -> WorkflowKeys:
        s = self.settings
        return WorkflowKeys(s.workflow_execution_id_key, s.workflow_status_key, s.workflow_steps_key)

    def _url(self, template: str, **ids: Any) -> str:
        filled = template.format(
            **{name: quote(check_id(value, name), safe="") for name, value in ids.items()}
        )
        return join_url(self.settings.workflows_url, filled)

    def run_url(self, workflow_id: str, execution_id: str) -> str | None:
        """The run's page from the ``workflow_url_template`` extra; ``None`` without one (or a bad one)."""
        s = self.settings
        try:
            return workflow_run_url(
                s.workflow_url_template,
                base_url=s.base_url,
                workflow_id=workflow_id,
                execution_id=execution_id,
            )
        except PeakError:
            return None

    # ------------------------------------------------------------------ runs
    def new_run_request(self, workflow_id: str | int) -> RunRequest:
        """What a lookup needs to recognise the run a request is about to start: the time just
        before it (less the ``workflow_clock_skew`` extra) and the runs since then (one request)."""
        wid = check_id(workflow_id, "workflow_id")
        since = iso(datetime.now(timezone.utc) - timedelta(seconds=self.settings.workflow_clock_skew))
        known = tuple(run.execution_id for run in self.list_executions(wid, date_from=since, max_pages=1))
        return RunRequest(wid, since, known)

    def run_workflow(
        self,
        workflow_id: str | int,
        workflow_params: Mapping[str, Any] | None = None,
        step_params: Mapping[str, Mapping[str, Any]] | None = None,
        steps: Sequence[str | Mapping[str, Any]] | None = None,
        *,
        request: RunRequest | None = None,
        adopt_delays: Sequence[float] = ADOPT_DELAYS,
    ) -> str:
        """Start a run; its execution id.

        The request is retried on a 429 (Peak's queue is full: it refused the run) and when no
        connection could be made, never otherwise. When it may have reached Peak (a lost reply, a
        missed deadline, a 5xx), the run it started is looked for (``adopt``) and returned;
        ``PeakWorkflowStartUnknownError`` when none is found. ``PeakConflictError`` (409) when a
        run is active and the workflow allows no concurrent runs; ``PeakNotFoundError`` for an
        unknown workflow.

        :param workflow_params: global parameters of the run.
        :param step_params: parameters per step name.
        :param steps: the steps to run (names, or ``{"stepName", "runDAG"}`` dicts); all by default.
        :param request: from ``new_run_request``, when the caller kept it before calling (one is
            made here otherwise).
        """
        wid = check_id(workflow_id, "workflow_id")
        body = execute_body(workflow_params, step_params, steps)
        request = request or self.new_run_request(wid)
        url = self._url(self.settings.workflow_execute_path, workflow_id=wid)
        try:
            reply = self._json("POST", url, body, idempotent=False)
        except PeakError as exc:
            if not may_have_reached(exc):
                raise
            log.warning(
                "Peak workflow %s: the run request may have reached Peak (%s); looking for its run", wid, exc
            )
            found = self.adopt(request, delays=adopt_delays)
            if found is None:
                raise PeakWorkflowStartUnknownError(
                    wid,
                    request.since,
                    f"Peak workflow {wid}: the run request got no answer ({exc}) and no new run was found "
                    f"since {request.since}. The run may have started: check the workflow in Peak before "
                    "running the task again (the provider sent the request once, to never start two runs)",
                ) from exc
            log.warning("Peak workflow %s: adopted run %s, which the unanswered request started", wid, found)
            return found
        key = self.settings.workflow_execution_id_key
        if not isinstance(reply, Mapping) or not reply.get(key):
            raise PeakError(
                f"Peak started workflow {wid} but its reply has no {key!r} "
                "(the workflow_execution_id_key extra)"
            )
        return str(reply[key])[:200]

    def adopt(self, request: RunRequest, *, delays: Sequence[float] = ADOPT_DELAYS) -> str | None:
        """The run a request started, found among the workflow's runs since ``request.since`` that
        were not ``request.known``: its id, ``None`` when there is none (after each of ``delays``
        seconds, as Peak may list a run a moment after it starts), ``PeakWorkflowStartUnknownError``
        when several are new (another client started one too: the provider does not guess)."""
        for delay in delays:
            if delay:
                time.sleep(delay)
            runs = self.list_executions(request.workflow_id, date_from=request.since, max_pages=1)
            new = [run.execution_id for run in runs if run.execution_id not in request.known]
            if len(new) == 1:
                return new[0]
            if len(new) > 1:
                raise PeakWorkflowStartUnknownError(
                    request.workflow_id,
                    request.since,
                    f"Peak workflow {request.workflow_id}: {len(new)} runs started since {request.since} "
                    f"({', '.join(new[:5])}); the provider cannot tell which one its unanswered request "
                    "started, so it adopts none",
                )
        return None

    def workflow_name(self, workflow_id: str | int) -> str | None:
        """The workflow's name (its details' ``workflow_name_key``, at ``workflow_path``): one line,
        at most 200 characters; ``None`` when it cannot be read: a name is not worth failing a task
        for."""
        wid = check_id(workflow_id, "workflow_id")
        try:
            reply = self._json("GET", self._url(self.settings.workflow_path, workflow_id=wid))
        except PeakError as exc:
            log.info("Peak workflow %s: its name could not be read (%s)", wid, exc)
            return None
        name = reply.get(self.settings.workflow_name_key) if isinstance(reply, Mapping) else None
        return neutral(name)[:200] if isinstance(name, str) and name else None

    def run_summary(self, execution: WorkflowExecution, name: str | None = None) -> dict[str, Any]:
        """What a task records of a run it started or watched (XCom ``summary``; the Peak page
        reads it): ``execution.summary()`` with the workflow's name (read when not given) and the
        run's link (``workflow_url_template``; ``None`` without one)."""
        return {
            **execution.summary(),
            "workflow_name": name if name is not None else self.workflow_name(execution.workflow_id),
            "url": self.run_url(execution.workflow_id, execution.execution_id),
        }

    def get_execution(self, workflow_id: str | int, execution_id: str) -> WorkflowExecution:
        """A run's status, times and steps; ``PeakNotFoundError`` if there is none."""
        wid, eid = check_id(workflow_id, "workflow_id"), check_id(execution_id, "execution_id")
        url = self._url(self.settings.workflow_execution_path, workflow_id=wid, execution_id=eid)
        return WorkflowExecution.from_wire(wid, eid, self._json("GET", url), self.keys)

    def _list_request(
        self,
        workflow_id: str | int,
        statuses: Sequence[str] | None,
        date_from: str | datetime | None,
        date_to: str | datetime | None,
        page_size: int,
    ) -> tuple[str, str, dict[str, Any]]:
        wid = check_id(workflow_id, "workflow_id")
        params: dict[str, Any] = {"pageSize": page_size}
        if statuses:
            params["statuses"] = [check_status(status, "statuses") for status in statuses]
        for name, value in (("dateFrom", date_from), ("dateTo", date_to)):
            if value is not None:
                params[name] = iso(value) if isinstance(value, datetime) else str(value)
        return wid, self._url(self.settings.workflow_executions_path, workflow_id=wid), params

    def _page(self, wid: str, url: str, reply: Any) -> tuple[list[WorkflowExecution], int | None]:
        s = self.settings
        items = reply.get(s.workflow_executions_key) if isinstance(reply, Mapping) else None
        if not isinstance(items, list):
            raise PeakError(
                f"Peak's list of runs of workflow {wid} holds no list at {s.workflow_executions_key!r} "
                "(the workflow_executions_key extra)"
            )
        pages = reply.get(s.workflow_page_count_key)
        runs = [WorkflowExecution.from_wire(wid, None, item, self.keys) for item in items]
        return runs, pages if isinstance(pages, int) and not isinstance(pages, bool) else None

    def list_executions(
        self,
        workflow_id: str | int,
        *,
        statuses: Sequence[str] | None = None,
        date_from: str | datetime | None = None,
        date_to: str | datetime | None = None,
        page_size: int = LOOKUP_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> list[WorkflowExecution]:
        """A workflow's runs, newest first, read page by page (``pageNumber``) up to the last page or
        ``max_pages`` (default: the ``workflow_max_pages`` extra).

        :param statuses: only runs in these statuses (``Success``, ``Failed``, ...).
        :param date_from: only runs started since (a ``datetime`` or ISO 8601 text).
        """
        wid, url, params = self._list_request(workflow_id, statuses, date_from, date_to, page_size)
        runs: list[WorkflowExecution] = []
        for number in range(1, (max_pages or self.settings.workflow_max_pages) + 1):
            page, pages = self._page(
                wid, url, self._json("GET", url, params={**params, "pageNumber": number})
            )
            runs.extend(page)
            if not page or pages is None or number >= pages:
                break
        return runs

    def iter_logs(
        self, workflow_id: str | int, execution_id: str, step_name: str, *, max_pages: int | None = None
    ) -> Iterator[str]:
        """A step's log lines, oldest first, page by page (``nextToken``), each one line, bounded and
        scrubbed of the connection's secrets; at most ``max_pages`` pages (default: the
        ``workflow_max_pages`` extra), and a token seen before ends the listing."""
        s = self.settings
        wid, eid = check_id(workflow_id, "workflow_id"), check_id(execution_id, "execution_id")
        url = self._url(s.workflow_logs_path, workflow_id=wid, execution_id=eid)
        tokens = PageTokens((s.workflow_logs_token_key, "nextToken"), f"Peak's logs of step {step_name}")
        token: str | None = None
        for _ in range(max_pages or s.workflow_max_pages):
            params = {"stepName": step_name, **({"nextToken": token} if token else {})}
            page = self._json("GET", url, params=params)
            items = page.get(s.workflow_logs_key) if isinstance(page, Mapping) else None
            if not isinstance(items, list):
                raise PeakError(
                    f"Peak's logs of step {step_name} hold no list at {s.workflow_logs_key!r} "
                    "(the workflow_logs_key extra)"
                )
            for item in items:
                yield log_line(item, s.secrets)
            token = tokens.next(page)
            if token is None:
                return

    def tail_logs(
        self, workflow_id: str | int, execution_id: str, step_name: str, lines: int = FAILURE_LOG_LINES
    ) -> list[str]:
        """The last ``lines`` log lines of a step (``[]`` when they cannot be read: a failure message
        is not worth failing twice for)."""
        try:
            return list(collections.deque(self.iter_logs(workflow_id, execution_id, step_name), maxlen=lines))
        except PeakError as exc:
            log.warning("Could not read the logs of step %s: %s", step_name, exc)
            return []

    def failure(self, execution: WorkflowExecution, *, fetch_logs: bool = True) -> PeakWorkflowFailedError:
        """The error of a run that did not succeed: its status, failed steps and their last log lines."""
        logs = (
            {
                step: self.tail_logs(execution.workflow_id, execution.execution_id, step)
                for step in execution.failed_steps
            }
            if fetch_logs
            else {}
        )
        url = self.run_url(execution.workflow_id, execution.execution_id)
        return PeakWorkflowFailedError(
            execution.workflow_id,
            execution.execution_id,
            execution.status,
            execution.failed_steps,
            failure_message(execution, logs, url),
        )

    def wait_for_execution(
        self,
        workflow_id: str | int,
        execution_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 30.0,
        end_time: float | None = None,
        max_poll_failures: int = 5,
        on_poll: Callable[[WorkflowExecution], None] | None = None,
    ) -> WorkflowExecution:
        """Poll until the run ends; the ended run, whatever its status (``succeeded`` says which).

        A poll that fails with a 5xx or a network error (after the transport's retries) is
        tolerated ``max_poll_failures`` times in a row. ``PeakWorkflowTimeoutError`` after
        ``timeout`` seconds or at the UNIX time ``end_time``, whichever is first; the run goes on
        in Peak.
        """
        deadline = min(
            end_time if end_time is not None else float("inf"),
            time.time() + timeout if timeout is not None else float("inf"),
        )
        failures = 0
        last = "unknown"
        while True:
            try:
                execution = self.get_execution(workflow_id, execution_id)
            except PeakError as exc:
                failures += 1
                if not is_transient(exc) or failures > max_poll_failures:
                    raise
                log.warning(
                    "Peak workflow %s run %s: poll failed (%s); polling on", workflow_id, execution_id, exc
                )
            else:
                failures, last = 0, execution.status
                if on_poll is not None:
                    on_poll(execution)
                if execution.terminal:
                    return execution
            remaining = deadline - time.time()
            if remaining <= 0:
                raise PeakWorkflowTimeoutError(
                    str(workflow_id),
                    str(execution_id),
                    last,
                    f"Peak workflow {workflow_id} run {execution_id} is still {last} at its deadline. "
                    + still_running(
                        str(execution_id), str(workflow_id), self.run_url(str(workflow_id), str(execution_id))
                    ),
                )
            time.sleep(min(poll_interval, remaining))

    # ------------------------------------------------------------------ async (triggers)
    async def _aready(self) -> None:
        """The connection read and the token ready without blocking the event loop."""
        if "settings" not in self.__dict__:
            conn = await aget_connection(self.peak_conn_id)
            self.__dict__["settings"] = read_connection(PeakSettings, conn, self._overrides)
        token = getattr(self.auth, "token", None)
        if callable(token):  # an OAuth token is fetched (or refreshed) in a thread, once a day at most
            await asyncio.to_thread(token)

    async def aget_execution(self, workflow_id: str | int, execution_id: str) -> WorkflowExecution:
        """``get_execution`` without blocking the event loop (the transport's async path)."""
        await self._aready()
        wid, eid = check_id(workflow_id, "workflow_id"), check_id(execution_id, "execution_id")
        url = self._url(self.settings.workflow_execution_path, workflow_id=wid, execution_id=eid)
        return WorkflowExecution.from_wire(wid, eid, await self.client.ajson("GET", url), self.keys)

    async def alist_executions(
        self,
        workflow_id: str | int,
        *,
        statuses: Sequence[str] | None = None,
        date_from: str | datetime | None = None,
        page_size: int = LOOKUP_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> AsyncIterator[WorkflowExecution]:
        """``list_executions`` without blocking the event loop, run by run."""
        await self._aready()
        wid, url, params = self._list_request(workflow_id, statuses, date_from, None, page_size)
        for number in range(1, (max_pages or self.settings.workflow_max_pages) + 1):
            reply = await self.client.ajson("GET", url, params={**params, "pageNumber": number})
            page, pages = self._page(wid, url, reply)
            for run in page:
                yield run
            if not page or pages is None or number >= pages:
                return

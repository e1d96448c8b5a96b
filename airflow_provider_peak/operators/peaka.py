"""Peaka cache operators: create caches for many tables at once; refresh one and wait for it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from airflow_provider_peak.exceptions import (
    PeakaBatchCacheError,
    PeakaCacheFailedError,
    PeakaTriggerUnknownError,
    PeakConfigError,
    PeakError,
)
from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.models.peaka_cache import MODES, ON_RUNNING, CacheItemResult
from airflow_provider_peak.sensors.peaka import DEFER_GRACE as _DEFER_GRACE
from airflow_provider_peak.sensors.peaka import handle_event
from airflow_provider_peak.transport.retry import may_have_reached
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.ui.links import PeakaCacheLink
from airflow_provider_peak.utils import openlineage
from airflow_provider_peak.utils.task_run import wait_deadline
from airflow_provider_peak.utils.task_run_store import forget_on_success
from airflow_provider_peak.version_compat import (
    AirflowSkipException,
    BaseOperator,
    Context,
    conf,
    task_run_store,
)

#: Where a cache run request is kept with the task run before it is sent (see ``_start``).
REQUEST_KEY = "peaka_refresh_request"


def _when(sent_at: Any) -> str:
    """`` at <UTC time>`` for a recorded request time, or nothing."""
    if isinstance(sent_at, (int, float)) and not isinstance(sent_at, bool):
        try:
            return f" at {datetime.fromtimestamp(sent_at, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
        except (OverflowError, OSError, ValueError):
            return ""
    return ""


class PeakaCreateBatchCacheOperator(BaseOperator):
    """Create Peaka caches for several tables in one request.

    Every table spec and schedule is validated before anything is sent. Tables that already have a
    cache in the project are found (where the API lists caches) and reported, not duplicated, so a
    rerun is harmless. Peaka answers 200 even when some tables fail: each failure is logged with
    Peaka's error, and the task fails unless ``fail_on_item_error=False``.

    Returns the ids of the created and existing caches in input order (ready for
    ``.expand(cache_id=task.output)``), also pushed as XCom ``cache_ids`` before a failure is
    raised, with ``{"project_id", "created", "existing", "failed", "items"}`` as XCom ``summary``.

    :param tables: dicts ``{catalog_id, schema_name, table_name, incremental_schedule=None,
        full_refresh_schedule=None}``; a schedule is a ``timedelta``, an ISO-8601 duration such as
        ``"PT6H"`` or ``None`` (templated).
    :param project_id: the project (templated); default: the connection's ``project_id`` extra.
    :param fail_on_item_error: fail the task when any table got no cache.
    :param skip_existing: look up the project's caches first and skip tables that have one.
    :param check_cacheable: ask Peaka's ``isCached`` about each table first (one request per
        table): a table that is already cached is reported as existing, one that is not
        cacheable, or lacks a kind of cache its schedules ask for, fails as an item without being
        sent.
    :param peaka_conn_id: the ``peaka`` connection.
    """

    template_fields: Sequence[str] = ("tables", "project_id")
    template_fields_renderers = {"tables": "json"}
    ui_color = "#f0eaff"

    def __init__(
        self,
        *,
        tables: Sequence[Mapping[str, Any]],
        project_id: str | None = None,
        fail_on_item_error: bool = True,
        skip_existing: bool = True,
        check_cacheable: bool = False,
        peaka_conn_id: str = PeakaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.project_id = project_id
        self.fail_on_item_error = fail_on_item_error
        self.skip_existing = skip_existing
        self.check_cacheable = check_cacheable
        self.peaka_conn_id = peaka_conn_id
        self._cached: tuple[str, str, list[CacheItemResult]] | None = None

    def execute(self, context: Context) -> list[str]:
        hook = PeakaHook(self.peaka_conn_id)
        tables = hook.parse_tables(self.tables)  # before any request
        project = hook.project(self.project_id)
        existing: dict[tuple[str, str, str], CacheItemResult] = {}
        if self.skip_existing:
            wanted = {t.key: t for t in tables}
            for cache in hook.list_caches(project) or []:
                if (table := wanted.get(cache.key)) is not None:  # type: ignore[arg-type]
                    existing[table.key] = CacheItemResult(table, True, cache=cache, existed=True)
        todo = [t for t in tables if t.key not in existing]
        if self.check_cacheable:
            for table in todo:
                info = hook.is_cached(table, project)
                if info.is_cached:  # cached, though the listing (if any) did not show its id
                    existing[table.key] = CacheItemResult(table, True, existed=True)
                elif (refusal := info.refusal(table)) is not None:
                    existing[table.key] = CacheItemResult(table, False, refusal)
            todo = [t for t in todo if t.key not in existing]
        created = {r.table.key: r for r in hook.create_batch_cache(project, todo)} if todo else {}
        results = [existing.get(t.key) or created[t.key] for t in tables]
        self._report(results)
        failed = {r.table.label: r.error or "" for r in results if not r.success}
        summary = {
            "project_id": project,
            "created": [r.cache_id for r in results if r.outcome == "created"],
            "existing": [r.cache_id for r in results if r.outcome == "exists"],
            "failed": [{"table": table, "error": error} for table, error in failed.items()],
            "items": [r.to_dict() for r in results],
        }
        cache_ids = [r.cache_id for r in results if r.cache_id and r.success]
        context["ti"].xcom_push(key="summary", value=summary)
        # Also under its own key: a failed task stores no return value, and clean-up needs the ids.
        context["ti"].xcom_push(key="cache_ids", value=cache_ids)
        self._cached = (hook.settings.base_url, project, [r for r in results if r.success])
        if failed and self.fail_on_item_error:
            raise PeakaBatchCacheError(failed, len(results))
        return cache_ids

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: each source table, and the Peaka cache made of it."""
        if self._cached is None:
            return None
        base_url, project, results = self._cached

        def build(facets: Any) -> tuple[list[Any], list[Any]]:
            tables = [r.table for r in results]
            inputs = [
                openlineage.peaka_table(facets, base_url, project, t.catalog_id, t.schema_name, t.table_name)
                for t in tables
            ]
            outputs = [
                openlineage.peaka_cache(facets, base_url, project, r.cache_id) for r in results if r.cache_id
            ]
            return inputs, outputs

        return openlineage.lineage(build)

    def _report(self, results: list[CacheItemResult]) -> None:
        for r in results:
            if r.outcome == "failed":
                self.log.error("Peaka cache for %s FAILED: %s", r.table.label, r.error)
            else:
                self.log.info("Peaka cache for %s %s: %s", r.table.label, r.outcome, r.cache_id)
        counts = {o: sum(r.outcome == o for r in results) for o in ("created", "exists", "failed")}
        self.log.info(
            "Peaka caches: %d created, %d already existed, %d failed",
            counts["created"],
            counts["exists"],
            counts["failed"],
        )


class PeakaCacheRefreshOperator(MappedLabel, BaseOperator):
    """Start an incremental sync or a full refresh of a Peaka cache, and by default wait for it.

    Waiting follows the run this task started (a run newer than the one seen before the trigger),
    so the previous run's COMPLETED is not taken for this one's. The task fails at once if the run
    ends FAILED or CANCELLED, or the cache is DELETED, and after ``timeout`` seconds. Returns
    ``{"cache_id", "mode", "status"}`` (XCom); a run that completed also pushes XCom ``summary``
    (``execution_id``, whether this task ``started`` it, and its ``progress`` counters), and its
    counters go into the extra of every ``Asset`` in the task's outlets.

    When a run of the same kind is already RUNNING, ``on_running`` decides: ``"wait"`` (default)
    follows that run instead of queueing another behind it, ``"queue"`` starts one anyway (Peaka
    may queue it), ``"fail"`` fails the task, ``"skip"`` skips it. A run this task started is
    cancelled (``cancel_on_stop``) when the wait ends without it: ``timeout``, ``execution_timeout``
    (also while deferred: the deadline travels with the trigger), a kill (SIGTERM, marking the task
    failed or success; while deferred, on Airflow 3.3+), or a status API that stays unusable. A run
    it only followed is left to run.

    A run is requested once per task run: the request is kept with the task run before it is sent
    (``peaka_refresh_request``), and a retry after a worker died (or the task failed) adopts the run
    it started, RUNNING or COMPLETED, instead of sending another; see the Peaka docs.

    :param cache_id: the cache (templated).
    :param mode: ``incremental`` or ``full``.
    :param wait: wait for the run to end; otherwise return right after starting it.
    :param project_id: the project (templated); default: the connection's ``project_id`` extra.
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait at most.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param on_running: ``wait``, ``queue``, ``fail`` or ``skip`` when a run of ``mode`` is RUNNING.
    :param cancel_on_stop: cancel the run this task started when the task stops before it ends.
    :param peaka_conn_id: the ``peaka`` connection.
    """

    template_fields: Sequence[str] = ("cache_id", "project_id")
    ui_color = "#f0eaff"
    map_index_label = "{{ task.cache_id }}"
    operator_extra_links = (PeakaCacheLink(),)

    def __init__(
        self,
        *,
        cache_id: str,
        mode: Literal["incremental", "full"] = "incremental",
        wait: bool = True,
        project_id: str | None = None,
        poll_interval: float = 30.0,
        timeout: float = 3600.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        on_running: Literal["wait", "queue", "fail", "skip"] = "wait",
        cancel_on_stop: bool = True,
        peaka_conn_id: str = PeakaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise PeakConfigError(f"mode must be one of {MODES}, got {mode!r}")
        if on_running not in ON_RUNNING:
            raise PeakConfigError(f"on_running must be one of {ON_RUNNING}, got {on_running!r}")
        if poll_interval <= 0 or timeout <= 0:
            raise PeakConfigError("poll_interval and timeout must be positive")
        self.cache_id = cache_id
        self.mode = mode
        self.wait = wait
        self.project_id = project_id
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self.on_running = on_running
        self.cancel_on_stop = cancel_on_stop
        self.peaka_conn_id = peaka_conn_id
        self._refreshed: tuple[str, str, Any] | None = None
        #: The run this task started and has not seen end: what ``on_kill`` cancels.
        self._started: tuple[str, str | None] | None = None

    def _start(self, hook: PeakaHook, store: Any) -> tuple[str, bool]:
        """Start a run unless ``on_running`` says otherwise, or an earlier try of this task run
        started it: (the run to look past, whether this task run started one)."""
        adopted = self._adopt_earlier_request(hook, store)
        if adopted is not None:
            return adopted, True
        status = hook.get_cache_status(self.cache_id, self.project_id)
        running = status.running(self.mode)
        if running is not None and self.on_running != "queue":
            found = f"Peaka cache {self.cache_id}: a {self.mode} run ({running.id}) is already RUNNING"
            if self.on_running == "fail":
                raise PeakError(f"{found} (on_running='fail')")
            if self.on_running == "skip":
                raise AirflowSkipException(f"{found} (on_running='skip')")
            self.log.info("%s: following it instead of starting another (on_running='wait')", found)
            return "", False
        before = status.execution_id(self.mode)
        # Kept before it is sent: a retry after a worker died past this point adopts its run.
        request = {"mode": self.mode, "previous_execution_id": before, "sent_at": time.time()}
        store.set(REQUEST_KEY, request)
        try:
            hook.trigger_run(self.cache_id, self.mode, self.project_id, previous_execution_id=before)
        except PeakError as exc:
            if not may_have_reached(exc):
                store.delete(REQUEST_KEY)  # Peaka surely started nothing: nothing to adopt
            raise
        if self.cancel_on_stop:
            self._started = (self.cache_id, self.project_id)
        self.log.info("Started the %s refresh of Peaka cache %s", self.mode, self.cache_id)
        return before, True

    def _adopt_earlier_request(self, hook: PeakaHook, store: Any) -> str | None:
        """The run to look past when an earlier try of this task run sent a run request (its record
        is kept with the task run until Airflow records the task's success): that try's run, newer
        than the last one it saw, is followed instead of starting another. ``None`` when there is
        no such request, or its run ended FAILED or CANCELLED (a new run is started then).
        ``PeakaTriggerUnknownError`` when no run of it shows up: the request is not sent again."""
        pending = store.get(REQUEST_KEY)
        if not isinstance(pending, Mapping) or pending.get("mode") != self.mode:
            return None
        previous = str(pending.get("previous_execution_id") or "")
        run = hook.new_run(self.cache_id, self.mode, self.project_id, previous)
        if run is None:
            raise PeakaTriggerUnknownError(
                str(self.cache_id),
                self.mode,
                f"Peaka cache {self.cache_id}: an earlier try of this task sent a {self.mode} run "
                f"request{_when(pending.get('sent_at'))}, and no new {self.mode} run of the cache was "
                f"found (its last one is still {previous or 'none'}). The run may have started or be "
                "queued: check the cache's status and execution history in Peaka. The request is not "
                "sent again, to never start two runs; to send it, delete its record "
                f"({store.describe(REQUEST_KEY)}), then clear the task",
            )
        if run.status.upper() in ("FAILED", "CANCELLED"):
            self.log.warning(
                "Peaka cache %s: the %s run %s, which an earlier try of this task started, ended %s: "
                "starting another",
                self.cache_id,
                self.mode,
                run.id,
                run.status,
            )
            return None
        if self.cancel_on_stop and run.status.upper() != "COMPLETED":
            self._started = (self.cache_id, self.project_id)
        self.log.warning(
            "Peaka cache %s: adopted %s run %s (%s), which an earlier try of this task started",
            self.cache_id,
            self.mode,
            run.id,
            run.status,
        )
        return previous

    def execute(self, context: Context) -> dict[str, Any]:
        hook = PeakaHook(self.peaka_conn_id)
        PeakaCacheLink.persist(context, hook, self.project_id, self.cache_id)
        store = task_run_store(context)
        before, started = self._start(hook, store)
        if not self.wait:
            self._started = None
            self._forget_request_on_success(context, store, started)
            return {
                "cache_id": self.cache_id,
                "mode": self.mode,
                "status": "TRIGGERED" if started else "RUNNING",
            }
        if self.deferrable:
            end_time = wait_deadline(context, self.execution_timeout, self.timeout)
            self.defer(
                trigger=PeakaCacheStatusTrigger(
                    cache_id=self.cache_id,
                    project_id=self.project_id,
                    target="COMPLETED",
                    end_time=end_time,
                    poll_interval=self.poll_interval,
                    mode=self.mode,
                    previous_execution_id=before,
                    peaka_conn_id=self.peaka_conn_id,
                    cancel_modes=[self.mode] if self._started else [],
                ),
                method_name="execute_complete",
                kwargs={"started": started},
                timeout=timedelta(seconds=max(end_time - time.time(), 0)) + _DEFER_GRACE,
            )
        try:
            status = hook.wait_for_cache(
                self.cache_id,
                self.project_id,
                mode=self.mode,
                previous_execution_id=before,
                timeout=self.timeout,
                poll_interval=self.poll_interval,
            )
        except PeakaCacheFailedError:
            self._started = None  # it ended on its own
            raise
        except BaseException as exc:  # a time-out, a kill, an unusable API: the run would go on
            self._cancel_started(f"the wait ended ({type(exc).__name__})")
            raise
        self._started = None
        self.log.info("Peaka cache %s: %s run COMPLETED", self.cache_id, self.mode)
        self._refreshed = (hook.settings.base_url, hook.project(self.project_id), status)
        run = status.executions.get(self.mode)
        self._report(context, status.status, run.to_dict() if run else None, started)
        self._forget_request_on_success(context, store, started)
        return {"cache_id": self.cache_id, "mode": self.mode, "status": status.status}

    def _forget_request_on_success(self, context: Context, store: Any, started: bool) -> None:
        """Forget the run request once Airflow has recorded the task's success (a later clear of the
        task starts a new run); until then a retry adopts the run it started."""
        if started:
            forget_on_success(context, store, "forget the Peaka refresh request", REQUEST_KEY)

    def on_kill(self) -> None:
        """Cancel the run this task started (Airflow calls this on SIGTERM and ``execution_timeout``)."""
        self._cancel_started("the task was killed")

    def _cancel_started(self, why: str) -> None:
        started, self._started = self._started, None
        if started is None:
            return
        cache_id, project_id = started
        try:  # a hook of its own: on_kill can interrupt the task's hook in the middle of a request
            sent = PeakaHook(self.peaka_conn_id).cancel_run(cache_id, self.mode, project_id)
        except Exception as exc:
            self.log.error(
                "Peaka cache %s: %s, and cancelling its %s run failed: %s", cache_id, why, self.mode, exc
            )
            return
        if sent:
            self.log.warning(
                "Peaka cache %s: %s; cancelled the %s run this task started", cache_id, why, self.mode
            )
        else:
            self.log.info("Peaka cache %s: %s; no %s run was running to cancel", cache_id, why, self.mode)

    def _report(
        self, context: Context, cache_status: str, run: Mapping[str, Any] | None, started: bool
    ) -> None:
        """XCom ``summary`` and the outlets' asset event extras, from the run that completed."""
        progress = dict((run or {}).get("progress") or {})
        summary = {
            "cache_id": self.cache_id,
            "mode": self.mode,
            "status": cache_status,
            "execution_id": (run or {}).get("id"),
            "started": started,
            "progress": progress,
        }
        self.log.info(
            "Peaka cache %s: %s run %s: %s",
            self.cache_id,
            self.mode,
            summary["execution_id"],
            ", ".join(f"{k} {v}" for k, v in progress.items()) or "no progress counters",
        )
        context["ti"].xcom_push(key="summary", value=summary)
        events = context.get("outlet_events")
        if events is None:  # a context without Airflow's event accessors (execute() called directly)
            return
        extra = {
            "cache_id": self.cache_id,
            "mode": self.mode,
            "execution_id": summary["execution_id"],
            **progress,
        }
        for outlet in self.outlets or ():
            if type(outlet).__name__ in ("Asset", "Dataset"):
                events[outlet].extra.update(extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the cache's source table and the cache it refreshed (after a wait that ended)."""
        if self._refreshed is None:
            return None
        base_url, project, status = self._refreshed

        def build(facets: Any) -> tuple[list[Any], list[Any]]:
            source = openlineage.peaka_table(
                facets, base_url, project, status.catalog_id, status.schema_name, status.table_name
            )
            return [source], [openlineage.peaka_cache(facets, base_url, project, self.cache_id)]

        return openlineage.lineage(build)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, started: bool = True
    ) -> dict[str, Any]:
        event = event or {}
        # A new operator after the deferral: its link is made again, for Airflow stores it as it ends.
        PeakaCacheLink.persist(context, PeakaHook(self.peaka_conn_id), self.project_id, self.cache_id)
        if event.get("status") == "timeout" and "cancelled" in event:
            sent = bool(event["cancelled"].get(self.mode))
            self.log.warning(
                "Peaka cache %s: the wait timed out; %s",
                self.cache_id,
                f"cancelled the {self.mode} run this task started"
                if sent
                else f"no {self.mode} run was running to cancel",
            )
        elif event.get("status") == "error" and started and self.cancel_on_stop:
            self._started = (self.cache_id, self.project_id)
            self._cancel_started("the status API could not be used")
        result = handle_event(event, "COMPLETED", timeout_error=PeakError)
        self._report(context, result["status"], event.get("execution"), started)
        self._forget_request_on_success(context, task_run_store(context), started)
        return {"cache_id": result["cache_id"], "mode": self.mode, "status": result["status"]}

"""Peaka cache operators: create caches for many tables at once; refresh one and wait for it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from airflow_provider_peak.exceptions import PeakaBatchCacheError, PeakConfigError, PeakError
from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.models.peaka_cache import MODES, CacheItemResult
from airflow_provider_peak.sensors.peaka import handle_event
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.utils import openlineage
from airflow_provider_peak.version_compat import BaseOperator, Context, conf


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
        peaka_conn_id: str = PeakaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.project_id = project_id
        self.fail_on_item_error = fail_on_item_error
        self.skip_existing = skip_existing
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
    ``{"cache_id", "mode", "status"}`` (XCom).

    :param cache_id: the cache (templated).
    :param mode: ``incremental`` or ``full``.
    :param wait: wait for the run to end; otherwise return right after starting it.
    :param project_id: the project (templated); default: the connection's ``project_id`` extra.
    :param poll_interval: seconds between status checks.
    :param timeout: seconds to wait at most.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param peaka_conn_id: the ``peaka`` connection.
    """

    template_fields: Sequence[str] = ("cache_id", "project_id")
    ui_color = "#f0eaff"
    map_index_label = "{{ task.cache_id }}"

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
        peaka_conn_id: str = PeakaHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise PeakConfigError(f"mode must be one of {MODES}, got {mode!r}")
        if poll_interval <= 0 or timeout <= 0:
            raise PeakConfigError("poll_interval and timeout must be positive")
        self.cache_id = cache_id
        self.mode = mode
        self.wait = wait
        self.project_id = project_id
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self.peaka_conn_id = peaka_conn_id
        self._refreshed: tuple[str, str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        hook = PeakaHook(self.peaka_conn_id)
        before = hook.get_cache_status(self.cache_id, self.project_id).execution_id(self.mode)
        if self.mode == "full":
            hook.trigger_full_refresh(self.cache_id, self.project_id)
        else:
            hook.trigger_incremental_update(self.cache_id, self.project_id)
        self.log.info("Started the %s refresh of Peaka cache %s", self.mode, self.cache_id)
        if not self.wait:
            return {"cache_id": self.cache_id, "mode": self.mode, "status": "TRIGGERED"}
        if self.deferrable:
            self.defer(
                trigger=PeakaCacheStatusTrigger(
                    cache_id=self.cache_id,
                    project_id=self.project_id,
                    target="COMPLETED",
                    end_time=time.time() + self.timeout,
                    poll_interval=self.poll_interval,
                    mode=self.mode,
                    previous_execution_id=before,
                    peaka_conn_id=self.peaka_conn_id,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + 60),
            )
        status = hook.wait_for_cache(
            self.cache_id,
            self.project_id,
            mode=self.mode,
            previous_execution_id=before,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
        )
        self.log.info("Peaka cache %s: %s run COMPLETED", self.cache_id, self.mode)
        self._refreshed = (hook.settings.base_url, hook.project(self.project_id), status)
        return {"cache_id": self.cache_id, "mode": self.mode, "status": status.status}

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

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        result = handle_event(event, "COMPLETED", timeout_error=PeakError)
        return {"cache_id": result["cache_id"], "mode": self.mode, "status": result["status"]}

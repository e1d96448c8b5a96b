"""``PeakaHook``: Peaka batch caches (create, inspect, refresh, delete, wait for a status)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_peak.exceptions import (
    PeakaCacheFailedError,
    PeakaTriggerUnknownError,
    PeakConfigError,
    PeakError,
    PeakHTTPError,
    PeakNotFoundError,
)
from airflow_provider_peak.hooks._auth import ApiKeyAuth
from airflow_provider_peak.hooks._connection import PeakaSettings, read_connection
from airflow_provider_peak.hooks._transport import JsonApiHook
from airflow_provider_peak.models.peaka_cache import (
    MODES,
    CacheInfo,
    CacheItemResult,
    CacheStatus,
    CacheTable,
    Execution,
    PeakaSpecError,
    Schedule,
    TableCacheInfo,
    build_tables,
    evaluate,
    match_results,
)
from airflow_provider_peak.transport.retry import ADOPT_DELAYS, may_have_reached
from airflow_provider_peak.ui.forms import (
    PEAKA_CONN_FIELDS,
    PEAKA_UI_BEHAVIOUR,
    legacy_field_behaviour,
    legacy_form_widgets,
)
from airflow_provider_peak.utils.checks import path_segment
from airflow_provider_peak.utils.redaction import safe_text
from airflow_provider_peak.version_compat import aget_connection

log = logging.getLogger(__name__)


class PeakaHook(JsonApiHook):
    """Talks to Peaka's cache API with an API key sent as ``Authorization: Bearer <key>``.

    Shares PeakHook's transport: one pooled session, retries on 429/502/503/504 and transport
    errors with jittered back-off honouring ``Retry-After``, typed errors, secrets masked. Table
    specs and schedules are validated before any request. ``project_id`` arguments default to the
    hook's, then to the connection's ``project_id`` extra.

    :param peaka_conn_id: the ``peaka`` connection (host = base URL, password = API key).
    :param project_id: default project (beats the ``project_id`` extra).
    :param timeout: read time-out in seconds (beats the ``timeout`` extra).
    :param max_retries: retries after the first attempt (beats the ``max_retries`` extra).
    :param api_retry_args: ``tenacity`` arguments replacing the default policy (sync and async).
    """

    conn_name_attr = "peaka_conn_id"
    default_conn_name = "peaka_default"
    conn_type = PeakaSettings.conn_type
    hook_name = PeakaSettings.hook_name
    service_name = "Peaka"

    def __init__(
        self,
        peaka_conn_id: str = default_conn_name,
        *,
        project_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        api_retry_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_retry_args=api_retry_args, **kwargs)
        self.peaka_conn_id = peaka_conn_id
        self._overrides = {"project_id": project_id, "timeout": timeout, "max_retries": max_retries}

    # ------------------------------------------------------------------ connection
    def _settings_from(self, conn: Any) -> PeakaSettings:
        return read_connection(PeakaSettings, conn, self._overrides)

    @cached_property
    def settings(self) -> PeakaSettings:
        """The connection read once; the API key is registered with Airflow's masker."""
        return self._settings_from(self.get_connection(self.peaka_conn_id))

    @cached_property
    def auth(self) -> ApiKeyAuth:
        return ApiKeyAuth(self.settings.api_key, self.settings.base_url, prefix="Bearer ")

    def project(self, project_id: str | None = None) -> str:
        """The project to use: the argument, else the hook's, else the connection's."""
        project = project_id or self.settings.project_id
        if not project:
            raise PeakConfigError(
                "no Peaka project: pass project_id or set the project_id extra on the connection"
            )
        return str(project)

    def _path(self, project_id: str | None, cache_id: str | None = None, suffix: str = "") -> str:
        base = self.settings.cache_path.format(
            project_id=path_segment(self.project(project_id), "project_id")
        )
        if cache_id is not None:
            base += f"/{path_segment(cache_id, 'cache_id')}"
        return base + suffix

    # ------------------------------------------------------------------ caches
    @staticmethod
    def parse_tables(tables: Sequence[Mapping[str, Any] | CacheTable]) -> list[CacheTable]:
        """Validate table specs (names, schedules) locally; ``PeakaSpecError`` (a ``PeakConfigError``)
        lists every problem."""
        return build_tables(tables)

    def create_batch_cache(
        self, project_id: str | None, tables: Sequence[Mapping[str, Any] | CacheTable]
    ) -> list[CacheItemResult]:
        """Create caches for ``tables`` in one request; one result per table, in order.

        Each table is ``{catalog_id, schema_name, table_name, incremental_schedule=None,
        full_refresh_schedule=None}``; a schedule is a ``timedelta``, an ISO-8601 duration (``PT6H``)
        or ``None``. Everything is validated before the request. A 200 reply can hold per-item
        failures: check ``result.success`` and ``result.error``.
        """
        parsed = self.parse_tables(tables)
        path = self._path(project_id, suffix="/batch")
        reply = self._json("POST", path, [t.to_wire() for t in parsed])
        try:
            results = match_results(parsed, reply)
        except PeakaSpecError as exc:
            raise PeakError(f"Peaka answered POST {path} unexpectedly: {exc}") from None
        secrets = self.settings.secrets
        return [
            r
            if r.error is None
            else CacheItemResult(r.table, False, safe_text(r.error, secrets=secrets), r.cache)
            for r in results
        ]

    def list_caches(self, project_id: str | None = None) -> list[CacheInfo] | None:
        """The project's caches, from Peaka's project-wide status call (``GET .../cache/status``,
        the ``list_caches_path`` extra), or ``None`` where it is missing (404/405) or turned off."""
        template = self.settings.list_caches_path
        if not template:
            return None
        path = template.format(project_id=path_segment(self.project(project_id), "project_id"))
        try:
            reply = self._json("GET", path, params={"excludeLogs": "true"})
        except PeakHTTPError as exc:
            if exc.status in (404, 405):
                log.warning("Peaka offers no cache listing at %s (%s); skipping the lookup", path, exc.status)
                return None
            raise
        items = reply.get("caches", reply.get("content")) if isinstance(reply, Mapping) else reply
        if not isinstance(items, list):
            raise PeakError(f"Peaka answered GET {path} with something that is not a list of caches")
        return [CacheInfo.from_wire(item) for item in items if isinstance(item, Mapping)]

    def get_cache(self, cache_id: str, project_id: str | None = None) -> CacheInfo:
        """A cache's settings; ``PeakNotFoundError`` if there is none."""
        return CacheInfo.from_wire(self._json("GET", self._path(project_id, cache_id)))

    def get_cache_status(self, cache_id: str, project_id: str | None = None) -> CacheStatus:
        """A cache's status (RUNNING, COMPLETED, FAILED, ...) and its last runs; ``DELETED`` when
        Peaka answers 404 (the cache is gone)."""
        path = self._path(project_id, cache_id, "/status")
        try:
            reply = self._json("GET", path, params={"excludeLogs": "true"})
        except PeakNotFoundError:
            return CacheStatus.gone(str(cache_id))
        return self._status(reply, path)

    def _status(self, reply: Any, path: str) -> CacheStatus:
        try:
            return CacheStatus.from_wire(reply)
        except PeakaSpecError as exc:
            raise PeakError(f"Peaka answered GET {path} unexpectedly: {exc}") from None

    def update_cache(
        self,
        cache_id: str,
        project_id: str | None = None,
        *,
        incremental_schedule: Any = None,
        full_refresh_schedule: Any = None,
    ) -> CacheInfo:
        """Replace a cache's schedules (``None`` removes one); validated before the request."""
        body = {
            "incrementalCacheSchedule": _wire(Schedule.parse(incremental_schedule, "incremental_schedule")),
            "fullRefreshCacheSchedule": _wire(Schedule.parse(full_refresh_schedule, "full_refresh_schedule")),
        }
        return CacheInfo.from_wire(self._json("PUT", self._path(project_id, cache_id), body))

    def delete_cache(self, cache_id: str, project_id: str | None = None) -> None:
        """Delete a cache (the source table is untouched)."""
        self.request("DELETE", self._path(project_id, cache_id))

    def trigger_incremental_update(
        self, cache_id: str, project_id: str | None = None, *, previous_execution_id: str | None = None
    ) -> str | None:
        """Start an incremental sync now (independent of the schedule). Peaka may queue it behind a
        sync that is already RUNNING. Sent once: see ``trigger_run``."""
        return self.trigger_run(
            cache_id, "incremental", project_id, previous_execution_id=previous_execution_id
        )

    def trigger_full_refresh(
        self, cache_id: str, project_id: str | None = None, *, previous_execution_id: str | None = None
    ) -> str | None:
        """Start a full refresh now (independent of the schedule). Sent once: see ``trigger_run``."""
        return self.trigger_run(cache_id, "full", project_id, previous_execution_id=previous_execution_id)

    def trigger_run(
        self,
        cache_id: str,
        mode: str,
        project_id: str | None = None,
        *,
        previous_execution_id: str | None = None,
        adopt_delays: Sequence[float] = ADOPT_DELAYS,
    ) -> str | None:
        """Start a run of ``mode`` (``incremental`` or ``full``).

        Every request starts a run (or queues one), so it is retried only when Peaka surely did not
        act on it: a 429, or a connection that was never made. When it may have reached Peaka (a
        5xx, a lost reply, a missed deadline), it is not sent again: the cache's status is read (at
        once, then after each of ``adopt_delays`` seconds) and a run of ``mode`` newer than
        ``previous_execution_id`` is adopted: its id is returned. ``PeakaTriggerUnknownError`` when
        none shows up (the run may have started, or be queued behind a RUNNING one).

        :param previous_execution_id: the id of the cache's last run of ``mode`` before this request
            (``""``: none); read from the cache's status first when not given.
        :return: the adopted run's id after an unclear answer; ``None`` after a 200 (Peaka's reply
            names no run: the next status shows it).
        """
        if mode not in MODES:
            raise PeakConfigError(f"mode must be one of {MODES}, got {mode!r}")
        if previous_execution_id is None:
            previous_execution_id = self.get_cache_status(cache_id, project_id).execution_id(mode)
        action = "/fullRefreshUpdate" if mode == "full" else "/incrementalUpdate"
        try:
            self.request("POST", self._path(project_id, cache_id, action), idempotent=False)
        except PeakError as exc:
            if not may_have_reached(exc):
                raise
            log.warning(
                "Peaka cache %s: the %s run request may have reached Peaka (%s); looking for its run",
                cache_id,
                mode,
                exc,
            )
            run = self.new_run(cache_id, mode, project_id, previous_execution_id, adopt_delays)
            if run is None:
                raise PeakaTriggerUnknownError(
                    str(cache_id),
                    mode,
                    f"Peaka cache {cache_id}: the {mode} run request got no clear answer ({exc}) and no "
                    f"new {mode} run of the cache was found (its last one is still "
                    f"{previous_execution_id or 'none'}). The run may have started or be queued: check "
                    "the cache's status and execution history in Peaka before running the task again "
                    "(the provider sent the request once, to never start two runs)",
                ) from exc
            log.warning(
                "Peaka cache %s: adopted %s run %s, which the unanswered request started",
                cache_id,
                mode,
                run.id,
            )
            return run.id
        return None

    def new_run(
        self,
        cache_id: str,
        mode: str,
        project_id: str | None,
        previous: str,
        delays: Sequence[float] = ADOPT_DELAYS,
    ) -> Execution | None:
        """The cache's last run of ``mode`` once it is not ``previous`` (its status read at once, then
        after each of ``delays`` seconds), or ``None``."""
        for delay in delays:
            if delay:
                time.sleep(delay)
            run = self.get_cache_status(cache_id, project_id).executions.get(mode)
            if run is not None and run.id != previous:
                return run
        return None

    def _cancel_path(self, cache_id: str, mode: str, project_id: str | None) -> str:
        if mode not in MODES:
            raise PeakConfigError(f"mode must be one of {MODES}, got {mode!r}")
        s = self.settings
        return self._path(
            project_id, cache_id, s.cancel_full_refresh_path if mode == "full" else s.cancel_incremental_path
        )

    def cancel_run(self, cache_id: str, mode: str, project_id: str | None = None) -> bool:
        """Cancel the cache's RUNNING run of ``mode``: ``True`` when Peaka took the signal (200),
        ``False`` when nothing of that kind was running (404). Best effort at Peaka: the run ends
        CANCELLED and the data cached before stays."""
        try:
            self.request("POST", self._cancel_path(cache_id, mode, project_id))
        except PeakNotFoundError:
            return False
        return True

    async def acancel_run(self, cache_id: str, mode: str, project_id: str | None = None) -> bool:
        """``cancel_run`` without blocking the event loop (the trigger's path)."""
        await self._aload_settings()
        try:
            await self.client.arequest("POST", self._cancel_path(cache_id, mode, project_id))
        except PeakNotFoundError:
            return False
        return True

    def is_cached(
        self, table: Mapping[str, Any] | CacheTable, project_id: str | None = None
    ) -> TableCacheInfo:
        """Peaka's ``isCached`` for one table spec: whether it is cached, whether it can be, and
        which kinds of cache it supports."""
        spec = CacheTable.build(table)
        path = self.settings.is_cached_path.format(
            project_id=path_segment(self.project(project_id), "project_id"),
            catalog_id=path_segment(spec.catalog_id, "catalog_id"),
            schema_name=path_segment(spec.schema_name, "schema_name"),
            table_name=path_segment(spec.table_name, "table_name"),
        )
        try:
            return TableCacheInfo.from_wire(self._json("GET", path))
        except PeakaSpecError as exc:
            raise PeakError(f"Peaka answered GET {path} unexpectedly: {exc}") from None

    def wait_for_cache(
        self,
        cache_id: str,
        project_id: str | None = None,
        *,
        target: str = "COMPLETED",
        mode: str | None = None,
        previous_execution_id: str = "",
        timeout: float = 3600.0,
        poll_interval: float = 30.0,
    ) -> CacheStatus:
        """Poll until the cache (or, with ``mode``, a run newer than ``previous_execution_id``)
        reaches ``target``; ``PeakaCacheFailedError`` on FAILED/CANCELLED/DELETED, ``PeakError``
        after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get_cache_status(cache_id, project_id)
            verdict, reason = evaluate(status, target, mode=mode, previous_execution_id=previous_execution_id)
            if verdict == "done":
                return status
            if verdict == "failed":
                raise PeakaCacheFailedError(cache_id, status.status, f"Peaka cache {cache_id}: {reason}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeakError(f"Peaka cache {cache_id} did not reach {target} in {timeout:g} s ({reason})")
            log.info("Peaka cache %s: %s", cache_id, reason)
            time.sleep(min(poll_interval, remaining))

    # ------------------------------------------------------------------ async (triggers)
    async def _aload_settings(self) -> None:
        """Read the connection without blocking the event loop (once; ``settings`` then holds it)."""
        if "settings" not in self.__dict__:
            self.__dict__["settings"] = self._settings_from(await aget_connection(self.peaka_conn_id))

    async def aget_cache_status(self, cache_id: str, project_id: str | None = None) -> CacheStatus:
        """``get_cache_status`` without blocking the event loop: the transport's async path (httpx),
        with the same retries, deadline, bounded reads and errors as the synchronous one; redirects
        are not followed."""
        await self._aload_settings()
        path = self._path(project_id, cache_id, "/status")
        try:
            reply = await self.client.ajson("GET", path, params={"excludeLogs": "true"})
        except PeakNotFoundError:
            return CacheStatus.gone(str(cache_id))
        return self._status(reply, path)

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call: list the default project's caches."""
        try:
            project = self.project()
            caches = self.list_caches(project)
            if caches is None:  # no listing: any status request proves the key is accepted
                with contextlib.suppress(PeakNotFoundError):
                    self.get_cache_status("connection-test", project)
        except Exception as exc:
            return self.failed_test(exc)
        found = "" if caches is None else f", {len(caches)} caches"
        return self.tested(True, f"Connection successfully tested (project {project}{found})")

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``)."""
        return legacy_form_widgets(PEAKA_CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAKA_UI_BEHAVIOUR)


def _wire(schedule: Schedule | None) -> dict[str, str] | None:
    return schedule.to_wire() if schedule else None

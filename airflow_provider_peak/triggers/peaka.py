"""``PeakaCacheStatusTrigger``: wait for a Peaka cache status in the triggerer, without a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.models.peaka_cache import CacheStatus, evaluate
from airflow_provider_peak.utils.redaction import safe_text
from airflow_provider_peak.version_compat import BaseTrigger, TriggerEvent


class PeakaCacheStatusTrigger(BaseTrigger):
    """Poll a cache's status with a non-blocking HTTP client until it reaches ``target``.

    Yields exactly one event ``{"status": "success"|"failed"|"timeout"|"error", "cache_id",
    "cache_status", "message"}``: ``failed`` on FAILED/CANCELLED/DELETED, ``timeout`` at
    ``end_time``, ``error`` when the API cannot be used (after the hook's retries). With ``mode``,
    the event also holds ``execution``: the followed run as last seen (``id``, ``status``,
    ``error``, ``progress`` counters), when there is one.

    With ``cancel_modes``, the runs of those kinds are cancelled when the wait times out (before the
    event, so the cancel never depends on the task resuming in time; the event's ``cancelled`` maps
    each kind to whether Peaka took the signal) and, on Airflow 3.3+, when a user kills the deferred
    task (mark failed or success, clear). A triggerer restart cancels nothing.

    :param cache_id: the cache.
    :param project_id: its project (``None``: the connection's ``project_id`` extra).
    :param target: the status to wait for.
    :param end_time: give up at this UNIX time.
    :param poll_interval: seconds between polls.
    :param mode: ``incremental`` or ``full`` to wait for a run of that kind newer than
        ``previous_execution_id`` (after triggering a refresh); ``None`` for the cache's status.
    :param previous_execution_id: the run that existed before the refresh (``""``: none).
    :param peaka_conn_id: the ``peaka`` connection.
    :param cancel_modes: kinds of run (``incremental``, ``full``) to cancel on timeout or kill.
    """

    def __init__(
        self,
        *,
        cache_id: str,
        project_id: str | None,
        target: str,
        end_time: float,
        poll_interval: float,
        mode: str | None = None,
        previous_execution_id: str = "",
        peaka_conn_id: str = PeakaHook.default_conn_name,
        cancel_modes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.cache_id = cache_id
        self.project_id = project_id
        self.target = target
        self.end_time = end_time
        self.poll_interval = poll_interval
        self.mode = mode
        self.previous_execution_id = previous_execution_id
        self.peaka_conn_id = peaka_conn_id
        self.cancel_modes = list(cancel_modes)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "cache_id": self.cache_id,
                "project_id": self.project_id,
                "target": self.target,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "mode": self.mode,
                "previous_execution_id": self.previous_execution_id,
                "peaka_conn_id": self.peaka_conn_id,
                # Only when set: a trigger serialised by an earlier release round-trips unchanged.
                **({"cancel_modes": list(self.cancel_modes)} if self.cancel_modes else {}),
            },
        )

    def _event(
        self,
        status: str,
        cache_status: CacheStatus | None,
        message: str,
        cancelled: dict[str, bool] | None = None,
    ) -> TriggerEvent:
        payload: dict[str, Any] = {
            "status": status,
            "cache_id": self.cache_id,
            "cache_status": cache_status.status if cache_status else None,
            "message": message,
        }
        run = cache_status.executions.get(self.mode) if cache_status and self.mode else None
        if run is not None and run.id != self.previous_execution_id:
            payload["execution"] = run.to_dict()
        if cancelled is not None:
            payload["cancelled"] = cancelled
        return TriggerEvent(payload)

    async def _cancel(self, hook: PeakaHook) -> dict[str, bool] | None:
        """Cancel the runs of ``cancel_modes``: whether Peaka took each signal (404: none running)."""
        if not self.cancel_modes:
            return None
        cancelled = {}
        for mode in self.cancel_modes:
            cancelled[mode] = await hook.acancel_run(self.cache_id, mode, self.project_id)
            self.log.warning(
                "Peaka cache %s: %s",
                self.cache_id,
                f"cancelled its {mode} run" if cancelled[mode] else f"no {mode} run was running to cancel",
            )
        return cancelled

    async def on_kill(self) -> None:
        """A user killed the deferred task (Airflow 3.3+): cancel the runs of ``cancel_modes``."""
        if not self.cancel_modes:
            return
        hook = PeakaHook(self.peaka_conn_id)
        try:
            await self._cancel(hook)
        finally:
            await hook.aclose()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = PeakaHook(self.peaka_conn_id)
        try:
            while True:
                status = await hook.aget_cache_status(self.cache_id, self.project_id)
                verdict, reason = evaluate(
                    status, self.target, mode=self.mode, previous_execution_id=self.previous_execution_id
                )
                if verdict != "wait":
                    yield self._event("success" if verdict == "done" else "failed", status, reason)
                    return
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    cancelled = await self._cancel(hook)
                    yield self._event(
                        "timeout", status, f"{self.target} not reached in time: {reason}", cancelled
                    )
                    return
                self.log.info("Peaka cache %s: %s", self.cache_id, reason)
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as exc:  # the task decides what an unusable API means
            message = safe_text(f"{type(exc).__name__}: {exc}", secrets=hook._known_secrets())
            yield self._event("error", None, message)
        finally:
            await hook.aclose()

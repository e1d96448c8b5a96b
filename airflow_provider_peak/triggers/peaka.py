"""``PeakaCacheStatusTrigger``: wait for a Peaka cache status in the triggerer, without a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.models.peaka_cache import evaluate
from airflow_provider_peak.utils.redaction import safe_text
from airflow_provider_peak.version_compat import BaseTrigger, TriggerEvent


class PeakaCacheStatusTrigger(BaseTrigger):
    """Poll a cache's status with a non-blocking HTTP client until it reaches ``target``.

    Yields exactly one event ``{"status": "success"|"failed"|"timeout"|"error", "cache_id",
    "cache_status", "message"}``: ``failed`` on FAILED/CANCELLED/DELETED, ``timeout`` at
    ``end_time``, ``error`` when the API cannot be used (after the hook's retries).

    :param cache_id: the cache.
    :param project_id: its project (``None``: the connection's ``project_id`` extra).
    :param target: the status to wait for.
    :param end_time: give up at this UNIX time.
    :param poll_interval: seconds between polls.
    :param mode: ``incremental`` or ``full`` to wait for a run of that kind newer than
        ``previous_execution_id`` (after triggering a refresh); ``None`` for the cache's status.
    :param previous_execution_id: the run that existed before the refresh (``""``: none).
    :param peaka_conn_id: the ``peaka`` connection.
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
            },
        )

    def _event(self, status: str, cache_status: str | None, message: str) -> TriggerEvent:
        return TriggerEvent(
            {"status": status, "cache_id": self.cache_id, "cache_status": cache_status, "message": message}
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = PeakaHook(self.peaka_conn_id)
        try:
            while True:
                status = await hook.aget_cache_status(self.cache_id, self.project_id)
                verdict, reason = evaluate(
                    status, self.target, mode=self.mode, previous_execution_id=self.previous_execution_id
                )
                if verdict != "wait":
                    yield self._event("success" if verdict == "done" else "failed", status.status, reason)
                    return
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield self._event(
                        "timeout", status.status, f"{self.target} not reached in time: {reason}"
                    )
                    return
                self.log.info("Peaka cache %s: %s", self.cache_id, reason)
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as exc:  # the task decides what an unusable API means
            message = safe_text(f"{type(exc).__name__}: {exc}", secrets=hook._known_secrets())
            yield self._event("error", None, message)
        finally:
            await hook.aclose()

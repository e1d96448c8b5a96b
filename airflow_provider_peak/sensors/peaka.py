"""``PeakaCacheStatusSensor``: wait until a Peaka cache reaches a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook
from airflow_provider_peak.models.peaka_cache import check_target, evaluate
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.version_compat import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)

#: Extra time the deferral is allowed beyond the sensor's timeout, so the trigger's own
#: timeout event (with the last status) normally arrives first.
_DEFER_GRACE = timedelta(seconds=60)


def handle_event(
    event: dict[str, Any] | None, target: str, *, timeout_error: type[Exception] = AirflowSensorTimeout
) -> dict[str, Any]:
    """Turn a ``PeakaCacheStatusTrigger`` event into a return value or the matching error."""
    event = event or {}
    status, cache_id = event.get("status"), str(event.get("cache_id"))
    message = f"Peaka cache {cache_id}: {event.get('message', '')}"
    if status == "success":
        return {"cache_id": cache_id, "status": event.get("cache_status") or target}
    if status == "failed":
        raise PeakaCacheFailedError(cache_id, str(event.get("cache_status")), message)
    if status == "timeout":
        raise timeout_error(message)
    raise PeakError(message)


class PeakaCacheStatusSensor(MappedLabel, BaseSensorOperator):
    """Wait until a Peaka cache reaches ``target`` (COMPLETED by default).

    Fails at once when the cache is FAILED, CANCELLED or DELETED (unless that is the target),
    with the run's error. With ``deferrable=True`` it checks once, then waits in the triggerer
    (``PeakaCacheStatusTrigger``, non-blocking HTTP) without holding a worker slot; otherwise it
    pokes every ``poke_interval`` seconds. Returns ``{"cache_id", "status"}`` (XCom).

    :param cache_id: the cache (templated).
    :param target: the status to wait for: COMPLETED, RUNNING, NOT_INITIALIZED, ... (templated).
    :param project_id: the project (templated); default: the connection's ``project_id`` extra.
    :param peaka_conn_id: the ``peaka`` connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("cache_id", "target", "project_id")
    ui_color = "#f0eaff"
    map_index_label = "{{ task.cache_id }}"

    def __init__(
        self,
        *,
        cache_id: str,
        target: str = "COMPLETED",
        project_id: str | None = None,
        peaka_conn_id: str = PeakaHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cache_id = cache_id
        self.target = target
        self.project_id = project_id
        self.peaka_conn_id = peaka_conn_id
        self.deferrable = deferrable

    def _target(self) -> str:
        return check_target(self.target)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        target = self._target()
        status = PeakaHook(self.peaka_conn_id).get_cache_status(self.cache_id, self.project_id)
        verdict, reason = evaluate(status, target)
        self.log.info("Peaka cache %s: %s", self.cache_id, reason)
        if verdict == "failed":
            raise PeakaCacheFailedError(
                self.cache_id, status.status, f"Peaka cache {self.cache_id}: {reason}"
            )
        if verdict == "done":
            return PokeReturnValue(True, {"cache_id": self.cache_id, "status": status.status})
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        self.defer(
            trigger=PeakaCacheStatusTrigger(
                cache_id=self.cache_id,
                project_id=self.project_id,
                target=self._target(),
                end_time=time.time() + self.timeout,
                poll_interval=self.poke_interval,
                peaka_conn_id=self.peaka_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + _DEFER_GRACE,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        result = handle_event(event, self._target())
        self.log.info("Peaka cache %s is %s", result["cache_id"], result["status"])
        return result

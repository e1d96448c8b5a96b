"""``PeakaCacheStatusSensor``: wait until a Peaka cache reaches a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook
from airflow_provider_peak.models.peaka_cache import MODES, check_target, evaluate
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.ui.links import PeakaCacheLink
from airflow_provider_peak.utils.task_run import wait_deadline
from airflow_provider_peak.version_compat import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)

#: Extra time a deferral is allowed beyond its trigger's ``end_time``, so the trigger's own
#: timeout event (with the last status, after cancelling what it must) arrives first.
DEFER_GRACE = timedelta(seconds=60)


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
    (``PeakaCacheStatusTrigger``, non-blocking HTTP) without holding a worker slot, until the
    earlier of ``timeout`` and ``execution_timeout``; otherwise it pokes every ``poke_interval``
    seconds. Returns ``{"cache_id", "status"}`` (XCom).

    With ``cancel_on_stop=True`` (for a sensor that watches a refresh started with ``wait=False``)
    the cache's running runs are cancelled when the sensor times out or is killed (SIGTERM,
    ``execution_timeout``; while deferred, on Airflow 3.3+).

    :param cache_id: the cache (templated).
    :param target: the status to wait for: COMPLETED, RUNNING, NOT_INITIALIZED, ... (templated).
    :param project_id: the project (templated); default: the connection's ``project_id`` extra.
    :param peaka_conn_id: the ``peaka`` connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param cancel_on_stop: cancel the cache's RUNNING runs (both kinds) on timeout or kill.
    """

    template_fields: Sequence[str] = ("cache_id", "target", "project_id")
    ui_color = "#f0eaff"
    map_index_label = "{{ task.cache_id }}"
    operator_extra_links = (PeakaCacheLink(),)

    def __init__(
        self,
        *,
        cache_id: str,
        target: str = "COMPLETED",
        project_id: str | None = None,
        peaka_conn_id: str = PeakaHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_stop: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cache_id = cache_id
        self.target = target
        self.project_id = project_id
        self.peaka_conn_id = peaka_conn_id
        self.deferrable = deferrable
        self.cancel_on_stop = cancel_on_stop
        self._watching = False

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
        PeakaCacheLink.persist(context, PeakaHook(self.peaka_conn_id), self.project_id, self.cache_id)
        if not self.deferrable:
            self._watching = self.cancel_on_stop
            try:
                return super().execute(context)
            except PeakaCacheFailedError:
                raise  # the run ended on its own
            except BaseException as exc:  # its timeout, execution_timeout, a kill, an unusable API
                self._cancel_running(f"the sensor stopped ({type(exc).__name__})")
                raise
            finally:
                self._watching = False
        done = self.poke(context)
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        end_time = wait_deadline(context, self.execution_timeout, self.timeout)
        self.defer(
            trigger=PeakaCacheStatusTrigger(
                cache_id=self.cache_id,
                project_id=self.project_id,
                target=self._target(),
                end_time=end_time,
                poll_interval=self.poke_interval,
                peaka_conn_id=self.peaka_conn_id,
                cancel_modes=list(MODES) if self.cancel_on_stop else [],
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(end_time - time.time(), 0)) + DEFER_GRACE,
        )

    def on_kill(self) -> None:
        """With ``cancel_on_stop``, cancel the cache's running runs (SIGTERM, ``execution_timeout``)."""
        self._cancel_running("the sensor was killed")

    def _cancel_running(self, why: str) -> None:
        watching, self._watching = self._watching, False
        if not watching:
            return
        hook = PeakaHook(self.peaka_conn_id)  # its own: on_kill may interrupt the poke's request
        for mode in MODES:
            try:
                sent = hook.cancel_run(self.cache_id, mode, self.project_id)
            except Exception as exc:
                self.log.error(
                    "Peaka cache %s: %s; cancelling its %s run failed: %s", self.cache_id, why, mode, exc
                )
                continue
            if sent:
                self.log.warning("Peaka cache %s: %s; cancelled its running %s run", self.cache_id, why, mode)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # A new operator after the deferral: its link is made again, for Airflow stores it as it ends.
        PeakaCacheLink.persist(context, PeakaHook(self.peaka_conn_id), self.project_id, self.cache_id)
        if (event or {}).get("status") == "timeout" and (event or {}).get("cancelled"):
            cancelled = [mode for mode, sent in event["cancelled"].items() if sent]  # type: ignore[index]
            self.log.warning(
                "Peaka cache %s: the sensor timed out; cancelled its running runs: %s",
                self.cache_id,
                ", ".join(cancelled) or "none was running",
            )
        result = handle_event(event, self._target())
        self.log.info("Peaka cache %s is %s", result["cache_id"], result["status"])
        return result

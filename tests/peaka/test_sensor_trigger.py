"""PeakaCacheStatusSensor (poke and deferrable) and PeakaCacheStatusTrigger run to completion."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook
from airflow_provider_peak.sensors.peaka import PeakaCacheStatusSensor
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.version_compat import TriggerEvent
from tests.airflow_context import make_context
from tests.peaka.helpers import PEAKA_KEY, PROJECT, table


def new_cache(peaka, *statuses: str, error: str = "the source query failed") -> str:
    """A cache whose first run walks ``statuses`` (50 ms each)."""
    if statuses:
        peaka.script("orders", *statuses, error=error)
    (result,) = PeakaHook().create_batch_cache(None, [table("orders")])
    return result.cache_id


def sensor(cache_id: str, **kwargs) -> PeakaCacheStatusSensor:
    return PeakaCacheStatusSensor(
        task_id="wait", cache_id=cache_id, **{"poke_interval": 0.02, "timeout": 5, **kwargs}
    )


class TestSensor:
    def test_pokes_until_completed(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "NOT_INITIALIZED", "RUNNING", "COMPLETED")
        assert sensor(cache_id).execute(make_context()) == {"cache_id": cache_id, "status": "COMPLETED"}
        assert peaka.stats["GET cache/{id}/status"] >= 3

    @pytest.mark.parametrize("final", ["FAILED", "CANCELLED"])
    def test_fails_fast_on_a_failed_run(self, peaka, peaka_conn, final):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING", final, error="warehouse unreachable")
        started = time.monotonic()
        with pytest.raises(PeakaCacheFailedError, match=f"cache is {final}") as info:
            sensor(cache_id, timeout=30).execute(make_context())
        assert time.monotonic() - started < 5
        assert info.value.status == final
        if final == "FAILED":
            assert "warehouse unreachable" in str(info.value)

    def test_fails_fast_on_a_deleted_cache(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka)
        PeakaHook().delete_cache(cache_id)
        with pytest.raises(PeakaCacheFailedError, match="cache is DELETED"):
            sensor(cache_id).execute(make_context())

    def test_a_deleted_target_is_success(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka)
        PeakaHook().delete_cache(cache_id)
        assert sensor(cache_id, target="deleted").execute(make_context())["status"] == "DELETED"

    def test_times_out(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")
        with pytest.raises(AirflowSensorTimeout):
            sensor(cache_id, timeout=0.2, poke_interval=0.05).execute(make_context())

    def test_deferrable_checks_once_before_deferring(self, peaka, peaka_conn):
        peaka_conn()
        running = new_cache(peaka, "RUNNING")
        with pytest.raises(TaskDeferred) as info:
            sensor(running, deferrable=True, timeout=60).execute(make_context())
        trigger = info.value.trigger
        assert isinstance(trigger, PeakaCacheStatusTrigger)
        assert trigger.target == "COMPLETED"
        assert 50 < trigger.end_time - time.time() <= 60
        assert info.value.timeout.total_seconds() > 60  # the trigger's own timeout comes first

    def test_deferrable_returns_at_once_when_already_there(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step=0)  # every run is at its last status at once
        cache_id = new_cache(peaka)
        assert sensor(cache_id, deferrable=True).execute(make_context())["status"] == "COMPLETED"

    @pytest.mark.parametrize(
        ("event", "error"),
        [
            (
                {"status": "failed", "cache_status": "FAILED", "message": "cache is FAILED"},
                PeakaCacheFailedError,
            ),
            ({"status": "timeout", "cache_status": "RUNNING", "message": "late"}, AirflowSensorTimeout),
            ({"status": "error", "cache_status": None, "message": "401 UNAUTHORIZED"}, PeakError),
        ],
    )
    def test_execute_complete_maps_every_event(self, event, error):
        with pytest.raises(error, match=event["message"]):
            sensor("c1").execute_complete(make_context(), {**event, "cache_id": "c1"})
        done = {"status": "success", "cache_id": "c1", "cache_status": "COMPLETED", "message": "ok"}
        assert sensor("c1").execute_complete(make_context(), done) == {
            "cache_id": "c1",
            "status": "COMPLETED",
        }

    def test_an_unknown_target_is_a_config_error(self, peaka, peaka_conn):
        peaka_conn()
        with pytest.raises(PeakError, match="target must be one of"):
            sensor("c1", target="READY").execute(make_context())
        assert peaka.requests == 0


def run_trigger(trigger: PeakaCacheStatusTrigger) -> list[TriggerEvent]:
    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def trigger_for(cache_id: str, **kwargs) -> PeakaCacheStatusTrigger:
    args = {"project_id": None, "target": "COMPLETED", "end_time": time.time() + 5, "poll_interval": 0.02}
    return PeakaCacheStatusTrigger(cache_id=cache_id, **{**args, **kwargs})


class TestTrigger:
    def test_serialization_round_trips(self):
        trigger = trigger_for("c1", project_id="p", end_time=123.0, mode="full", previous_execution_id="r1")
        classpath, kwargs = trigger.serialize()
        assert classpath == "airflow_provider_peak.triggers.peaka.PeakaCacheStatusTrigger"
        assert kwargs == {
            "cache_id": "c1",
            "project_id": "p",
            "target": "COMPLETED",
            "end_time": 123.0,
            "poll_interval": 0.02,
            "mode": "full",
            "previous_execution_id": "r1",
            "peaka_conn_id": "peaka_default",
        }
        assert PeakaCacheStatusTrigger(**kwargs).serialize() == (classpath, kwargs)

    def test_runs_to_completion(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "NOT_INITIALIZED", "RUNNING", "RUNNING", "COMPLETED")
        assert run_trigger(trigger_for(cache_id)) == [
            TriggerEvent(
                {
                    "status": "success",
                    "cache_id": cache_id,
                    "cache_status": "COMPLETED",
                    "message": "cache is COMPLETED",
                }
            )
        ]
        assert peaka.stats["GET cache/{id}/status"] >= 4

    def test_follows_a_new_run_after_a_refresh(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka)
        hook = PeakaHook()
        before = hook.wait_for_cache(cache_id, poll_interval=0.02, timeout=5).execution_id("full")
        peaka.script(cache_id, "RUNNING", "FAILED", error="disk full")
        hook.trigger_full_refresh(cache_id)
        (event,) = run_trigger(trigger_for(cache_id, mode="full", previous_execution_id=before))
        assert event.payload["status"] == "failed"
        assert event.payload["cache_status"] == "FAILED"
        assert event.payload["message"].endswith("is FAILED: disk full")

    def test_times_out_with_the_last_status(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")
        (event,) = run_trigger(trigger_for(cache_id, end_time=time.time() + 0.2, poll_interval=0.05))
        assert event.payload["status"] == "timeout"
        assert event.payload["cache_status"] == "RUNNING"

    def test_retries_transient_errors_then_succeeds(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step=0)
        cache_id = new_cache(peaka)
        peaka.fail_next(503, count=2)
        (event,) = run_trigger(trigger_for(cache_id))
        assert event.payload["status"] == "success"
        assert peaka.stats["503"] == 2

    def test_a_refused_key_is_an_error_event_without_the_key(self, peaka, peaka_conn, caplog):
        caplog.set_level(logging.DEBUG)
        peaka_conn(password="rejected-key-13579")
        (event,) = run_trigger(trigger_for("c1"))
        assert event.payload["status"] == "error"
        assert event.payload["message"].startswith(
            f"PeakAuthError: 401 UNAUTHORIZED on GET /api/v1/data/projects/{PROJECT}/cache/c1/status"
        )
        assert "rejected-key-13579" not in event.payload["message"] + caplog.text
        assert PEAKA_KEY not in caplog.text

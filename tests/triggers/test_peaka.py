"""PeakaCacheStatusTrigger: serialises to primitives and runs to exactly one event."""

from __future__ import annotations

import asyncio
import logging
import time

from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from airflow_provider_peak.version_compat import TriggerEvent
from tests.fixtures import PEAKA_KEY, PROJECT, new_cache


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
        peaka.reset(step="read")  # one status per poll, however slow the machine
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
        assert peaka.stats["GET cache/{id}/status"] == 4

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


class TestCancel:
    def test_serialization_round_trips_with_cancel_modes(self):
        trigger = trigger_for("c1", mode="full", cancel_modes=["full"])
        classpath, kwargs = trigger.serialize()
        assert kwargs["cancel_modes"] == ["full"]
        assert PeakaCacheStatusTrigger(**kwargs).serialize() == (classpath, kwargs)

    def test_a_timeout_cancels_before_the_event(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")  # the full run runs until cancelled
        trigger = trigger_for(
            cache_id, end_time=time.time() + 0.2, poll_interval=0.05, cancel_modes=["incremental", "full"]
        )
        (event,) = run_trigger(trigger)
        assert event.payload["status"] == "timeout"
        assert event.payload["cancelled"] == {"incremental": False, "full": True}  # 404 tolerated
        assert PeakaHook().get_cache_status(cache_id).status == "CANCELLED"

    def test_on_kill_cancels_the_run(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")
        asyncio.run(trigger_for(cache_id, cancel_modes=["full"]).on_kill())
        assert peaka.stats["POST cache/{id}/cancelFullRefreshUpdate"] == 1
        assert PeakaHook().get_cache_status(cache_id).status == "CANCELLED"
        asyncio.run(trigger_for(cache_id).on_kill())  # nothing to cancel: no request
        assert peaka.stats["POST cache/{id}/cancelFullRefreshUpdate"] == 1

    def test_a_completed_run_comes_with_its_progress(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step="read")
        cache_id = new_cache(peaka, "RUNNING", "COMPLETED")
        (event,) = run_trigger(trigger_for(cache_id, mode="full"))
        assert event.payload["status"] == "success"
        assert event.payload["execution"]["progress"] == {
            "cached_records": 100,
            "inserted_records": 0,
            "updated_records": 0,
            "deleted_records": 0,
        }
        assert "cancelled" not in event.payload

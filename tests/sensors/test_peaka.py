"""PeakaCacheStatusSensor: pokes, fails fast, times out, and defers after one check."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook
from airflow_provider_peak.sensors.peaka import PeakaCacheStatusSensor
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from tests.fixtures import make_context, new_cache


def sensor(cache_id: str, **kwargs) -> PeakaCacheStatusSensor:
    return PeakaCacheStatusSensor(
        task_id="wait", cache_id=cache_id, **{"poke_interval": 0.02, "timeout": 5, **kwargs}
    )


class TestSensor:
    def test_pokes_until_completed(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step="read")  # one status per poke, however slow the machine
        cache_id = new_cache(peaka, "NOT_INITIALIZED", "RUNNING", "COMPLETED")
        assert sensor(cache_id).execute(make_context()) == {"cache_id": cache_id, "status": "COMPLETED"}
        assert peaka.stats["GET cache/{id}/status"] == 3

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


class TestCancelOnStop:
    def test_a_timeout_cancels_the_running_runs_and_a_404_is_tolerated(self, peaka, peaka_conn, capfd):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")  # its full run runs until cancelled
        with pytest.raises(AirflowSensorTimeout):
            sensor(cache_id, timeout=0.2, poke_interval=0.05, cancel_on_stop=True).execute(make_context())
        # Both kinds are asked: the full run is cancelled, no incremental run was running (404).
        assert peaka.stats["POST cache/{id}/cancelFullRefreshUpdate"] == 1
        assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
        assert peaka.stats["404"] == 1
        assert PeakaHook().get_cache_status(cache_id).status == "CANCELLED"
        assert "cancelled its running full run" in "".join(capfd.readouterr())

    def test_by_default_a_sensor_cancels_nothing(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = new_cache(peaka, "RUNNING")
        with pytest.raises(AirflowSensorTimeout):
            sensor(cache_id, timeout=0.2, poke_interval=0.05).execute(make_context())
        assert not [k for k in peaka.stats if "cancel" in k]
        assert PeakaHook().get_cache_status(cache_id).status == "RUNNING"

    def test_deferred_the_deadline_is_the_earlier_of_timeout_and_execution_timeout(self, peaka, peaka_conn):
        peaka_conn()
        running = new_cache(peaka, "RUNNING")
        started = datetime.now(timezone.utc)
        task = sensor(
            running,
            deferrable=True,
            timeout=3600,
            execution_timeout=timedelta(seconds=30),
            cancel_on_stop=True,
        )
        with pytest.raises(TaskDeferred) as info:
            task.execute(make_context(start_date=started))
        trigger = info.value.trigger
        assert abs(trigger.end_time - (started.timestamp() + 30)) < 1
        assert trigger.cancel_modes == ["incremental", "full"]

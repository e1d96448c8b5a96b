"""The Peak workflow triggers over real HTTP against the emulator: the run trigger's one event (and
its tolerance of transient errors, within a bound), and the event trigger firing once per run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook
from airflow_provider_peak.triggers.peak_workflow import PeakWorkflowExecutionTrigger, PeakWorkflowRunTrigger
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS, dag_bag


def events_of(trigger) -> list:
    async def collect() -> list:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def run_trigger(execution_id: str, workflow_id: str = "101", **kwargs) -> PeakWorkflowRunTrigger:
    args = {"end_time": time.time() + 30, "poll_interval": 0.01}
    return PeakWorkflowRunTrigger(workflow_id=workflow_id, execution_id=execution_id, **{**args, **kwargs})


class TestRunTrigger:
    def test_serialization_round_trips(self):
        classpath, kwargs = run_trigger("e1", end_time=12.0).serialize()
        assert classpath == "airflow_provider_peak.triggers.peak_workflow.PeakWorkflowRunTrigger"
        assert kwargs == {
            "workflow_id": "101",
            "execution_id": "e1",
            "end_time": 12.0,
            "poll_interval": 0.01,
            "peak_conn_id": "peak_default",
            "max_poll_failures": 5,
        }
        assert PeakWorkflowRunTrigger(**kwargs).serialize() == (classpath, kwargs)

    def test_one_event_per_ending(self, workflows, peak_conn):
        peak_conn()
        hook = PeakWorkflowHook()
        good, bad = hook.run_workflow(101), hook.run_workflow(102)
        (success,) = events_of(run_trigger(good))
        assert (success["status"], success["run_status"], success["failed_steps"]) == (
            "success",
            "Success",
            [],
        )
        (failure,) = events_of(run_trigger(bad, workflow_id="102"))
        assert (failure["status"], failure["run_status"], failure["failed_steps"]) == (
            "failed",
            "Failed",
            ["score"],
        )

    def test_transient_errors_are_outlived_within_their_bound(self, emu, workflows, peak_conn):
        peak_conn()
        execution_id = PeakWorkflowHook().run_workflow(101)
        emu.inject("status", status=500, count=2, route="workflow_get")
        (event,) = events_of(run_trigger(execution_id, max_poll_failures=2))
        assert event["status"] == "success"
        emu.inject("status", status=500, count=3, route="workflow_get")
        (event,) = events_of(run_trigger(execution_id, max_poll_failures=2))
        assert event["status"] == "error" and "500" in event["message"]

    def test_the_deadline_ends_the_wait_and_says_the_run_goes_on(self, workflows, peak_conn):
        peak_conn()
        workflows.define(51, [f"s{i}" for i in range(100_000)])
        execution_id = PeakWorkflowHook().run_workflow(51)
        started = time.monotonic()
        (event,) = events_of(run_trigger(execution_id, workflow_id="51", end_time=time.time() + 0.5))
        assert time.monotonic() - started < 5
        assert (event["status"], event["run_status"]) == ("timeout", "Running")
        assert f"run {execution_id} goes on in Peak" in event["message"]


@pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS, reason="an event trigger of Airflow 3's asset watchers (Airflow 2.11 refuses it)"
)
class TestExecutionTrigger:
    def test_serialization_is_stable(self):
        trigger = PeakWorkflowExecutionTrigger(
            workflow_id=101, statuses=["success", "Failed"], poll_interval=5
        )
        classpath, kwargs = trigger.serialize()
        assert classpath == "airflow_provider_peak.triggers.peak_workflow.PeakWorkflowExecutionTrigger"
        assert kwargs == {
            "workflow_id": "101",
            "statuses": ["Success", "Failed"],
            "poll_interval": 5.0,
            "lookback": 0.0,
            "peak_conn_id": "peak_default",
        }

    def test_fires_once_per_run_in_the_chosen_status(self, workflows, peak_conn):
        peak_conn()
        workflows.reset(step=0)  # runs end at once
        workflows.define(52, ["a", "b"], allow_concurrent=True)
        hook = PeakWorkflowHook()
        first = [hook.run_workflow(52), hook.run_workflow(52)]
        workflows.script(52, "b")
        hook.run_workflow(52)  # fails: not announced
        trigger = PeakWorkflowExecutionTrigger(workflow_id=52, poll_interval=0.01, lookback=60)

        async def scenario() -> tuple[list, list, list]:
            events: asyncio.Queue = asyncio.Queue()

            async def pump() -> None:
                async for event in trigger.run():
                    await events.put(event.payload)

            pumping = asyncio.create_task(pump())
            before = [await asyncio.wait_for(events.get(), 10) for _ in range(2)]
            polls = workflows.stats["workflow_list 200"]
            while workflows.stats["workflow_list 200"] < polls + 3:  # three more polls of the same runs
                await asyncio.sleep(0.01)
            assert events.empty()  # nothing fired twice
            later = await asyncio.to_thread(hook.run_workflow, 52)
            after = [await asyncio.wait_for(events.get(), 10)]
            pumping.cancel()
            return before, after, [later]

        before, after, later = asyncio.run(scenario())
        assert [event["execution_id"] for event in before] == first  # oldest first
        assert {event["status"] for event in before} == {"Success"}
        assert [event["execution_id"] for event in after] == later


@pytest.mark.skipif(
    AIRFLOW_V_3_0_PLUS, reason="Airflow 2.11 only: Airflow 3 schedules DAGs on event triggers"
)
def test_airflow_2_refuses_the_event_trigger_when_the_dag_is_parsed(tmp_path: Path):
    dag_file = tmp_path / "on_workflow_runs.py"
    dag_file.write_text(
        "from datetime import datetime\n"
        "from airflow.providers.common.compat.sdk import dag\n"
        "from airflow_provider_peak.triggers.peak_workflow import PeakWorkflowExecutionTrigger\n"
        "trigger = PeakWorkflowExecutionTrigger(workflow_id=101)\n"
        "@dag(schedule=None, start_date=datetime(2026, 1, 1))\n"
        "def on_workflow_runs():\n"
        "    pass\n"
        "on_workflow_runs()\n"
    )
    (error,) = dag_bag(str(dag_file)).import_errors.values()
    assert "needs Airflow 3.0 or later; on Airflow 2 use PeakWorkflowRunSensor" in error

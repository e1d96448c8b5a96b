"""``PeakWorkflowHook`` over real HTTP against the emulator's workflows API."""

from __future__ import annotations

import pytest

from airflow_provider_peak.exceptions import (
    PeakConfigError,
    PeakConflictError,
    PeakConnectionError,
    PeakNotFoundError,
    PeakServerError,
    PeakWorkflowFailedError,
    PeakWorkflowStartUnknownError,
    PeakWorkflowTimeoutError,
)
from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook
from tests.fixtures import API_KEY


def executes(workflows, status: int | str = 200) -> int:
    return workflows.stats[f"workflow_execute {status}"]


class TestRunWorkflow:
    def test_a_run_that_succeeds_carries_its_parameters(self, workflows, peak_conn):
        peak_conn()
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow(
            101,
            {"day": "2026-01-02"},
            {"train": {"epochs": 3}},
            ["train", {"stepName": "publish", "runDAG": False}],
        )
        run = hook.wait_for_execution(101, execution_id, poll_interval=0.01)
        assert (run.status, run.succeeded, run.failed_steps) == ("Success", True, [])
        assert [step.name for step in run.steps] == ["prepare", "train", "publish"]
        (sent,) = workflows.executions(101)
        assert sent["request"] == {
            "params": {"global": {"day": "2026-01-02"}, "stepWise": {"train": {"epochs": 3}}},
            "stepsToRun": [{"stepName": "train", "runDAG": True}, {"stepName": "publish", "runDAG": False}],
        }
        assert workflows.stats["runs_started"] == 1

    def test_a_failed_run_names_its_step_and_shows_its_last_log_lines(self, workflows, peak_conn):
        peak_conn(workflow_url_template="{base_url}/runs/{workflow_id}/{execution_id}")
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow("102")
        run = hook.wait_for_execution("102", execution_id, poll_interval=0.01)
        assert (run.status, run.failed_steps) == ("Failed", ["score"])
        error = hook.failure(run)
        assert isinstance(error, PeakWorkflowFailedError)
        assert (error.status, error.failed_steps, error.execution_id) == ("Failed", ["score"], execution_id)
        text = str(error)
        assert text.startswith(f"Peak workflow 102 run {execution_id} ended Failed: step score failed")
        assert "score: working on part 5 of 5" in text and text.count("score: ERROR the step failed") == 1
        assert f"/runs/102/{execution_id}" in text

    def test_an_unknown_workflow_and_bad_input_are_clear(self, workflows, peak_conn):
        peak_conn()
        hook = PeakWorkflowHook()
        with pytest.raises(PeakNotFoundError, match="workflow 999 not found"):
            hook.run_workflow(999)
        with pytest.raises(PeakConfigError, match="workflow_id must be a Peak id"):
            hook.run_workflow("../tables")
        with pytest.raises(PeakConfigError, match=r"workflow_params\['x'\] must be a single value"):
            hook.run_workflow(101, {"x": {"nested": 1}})
        assert executes(workflows) == 0

    def test_409_when_a_run_is_active_and_concurrency_is_off(self, workflows, peak_conn):
        peak_conn()
        hook = PeakWorkflowHook()
        first = hook.run_workflow(101)
        with pytest.raises(PeakConflictError, match="conflicting state"):
            hook.run_workflow(101)
        assert [run["executionId"] for run in workflows.executions(101)] == [first]
        assert executes(workflows, 409) == 1  # a 409 is never retried

    def test_429_queue_full_is_retried_and_starts_one_run(self, emu, workflows, peak_conn):
        peak_conn()
        emu.inject("status", status=429, count=2, retry_after=0, route="workflow_execute")
        execution_id = PeakWorkflowHook().run_workflow(101)
        assert [run["executionId"] for run in workflows.executions(101)] == [execution_id]
        assert (executes(workflows, 429), executes(workflows)) == (2, 1)

    def test_a_lost_reply_is_adopted_without_a_second_run(self, emu, workflows, peak_conn):
        peak_conn()
        emu.inject("drop_after_apply", route="workflow_execute")
        execution_id = PeakWorkflowHook().run_workflow(101)
        assert [run["executionId"] for run in workflows.executions(101)] == [execution_id]
        assert workflows.stats["workflow_execute dropped"] == 1
        assert workflows.stats["runs_started"] == 1

    def test_a_5xx_after_the_run_started_is_adopted_without_a_second_run(self, emu, workflows, peak_conn):
        peak_conn()
        emu.inject("status_after_apply", status=502, route="workflow_execute")
        execution_id = PeakWorkflowHook().run_workflow(101)
        assert [run["executionId"] for run in workflows.executions(101)] == [execution_id]
        assert executes(workflows, 502) == 1 and workflows.stats["runs_started"] == 1

    def test_a_5xx_is_not_sent_again_and_says_the_run_may_have_started(self, emu, workflows, peak_conn):
        peak_conn()
        emu.inject("status", status=503, count=1, route="workflow_execute")
        with pytest.raises(PeakWorkflowStartUnknownError, match="The run may have started") as caught:
            PeakWorkflowHook().run_workflow(101, adopt_delays=(0.0,))
        assert caught.value.workflow_id == "101"
        assert executes(workflows, 503) == 1 and workflows.stats["runs_started"] == 0

    def test_a_refused_connection_is_retried_as_nothing_was_sent(self, workflows, set_conn):
        # A port nothing listens on: every attempt fails to connect, so every retry is safe.
        set_conn(
            "peak_default",
            conn_type="peak",
            host="http://127.0.0.1:9",
            password=API_KEY,
            extra={"max_retries": 2, "backoff_initial": 0.01, "backoff_max": 0.01},
        )
        hook = PeakWorkflowHook()
        with pytest.raises(PeakConnectionError, match="could not reach Peak"):
            hook.run_workflow(101, request=_request())
        assert hook.stats["retries"] == 2


def _request():
    from airflow_provider_peak.hooks.peak_workflow import RunRequest

    return RunRequest("101", "2026-01-01T00:00:00.000Z")


class TestReadRuns:
    def test_logs_are_paged_across_next_token(self, workflows, peak_conn):
        peak_conn()
        workflows.define(7, ["only"], log_lines=8)
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow(7)
        hook.wait_for_execution(7, execution_id, poll_interval=0.01)
        before = workflows.stats["workflow_logs 200"]
        lines = list(hook.iter_logs(7, execution_id, "only"))
        assert [line.split(" ", 1)[1] for line in lines] == [
            f"only: working on part {i} of 8" for i in range(1, 9)
        ]
        assert workflows.stats["workflow_logs 200"] - before == 3  # 3 + 3 + 2 lines
        assert hook.tail_logs(7, execution_id, "only", lines=2)[-1].endswith("part 8 of 8")

    def test_list_executions_pages_and_filters(self, workflows, peak_conn):
        peak_conn()
        workflows.define(8, ["a", "b"], allow_concurrent=True)
        hook = PeakWorkflowHook()
        started = [hook.run_workflow(8) for _ in range(5)]
        workflows.script(8, "b")
        failed = hook.run_workflow(8)
        for execution_id in [*started, failed]:
            hook.wait_for_execution(8, execution_id, poll_interval=0.01)
        runs = hook.list_executions(8, page_size=2)
        assert [run.execution_id for run in runs] == [failed, *reversed(started)]  # newest first
        assert [run.execution_id for run in hook.list_executions(8, statuses=["failed"])] == [failed]
        assert len(hook.list_executions(8, page_size=2, max_pages=2)) == 4

    def test_a_poll_outlives_transient_server_errors_within_its_bound(self, emu, workflows, peak_conn):
        peak_conn()
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow(101)
        emu.inject("status", status=500, count=3, route="workflow_get")
        run = hook.wait_for_execution(101, execution_id, poll_interval=0.01, max_poll_failures=3)
        assert run.succeeded
        emu.inject("status", status=500, count=3, route="workflow_get")
        with pytest.raises(PeakServerError, match="injected by the emulator"):
            hook.wait_for_execution(101, execution_id, poll_interval=0.01, max_poll_failures=2)

    def test_a_wait_past_its_deadline_says_the_run_goes_on(self, workflows, peak_conn):
        peak_conn()
        workflows.define(9, [f"s{i}" for i in range(10_000)])
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow(9)
        with pytest.raises(PeakWorkflowTimeoutError, match="goes on in Peak") as caught:
            hook.wait_for_execution(9, execution_id, poll_interval=0.01, timeout=0.2)
        assert (caught.value.execution_id, caught.value.status) == (execution_id, "Running")

    def test_a_run_summary_names_the_workflow_and_links_the_run(self, emu, workflows, peak_conn):
        peak_conn(workflow_url_template="{base_url}/runs/{workflow_id}/{execution_id}")
        workflows.define(8, ["a"], name="line one\nline two " + "x" * 500)
        hook = PeakWorkflowHook()
        execution_id = hook.run_workflow(8)
        run = hook.wait_for_execution(8, execution_id, poll_interval=0.01)
        summary = hook.run_summary(run)
        figures = ("workflow_id", "execution_id", "status", "failed_steps", "seconds")
        assert {k: summary[k] for k in figures} == {
            "workflow_id": "8",
            "execution_id": execution_id,
            "status": "Success",
            "failed_steps": [],
            "seconds": 0.0,  # the emulator's steps last one read each: no time
        }
        assert summary["url"] == f"{emu.url.rstrip('/')}/runs/8/{execution_id}"
        name = summary["workflow_name"]  # a server's text: one line, bounded
        assert name == ("line one\\nline two " + "x" * 500)[:200]
        # A workflow whose details cannot be read still has its summary, without a name.
        emu.inject("status", status=404, count=1, route="workflow_describe")
        assert hook.run_summary(run)["workflow_name"] is None
        assert workflows.stats["workflow_describe 404"] == 1

    def test_workflows_base_on_another_host_is_refused(self, workflows, peak_conn):
        peak_conn(workflows_base="https://elsewhere.example/workflows/api/v1")
        with pytest.raises(PeakConfigError, match="credentials are only ever sent to the Base URL's host"):
            PeakWorkflowHook().run_workflow(101)

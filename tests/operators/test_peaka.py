"""Peaka operators run with ``execute(context)`` against the emulator."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException, TaskDeferred

from airflow_provider_peak.exceptions import PeakaTriggerUnknownError, PeakConfigError, PeakError
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook
from airflow_provider_peak.operators.peaka import (
    PeakaBatchCacheError,
    PeakaCacheRefreshOperator,
    PeakaCreateBatchCacheOperator,
)
from airflow_provider_peak.triggers.peaka import PeakaCacheStatusTrigger
from tests.fixtures import CATALOG, PEAKA_KEY, PROJECT, cache_table, make_context

TABLES = [
    cache_table("customers"),
    cache_table("charges", incremental_schedule="PT6H"),
    cache_table("invoices", incremental_schedule=timedelta(hours=6), full_refresh_schedule=timedelta(days=1)),
]


def create(**kwargs):
    return PeakaCreateBatchCacheOperator(task_id="create", **{"tables": TABLES, **kwargs})


class TestCreateBatchCache:
    def test_creates_every_table_and_pushes_the_ids(self, peaka, peaka_conn):
        peaka_conn()
        context = make_context()
        returned = create().execute(context)
        ids = {c["tableName"]: c["id"] for c in peaka.caches(PROJECT)}
        assert returned == [ids["customers"], ids["charges"], ids["invoices"]]
        assert context["ti"].pushed["cache_ids"] == returned
        summary = context["ti"].pushed["summary"]
        assert summary["created"] == returned
        assert summary["existing"] == summary["failed"] == []
        assert summary["project_id"] == PROJECT

    def test_failed_tables_fail_the_task_after_reporting_each(self, peaka, peaka_conn, caplog):
        peaka_conn()
        peaka.missing.update({"charges", "invoices"})
        context = make_context()
        with pytest.raises(PeakaBatchCacheError) as info:
            create().execute(context)
        assert info.value.failed == {
            f"{CATALOG}/payment.charges": f"table payment.charges not found in catalog {CATALOG}",
            f"{CATALOG}/payment.invoices": f"table payment.invoices not found in catalog {CATALOG}",
        }
        assert str(info.value).startswith("2 of 3 Peaka caches were not created:")
        # The cache that was created is still handed on (e.g. for clean-up).
        (customers,) = peaka.caches(PROJECT)
        assert context["ti"].pushed["cache_ids"] == [customers["id"]]

    def test_item_failures_can_be_tolerated(self, peaka, peaka_conn):
        peaka_conn()
        peaka.missing.add("charges")
        context = make_context()
        assert len(create(fail_on_item_error=False).execute(context)) == 2
        summary = context["ti"].pushed["summary"]
        assert [i["outcome"] for i in summary["items"]] == ["created", "failed", "created"]
        assert summary["failed"] == [
            {
                "table": "627249916703408649/payment.charges",
                "error": "table payment.charges not found in catalog 627249916703408649",
            }
        ]

    def test_a_rerun_finds_the_caches_instead_of_duplicating_them(self, peaka, peaka_conn):
        peaka_conn()
        first = create(tables=TABLES[:2]).execute(make_context())
        peaka.reset_stats()
        context = make_context()
        second = create().execute(context)
        summary = context["ti"].pushed["summary"]
        assert summary["existing"] == first == second[:2]
        assert len(summary["created"]) == 1
        assert [i["outcome"] for i in summary["items"]] == ["exists", "exists", "created"]
        assert len(peaka.caches(PROJECT)) == 3
        assert peaka.stats["POST cache/batch"] == 1  # only the new table was sent
        # A third run sends nothing at all and returns the same ids.
        peaka.reset_stats()
        context = make_context()
        assert create().execute(context) == second
        assert context["ti"].pushed["summary"]["created"] == []
        assert "POST cache/batch" not in peaka.stats

    def test_without_the_lookup_a_rerun_reports_peakas_conflict(self, peaka, peaka_conn):
        peaka_conn()
        create(tables=TABLES[:1]).execute(make_context())
        with pytest.raises(PeakaBatchCacheError, match=r"a cache already exists for payment\.customers"):
            create(tables=TABLES[:1], skip_existing=False).execute(make_context())
        assert len(peaka.caches(PROJECT)) == 1

    def test_bad_durations_fail_before_any_request(self, peaka, peaka_conn):
        peaka_conn()
        bad = [*TABLES, cache_table("refunds", full_refresh_schedule="every day")]
        with pytest.raises(PeakConfigError, match="table 3: full_refresh_schedule: 'every day'"):
            create(tables=bad).execute(make_context())
        assert peaka.requests == 0

    def test_templated_fields(self):
        assert PeakaCreateBatchCacheOperator.template_fields == ("tables", "project_id")


def make_cache(name: str = "orders") -> str:
    (result,) = PeakaHook().create_batch_cache(None, [cache_table(name)])
    PeakaHook().wait_for_cache(result.cache_id, poll_interval=0.02, timeout=5)
    return result.cache_id


REQUEST = "peak.peaka_refresh_request"


def run_id(cache_id: str, mode: str = "full") -> str:
    return PeakaHook().get_cache_status(cache_id).execution_id(mode)


def refresh(cache_id: str, **kwargs):
    return PeakaCacheRefreshOperator(
        task_id="refresh", cache_id=cache_id, poll_interval=0.02, **{"timeout": 5, **kwargs}
    )


class TestCacheRefresh:
    @pytest.mark.parametrize(
        ("mode", "route"), [("incremental", "incrementalUpdate"), ("full", "fullRefreshUpdate")]
    )
    def test_waits_for_the_run_it_started(self, peaka, peaka_conn, mode, route):
        peaka_conn()
        cache_id = make_cache()
        # The previous full run is COMPLETED; the new one takes a while.
        peaka.script(cache_id, "RUNNING", "RUNNING", "RUNNING", "COMPLETED")
        peaka.reset_stats()
        result = refresh(cache_id, mode=mode).execute(make_context())
        assert result == {"cache_id": cache_id, "mode": mode, "status": "COMPLETED"}
        assert peaka.stats[f"POST cache/{{id}}/{route}"] == 1
        assert peaka.stats["GET cache/{id}/status"] >= 4  # it saw the new run running

    def test_a_5xx_after_peaka_started_the_run_follows_that_run_and_starts_no_other(
        self, peaka_emu, peaka, peaka_conn
    ):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "RUNNING", "RUNNING", "COMPLETED")
        peaka.reset_stats()
        peaka_emu.inject("status_after_apply", status=503, route="peaka_trigger")
        context = make_context()
        assert refresh(cache_id).execute(context)["status"] == "COMPLETED"
        assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 1
        assert peaka.stats["incremental runs started"] == 1
        summary = context["ti"].pushed["summary"]
        assert summary["started"] is True
        assert summary["execution_id"] == PeakaHook().get_cache_status(cache_id).execution_id("incremental")

    def test_a_retry_adopts_the_run_an_earlier_try_requested(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "RUNNING", "RUNNING", "COMPLETED")
        context = make_context(try_number=2)
        # What the earlier try kept before it sent its request, which Peaka acted on.
        context["task_state_store"].set(REQUEST, {"mode": "full", "previous_execution_id": run_id(cache_id)})
        PeakaHook().trigger_run(cache_id, "full")
        peaka.reset_stats()
        # on_running="fail": the RUNNING run is this task run's own.
        assert refresh(cache_id, mode="full", on_running="fail").execute(context)["status"] == "COMPLETED"
        assert peaka.stats["full runs started"] == 0
        assert context["ti"].pushed["summary"]["started"] is True
        assert context["ti"].pushed["summary"]["execution_id"] == run_id(cache_id)

    def test_a_retry_after_the_requested_run_failed_starts_another(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "FAILED")
        context = make_context(try_number=2)
        context["task_state_store"].set(REQUEST, {"mode": "full", "previous_execution_id": run_id(cache_id)})
        PeakaHook().trigger_run(cache_id, "full")
        failed = run_id(cache_id)
        peaka.reset_stats()
        assert refresh(cache_id, mode="full").execute(context)["status"] == "COMPLETED"
        assert peaka.stats["full runs started"] == 1
        assert context["ti"].pushed["summary"]["execution_id"] not in (failed, "")
        assert context["task_state_store"].get(REQUEST)["previous_execution_id"] == failed

    def test_a_retry_that_finds_no_run_of_the_request_fails_without_sending_it(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        context = make_context(try_number=2)
        context["task_state_store"].set(REQUEST, {"mode": "full", "previous_execution_id": run_id(cache_id)})
        peaka.reset_stats()
        with pytest.raises(PeakaTriggerUnknownError, match=r"earlier try .* 'peak.peaka_refresh_request'"):
            refresh(cache_id, mode="full").execute(context)  # the status is read 3 times, over 7 s
        assert peaka.stats["full runs started"] == 0
        assert peaka.stats["GET cache/{id}/status"] == 3

    def test_the_request_is_kept_unless_peaka_surely_did_not_act(self, peaka_emu, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka_emu.inject("status_after_apply", status=503, route="peaka_trigger")
        context = make_context()
        refresh(cache_id).execute(context)
        assert context["task_state_store"].get(REQUEST)["mode"] == "incremental"
        peaka_emu.clear_faults()
        peaka_emu.inject("status", status=400, route="peaka_trigger")
        context = make_context(run_id="manual__2026-01-02T00:00:00+00:00")  # another task run
        with pytest.raises(PeakError):
            refresh(cache_id).execute(context)
        assert context["task_state_store"].get(REQUEST) is None
        assert peaka.stats["incremental runs started"] == 1

    def test_a_failed_run_fails_the_task(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "RUNNING", "CANCELLED")
        with pytest.raises(PeakaCacheFailedError, match=r"incremental run .* is CANCELLED"):
            refresh(cache_id).execute(make_context())

    def test_without_wait_it_returns_once_started(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "RUNNING")
        assert refresh(cache_id, wait=False).execute(make_context())["status"] == "TRIGGERED"

    def test_deferrable_hands_the_previous_run_to_the_trigger(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        before = PeakaHook().get_cache_status(cache_id).execution_id("full")
        with pytest.raises(TaskDeferred) as info:
            refresh(cache_id, mode="full", deferrable=True).execute(make_context())
        trigger = info.value.trigger
        assert isinstance(trigger, PeakaCacheStatusTrigger)
        assert (trigger.mode, trigger.previous_execution_id, trigger.cache_id) == ("full", before, cache_id)
        assert info.value.method_name == "execute_complete"

    def test_a_missing_cache_is_a_typed_error(self, peaka, peaka_conn, caplog):
        caplog.set_level(logging.DEBUG)
        peaka_conn()
        with pytest.raises(Exception, match="404 NOT_FOUND") as info:
            refresh("no-such-cache").execute(make_context())
        assert info.value.status == 404
        assert PEAKA_KEY not in caplog.text + str(info.value)

    def test_an_unknown_mode_is_refused_at_parse_time(self):
        with pytest.raises(PeakConfigError, match="mode must be one of"):
            PeakaCacheRefreshOperator(task_id="r", cache_id="c", mode="partial")


def running_cache(peaka, *statuses: str) -> tuple[str, str]:
    """A cache whose incremental run is RUNNING (then walks ``statuses``), started outside the task."""
    cache_id = make_cache()
    peaka.script(cache_id, "RUNNING", *statuses)
    PeakaHook().trigger_incremental_update(cache_id)
    return cache_id, PeakaHook().get_cache_status(cache_id).execution_id("incremental")


class TestRefreshStandards:
    """A run of the same kind already RUNNING, cancelling what the task started, progress counters."""

    def test_a_running_run_is_followed_not_queued_behind(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step="read")
        cache_id, running = running_cache(peaka, "RUNNING", "COMPLETED")
        peaka.reset_stats()
        context = make_context()
        assert refresh(cache_id).execute(context)["status"] == "COMPLETED"
        assert "POST cache/{id}/incrementalUpdate" not in peaka.stats
        summary = context["ti"].pushed["summary"]
        assert (summary["execution_id"], summary["started"]) == (running, False)

    def test_queue_starts_another_anyway(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step="read")
        cache_id, running = running_cache(peaka, "RUNNING", "COMPLETED")
        peaka.reset_stats()
        context = make_context()
        refresh(cache_id, on_running="queue").execute(context)
        assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 1
        assert context["ti"].pushed["summary"]["execution_id"] != running
        assert context["ti"].pushed["summary"]["started"] is True

    def test_fail_or_skip_when_a_run_is_running(self, peaka, peaka_conn):
        peaka_conn()
        cache_id, running = running_cache(peaka)
        peaka.reset_stats()
        with pytest.raises(
            PeakError, match=rf"incremental run \({running}\) is already RUNNING \(on_running='fail'\)"
        ):
            refresh(cache_id, on_running="fail").execute(make_context())
        with pytest.raises(AirflowSkipException, match="on_running='skip'"):
            refresh(cache_id, on_running="skip").execute(make_context())
        assert "POST cache/{id}/incrementalUpdate" not in peaka.stats
        with pytest.raises(PeakConfigError, match="on_running must be one of"):
            refresh(cache_id, on_running="ignore")

    def test_a_timeout_cancels_the_run_it_started(self, peaka, peaka_conn, capfd):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(cache_id, "RUNNING")  # runs until cancelled
        with pytest.raises(PeakError, match="did not reach COMPLETED"):
            refresh(cache_id, timeout=0.3).execute(make_context())
        assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
        assert PeakaHook().get_cache_status(cache_id).executions["incremental"].status == "CANCELLED"
        assert "cancelled the incremental run this task started" in "".join(capfd.readouterr())

    def test_a_run_it_only_followed_or_cancel_on_stop_false_is_left_running(self, peaka, peaka_conn):
        peaka_conn()
        cache_id, _ = running_cache(peaka)  # runs until cancelled
        with pytest.raises(PeakError, match="did not reach COMPLETED"):
            refresh(cache_id, timeout=0.2).execute(make_context())
        peaka.script(cache_id, "RUNNING")
        with pytest.raises(PeakError, match="did not reach COMPLETED"):
            refresh(cache_id, timeout=0.2, on_running="queue", cancel_on_stop=False).execute(make_context())
        assert "POST cache/{id}/cancelIncrementalUpdate" not in peaka.stats
        assert PeakaHook().get_cache_status(cache_id).executions["incremental"].status == "RUNNING"

    def test_progress_counters_go_into_the_summary(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        peaka.script(
            cache_id,
            "RUNNING",
            "COMPLETED",
            progress={
                "numberOfCachedRecords": 120,
                "numberOfInsertedRecords": 20,
                "numberOfDeletedRecords": 3,
            },
        )
        context = make_context()
        assert refresh(cache_id).execute(context)["status"] == "COMPLETED"
        summary = context["ti"].pushed["summary"]
        assert summary["progress"] == {
            "cached_records": 120,
            "inserted_records": 20,
            "updated_records": 0,
            "deleted_records": 3,
        }
        assert summary["started"] is True
        assert summary["execution_id"] == PeakaHook().get_cache_status(cache_id).execution_id("incremental")

    def test_the_deadline_and_the_cancel_travel_with_the_trigger(self, peaka, peaka_conn):
        peaka_conn()
        cache_id = make_cache()
        started = datetime.now(timezone.utc) - timedelta(seconds=50)
        task = refresh(cache_id, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=60))
        with pytest.raises(TaskDeferred) as info:
            task.execute(make_context(start_date=started))
        trigger = info.value.trigger
        assert trigger.cancel_modes == ["incremental"]
        assert abs(trigger.end_time - (started.timestamp() + 60)) < 1  # execution_timeout, not timeout
        assert info.value.kwargs == {"started": True}
        assert 60 <= info.value.timeout.total_seconds() <= 71  # the trigger's own event comes first


class TestCheckCacheable:
    def test_uncacheable_and_cached_tables_are_not_sent(self, peaka, peaka_conn):
        peaka_conn()
        peaka.uncacheable.add("customers")
        peaka.cache_types["invoices"] = ("FULL_REFRESH",)  # invoices asks for an incremental schedule
        PeakaHook().create_batch_cache(None, [cache_table("charges")])
        peaka.reset_stats()
        context = make_context()
        returned = create(check_cacheable=True, skip_existing=False, fail_on_item_error=False).execute(
            context
        )
        assert returned == []  # charges exists, but without the listing its id is unknown
        summary = context["ti"].pushed["summary"]
        assert [i["outcome"] for i in summary["items"]] == ["failed", "exists", "failed"]
        assert summary["failed"] == [
            {
                "table": f"{CATALOG}/payment.customers",
                "error": "Peaka reports the table is not cacheable (isCacheable: false)",
            },
            {
                "table": f"{CATALOG}/payment.invoices",
                "error": "the table does not support INCREMENTAL caches (supported: FULL_REFRESH)",
            },
        ]
        assert peaka.stats["GET isCached"] == 3
        assert "POST cache/batch" not in peaka.stats
        assert len(peaka.caches(PROJECT)) == 1

    def test_only_tables_the_listing_did_not_find_are_asked_about(self, peaka, peaka_conn):
        peaka_conn()
        create(tables=TABLES[:1]).execute(make_context())
        peaka.reset_stats()
        context = make_context()
        create(check_cacheable=True).execute(context)
        assert peaka.stats["GET isCached"] == 2
        assert [i["outcome"] for i in context["ti"].pushed["summary"]["items"]] == [
            "exists",
            "created",
            "created",
        ]

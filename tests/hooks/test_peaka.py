"""PeakaHook over real HTTP against the emulator's Peaka API."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest
import tenacity

from airflow_provider_peak.exceptions import (
    PeakaTriggerUnknownError,
    PeakAuthError,
    PeakConfigError,
    PeakError,
    PeakNotFoundError,
    PeakRateLimitError,
    PeakServerError,
)
from airflow_provider_peak.hooks.peaka import PeakaCacheFailedError, PeakaHook, PeakaSettings
from airflow_provider_peak.ui.forms import PEAKA_CONN_FIELDS
from tests.fixtures import CATALOG, PEAKA_FAST_RETRIES, PEAKA_KEY, PROJECT, Answer, cache_table


def async_status(cache_id: str) -> Any:
    """``aget_cache_status`` run to its end on a fresh hook (the triggerer's path)."""

    async def run() -> Any:
        hook = PeakaHook()
        try:
            return await hook.aget_cache_status(cache_id)
        finally:
            await hook.aclose()

    return asyncio.run(run())


class TestBatchCache:
    def test_mixed_success_gives_one_typed_result_per_table(self, peaka, peaka_conn):
        peaka_conn()
        peaka.missing.add("ghost")
        results = PeakaHook().create_batch_cache(
            None,
            [
                cache_table("customers"),
                cache_table("ghost", incremental_schedule="PT6H"),
                cache_table("invoices", incremental_schedule=timedelta(hours=6), full_refresh_schedule="P1D"),
            ],
        )
        assert [r.outcome for r in results] == ["created", "failed", "created"]
        assert results[1].error == "table payment.ghost not found in catalog 627249916703408649"
        assert results[1].cache_id is None
        invoices = results[2].cache
        assert invoices.incremental_schedule == "PT6H"
        assert invoices.full_refresh_schedule == "P1D"
        stored = {c["tableName"]: c for c in peaka.caches(PROJECT)}
        assert set(stored) == {"customers", "invoices"}
        assert stored["invoices"]["id"] == results[2].cache_id

    @pytest.mark.parametrize(
        "schedules",
        [
            {"incremental_schedule": "6 hours"},
            {"full_refresh_schedule": "P1M"},
            {"incremental_schedule": timedelta(0)},
            {"incremental_schedule": {"type": "CRON", "expression": "0 6 * * *"}},
            {"full_refresh_schedule": 3600},
        ],
    )
    def test_bad_schedules_fail_before_any_request(self, peaka, peaka_conn, schedules):
        peaka_conn()
        with pytest.raises(PeakConfigError, match="table 1: "):
            PeakaHook().create_batch_cache(
                None, [cache_table("customers"), cache_table("charges", **schedules)]
            )
        assert peaka.requests == 0
        assert peaka.caches() == []

    def test_the_project_comes_from_the_argument_then_the_hook_then_the_connection(self, peaka, peaka_conn):
        peaka_conn()
        PeakaHook().create_batch_cache(None, [cache_table("a")])
        PeakaHook(project_id="proj-hook").create_batch_cache(None, [cache_table("b")])
        PeakaHook(project_id="proj-hook").create_batch_cache("proj-arg", [cache_table("c")])
        assert [c["tableName"] for c in peaka.caches(PROJECT)] == ["a"]
        assert [c["tableName"] for c in peaka.caches("proj-hook")] == ["b"]
        assert [c["tableName"] for c in peaka.caches("proj-arg")] == ["c"]

    def test_no_project_anywhere_is_a_config_error(self, peaka, peaka_conn):
        peaka_conn(project_id=None)
        with pytest.raises(PeakConfigError, match="no Peaka project"):
            PeakaHook().create_batch_cache(None, [cache_table("a")])
        assert peaka.requests == 0


class TestCacheCalls:
    def test_get_update_status_and_delete(self, peaka, peaka_conn):
        peaka_conn()
        hook = PeakaHook()
        (created,) = hook.create_batch_cache(None, [cache_table("customers")])
        cache_id = created.cache_id
        assert hook.get_cache(cache_id).table_name == "customers"
        updated = hook.update_cache(cache_id, incremental_schedule=timedelta(minutes=15))
        assert (updated.incremental_schedule, updated.full_refresh_schedule) == ("PT15M", None)
        assert hook.get_cache_status(cache_id).status in ("RUNNING", "COMPLETED")
        assert [c.id for c in hook.list_caches()] == [cache_id]
        hook.delete_cache(cache_id)
        assert hook.get_cache_status(cache_id).status == "DELETED"
        assert hook.list_caches() == []
        with pytest.raises(PeakNotFoundError):
            hook.get_cache(cache_id)

    def test_update_validates_schedules_before_the_request(self, peaka, peaka_conn):
        peaka_conn()
        with pytest.raises(PeakConfigError, match="incremental_schedule"):
            PeakaHook().update_cache("c1", incremental_schedule="hourly")
        assert peaka.requests == 0

    def test_triggered_runs_are_waited_for(self, peaka, peaka_conn):
        peaka_conn()
        hook = PeakaHook()
        (created,) = hook.create_batch_cache(None, [cache_table("charges", incremental_schedule="PT6H")])
        first = hook.wait_for_cache(created.cache_id, poll_interval=0.02, timeout=5)
        assert first.status == "COMPLETED"
        before = first.execution_id("full")
        hook.trigger_full_refresh(created.cache_id)
        done = hook.wait_for_cache(
            created.cache_id, mode="full", previous_execution_id=before, poll_interval=0.02, timeout=5
        )
        assert done.execution_id("full") not in ("", before)

    def test_a_failed_run_stops_the_wait_with_its_error(self, peaka, peaka_conn):
        peaka_conn()
        peaka.script("orders", "RUNNING", "FAILED", error="source credentials expired")
        hook = PeakaHook()
        (created,) = hook.create_batch_cache(None, [cache_table("orders")])
        with pytest.raises(PeakaCacheFailedError, match="source credentials expired") as info:
            hook.wait_for_cache(created.cache_id, poll_interval=0.02, timeout=5)
        assert info.value.status == "FAILED"

    def test_the_wait_gives_up_after_its_timeout(self, peaka, peaka_conn):
        peaka_conn()
        peaka.script("slow", "RUNNING")
        hook = PeakaHook()
        (created,) = hook.create_batch_cache(None, [cache_table("slow")])
        with pytest.raises(PeakError, match=r"did not reach COMPLETED in 0\.2 s"):
            hook.wait_for_cache(created.cache_id, poll_interval=0.05, timeout=0.2)


class TestTransport:
    def test_api_key_goes_as_bearer_and_a_wrong_one_is_a_typed_401(self, peaka, peaka_conn, caplog):
        caplog.set_level(logging.DEBUG)
        peaka_conn(password="wrong-key-0123456789")
        with pytest.raises(PeakAuthError) as info:
            PeakaHook().get_cache_status("c1")
        assert info.value.status == 401
        assert info.value.code == "UNAUTHORIZED"
        assert "missing or invalid API key" in str(info.value)
        assert peaka.requests == 1  # 401 is not retried
        assert "wrong-key-0123456789" not in str(info.value) + caplog.text

    def test_server_errors_are_retried_then_succeed(self, peaka, peaka_conn):
        peaka_conn()
        peaka.fail_next(503, count=2)
        hook = PeakaHook()
        assert hook.list_caches() == []
        assert hook.stats["retries"] == 2
        assert peaka.requests == 3

    def test_retries_run_out_with_a_typed_error(self, peaka, peaka_conn):
        peaka_conn(max_retries=2)
        peaka.fail_next(502, count=10)
        with pytest.raises(PeakServerError) as info:
            PeakaHook().list_caches()
        assert info.value.status == 502
        assert peaka.requests == 3

    def test_429_honours_retry_after_and_api_retry_args_replace_the_policy(self, peaka, peaka_conn):
        peaka_conn()
        peaka.fail_next(429, count=5, retry_after=7)
        hook = PeakaHook(
            api_retry_args={"stop": tenacity.stop_after_attempt(2), "wait": tenacity.wait_none()}
        )
        with pytest.raises(PeakRateLimitError) as info:
            hook.list_caches()
        assert info.value.retry_after == 7.0
        assert peaka.requests == 2

    def test_an_api_without_a_cache_listing_is_tolerated(self, peaka, peaka_conn):
        peaka_conn(list_caches_path="/api/v1/data/projects/{project_id}/no-such-listing")
        assert PeakaHook().list_caches() is None
        peaka_conn(list_caches_path="")
        assert PeakaHook().list_caches() is None

    def test_secrets_stay_out_of_logs_errors_and_repr(self, peaka, peaka_conn, caplog):
        caplog.set_level(logging.DEBUG)
        peaka_conn()
        peaka.fail_next(503, count=1)
        hook = PeakaHook()
        hook.list_caches()
        with pytest.raises(PeakNotFoundError) as info:
            hook.get_cache("no-such-cache")
        text = caplog.text + str(info.value) + repr(hook.settings) + repr(hook.auth)
        assert "503" in caplog.text  # the retry was logged
        assert PEAKA_KEY not in text


def idle_cache(peaka) -> str:
    """A cache whose first run is over, with every later run RUNNING until it is cancelled."""
    (result,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])
    PeakaHook().wait_for_cache(result.cache_id, poll_interval=0.02, timeout=5)
    for _ in range(3):
        peaka.script(result.cache_id, "RUNNING")
    peaka.reset_stats()
    return result.cache_id


class TestTriggerOnce:
    """A run request is not idempotent (each starts a run): never sent again once it may have
    reached Peaka; the run it started is adopted instead."""

    @pytest.mark.parametrize(
        ("mode", "route"), [("full", "fullRefreshUpdate"), ("incremental", "incrementalUpdate")]
    )
    def test_a_5xx_after_peaka_started_the_run_adopts_that_run(
        self, peaka_emu, peaka, peaka_conn, mode, route, caplog
    ):
        peaka_conn()
        cache_id = idle_cache(peaka)
        before = PeakaHook().get_cache_status(cache_id).execution_id(mode)
        peaka_emu.inject("status_after_apply", status=503, route="peaka_trigger")
        adopted = PeakaHook().trigger_run(cache_id, mode)
        status = PeakaHook().get_cache_status(cache_id)
        assert adopted == status.execution_id(mode) not in ("", before)
        assert status.running(mode) is not None
        assert peaka.stats[f"{mode} runs started"] == 1  # exactly one remote run
        assert (peaka.stats[f"POST cache/{{id}}/{route}"], peaka.stats["503"]) == (1, 1)
        assert f"adopted {mode} run {adopted}" in caplog.text

    def test_a_lost_reply_adopts_the_run_it_started(self, peaka_emu, peaka, peaka_conn):
        peaka_conn()
        cache_id = idle_cache(peaka)
        peaka_emu.inject("drop_after_apply", route="peaka_trigger")
        adopted = PeakaHook().trigger_full_refresh(cache_id)
        assert adopted == PeakaHook().get_cache_status(cache_id).execution_id("full")
        assert peaka.stats["full runs started"] == 1
        assert peaka.stats["POST cache/{id}/fullRefreshUpdate"] == 1

    def test_a_5xx_with_no_new_run_fails_saying_the_run_may_have_started(self, peaka_emu, peaka, peaka_conn):
        """Nothing new shows up (Peaka failed before acting, or queued the run): the request is
        still not sent again, and the error says what to check."""
        peaka_conn()
        cache_id = idle_cache(peaka)
        before = PeakaHook().get_cache_status(cache_id).execution_id("incremental")
        peaka_emu.inject("status", status=502, route="peaka_trigger")
        peaka.reset_stats()
        with pytest.raises(PeakaTriggerUnknownError, match="The run may have started or be queued") as caught:
            PeakaHook().trigger_run(
                cache_id, "incremental", previous_execution_id=before, adopt_delays=(0, 0.05)
            )
        assert (caught.value.cache_id, caught.value.mode) == (cache_id, "incremental")
        assert "execution history" in str(caught.value) and PEAKA_KEY not in str(caught.value)
        assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 1 and peaka.stats["502"] == 1
        assert peaka.stats["incremental runs started"] == 0
        assert peaka.stats["GET cache/{id}/status"] == 2  # once per delay of the look-up

    def test_a_429_is_retried_and_starts_one_run(self, peaka_emu, peaka, peaka_conn):
        """A 429 is a refusal: Peaka started nothing, so the request is sent again."""
        peaka_conn()
        cache_id = idle_cache(peaka)
        peaka_emu.inject("status", status=429, count=2, retry_after=0, route="peaka_trigger")
        assert PeakaHook().trigger_full_refresh(cache_id, previous_execution_id="") is None
        assert peaka.stats["POST cache/{id}/fullRefreshUpdate"] == 3 and peaka.stats["429"] == 2
        assert peaka.stats["full runs started"] == 1

    def test_a_refused_connection_is_retried_as_nothing_was_sent(self, set_conn):
        """A port nothing listens on: each attempt fails to connect, so each retry is safe."""
        set_conn(
            "peaka_default",
            conn_type="peaka",
            host="http://127.0.0.1:9",
            password=PEAKA_KEY,
            extra={"project_id": PROJECT, "max_retries": 2, **PEAKA_FAST_RETRIES},
        )
        hook = PeakaHook()
        with pytest.raises(PeakError, match=r"could not reach Peaka for POST .*Connection refused") as caught:
            hook.trigger_full_refresh("c1", previous_execution_id="")
        assert hook.stats["retries"] == 2
        assert not isinstance(caught.value, PeakaTriggerUnknownError)  # surely not started: no look-up


class TestAsyncTransport:
    def test_the_key_goes_to_the_connections_origin_only(self, peaka, peaka_conn, scripted):
        peaka_conn()
        (created,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])
        assert async_status(created.cache_id).status in ("RUNNING", "COMPLETED")  # the key was sent
        other = scripted(lambda seen: Answer.json({"status": "COMPLETED"}))
        peaka_conn(cache_path=f"{other.url}/api/v1/data/projects/{{project_id}}/cache")
        assert async_status("c1").status == "COMPLETED"
        assert other.seen[0].path.startswith(f"/api/v1/data/projects/{PROJECT}/cache/c1/status")
        assert "authorization" not in {name.lower() for name in other.seen[0].headers}

    @pytest.mark.parametrize(
        ("status", "error", "attempts"), [(503, PeakServerError, 3), (200, PeakError, 1)]
    )
    def test_a_deeply_nested_reply_is_a_typed_error(self, set_conn, scripted, status, error, attempts):
        peaka = scripted(lambda seen: Answer(status, b"[" * 60_000, {"Content-Type": "application/json"}))
        set_conn(
            "peaka_default",
            conn_type="peaka",
            host=peaka.url,
            password=PEAKA_KEY,
            extra={"project_id": PROJECT, **PEAKA_FAST_RETRIES, "max_retries": 2},
        )
        with pytest.raises(error):
            async_status("c1")
        assert len(peaka.seen) == attempts  # a 503 is retried, whatever its body


class TestConnection:
    @pytest.mark.parametrize(
        ("host", "extra", "base_url"),
        [
            (None, {}, "https://partner.peaka.studio"),
            (None, {"region": "eu"}, "https://partner.eu.peaka.studio"),
            ("https://peaka.internal/", {"region": "eu"}, "https://peaka.internal"),
            ("peaka.internal", {}, "https://peaka.internal"),
        ],
    )
    def test_base_url_from_host_or_region(self, host, extra, base_url):
        settings = PeakaSettings.from_connection(host=host, password="k-12345", extra=extra)
        assert settings.base_url == base_url

    def test_hook_arguments_beat_extras(self, peaka_conn):
        peaka_conn(timeout=5, max_retries=1)
        hook = PeakaHook(project_id="p-arg", timeout=9, max_retries=4)
        assert (hook.settings.project_id, hook.settings.timeout, hook.settings.max_retries) == ("p-arg", 9, 4)

    @pytest.mark.parametrize(
        ("extra", "password", "message"),
        [
            ({"region": "mars"}, "k-12345", "region must be one of"),
            ({"colour": "red"}, "k-12345", "unknown extras on the peaka connection: colour"),
            ({"max_retries": "many"}, "k-12345", "max_retries"),
            ({}, None, "no password"),
        ],
    )
    def test_bad_connections_are_named(self, extra, password, message):
        with pytest.raises(PeakConfigError, match=message):
            PeakaSettings.from_connection(host=None, password=password, extra=extra)

    def test_test_connection_succeeds(self, peaka, peaka_conn):
        peaka_conn()
        PeakaHook().create_batch_cache(None, [cache_table("a")])
        assert PeakaHook().test_connection() == (
            True,
            f"Connection successfully tested (project {PROJECT}, 1 caches)",
        )

    def test_test_connection_reports_a_refused_key_without_it(self, peaka, peaka_conn):
        peaka_conn(password="refused-key-987654")
        ok, message = PeakaHook().test_connection()
        assert not ok
        assert message.startswith("401 UNAUTHORIZED on GET /api/v1/data/projects/proj-1/cache")
        assert "refused-key-987654" not in message

    def test_ui_behaviour_and_form_fields(self):
        behaviour = PeakaHook.get_ui_field_behaviour()
        assert behaviour["hidden_fields"] == ["schema", "port", "login"]
        assert behaviour["relabeling"] == {"host": "API base URL", "password": "API key"}
        # Every field of the form is a setting the connection accepts.
        accepted = {f.name for f in fields(PeakaSettings)} - {"base_url", "api_key"}
        assert set(PEAKA_CONN_FIELDS) <= accepted
        PeakaSettings.from_connection(
            host=None,
            password="k-12345",
            extra={k: v["schema"].get("default") for k, v in PEAKA_CONN_FIELDS.items()},
        )


@pytest.mark.parametrize("bad", ["", " ", ".", "..", "a/b", "../x", "c\n", "c\\d"])
def test_ids_that_would_escape_the_path_are_refused_before_any_request(peaka, peaka_conn, bad):
    peaka_conn()
    hook = PeakaHook()
    with pytest.raises(PeakConfigError):
        hook.get_cache_status(bad)
    if bad:  # an empty project_id means the connection's
        with pytest.raises(PeakConfigError):
            hook.get_cache("cache-1", project_id=bad)
    assert peaka.requests == 0


def test_existing_caches_are_found_through_the_documented_status_call(peaka, peaka_conn):
    peaka_conn()
    hook = PeakaHook()
    (created,) = hook.create_batch_cache(None, [cache_table("orders")])
    assert [c.key for c in hook.list_caches()] == [(CATALOG, "payment", "orders")]
    assert peaka.stats["GET cache/status"] == 1 and "GET cache" not in peaka.stats
    hook.delete_cache(created.cache_id)
    assert hook.get_cache_status(created.cache_id).status == "DELETED"  # a 404: the cache is gone


class TestCancelAndIsCached:
    """Peaka's OpenAPI routes: cancel a running run (200 sent, 404 nothing running) and isCached."""

    def test_cancel_stops_the_running_run_of_its_kind_only(self, peaka, peaka_conn):
        peaka_conn()
        peaka.reset(step="read")
        peaka.script("orders", "RUNNING")  # runs until cancelled
        (result,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])
        hook = PeakaHook()
        assert hook.cancel_run(result.cache_id, "incremental") is False  # 404: none running
        assert hook.cancel_run(result.cache_id, "full") is True
        status = hook.get_cache_status(result.cache_id)
        assert status.executions["full"].status == "CANCELLED"
        assert hook.cancel_run(result.cache_id, "full") is False  # nothing left to cancel
        assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
        assert peaka.stats["POST cache/{id}/cancelFullRefreshUpdate"] == 2
        with pytest.raises(PeakConfigError, match="mode must be one of"):
            hook.cancel_run(result.cache_id, "partial")

    def test_async_cancel_and_other_errors_than_404_are_raised(self, peaka, peaka_conn):
        peaka_conn(max_retries=0)
        peaka.script("orders", "RUNNING")
        (result,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])

        async def cancel() -> bool:
            hook = PeakaHook()
            try:
                return await hook.acancel_run(result.cache_id, "full")
            finally:
                await hook.aclose()

        peaka.fail_next(503)
        with pytest.raises(PeakServerError):
            asyncio.run(cancel())
        assert asyncio.run(cancel()) is True
        assert asyncio.run(cancel()) is False

    def test_cancel_paths_are_connection_extras(self, peaka, peaka_conn):
        peaka_conn(cancel_full_refresh_path="/cancelIncrementalUpdate")
        peaka.script("orders", "RUNNING")
        (result,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])
        assert PeakaHook().cancel_run(result.cache_id, "full") is False  # sent to the other route
        assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
        assert PeakaSettings.default("cancel_full_refresh_path") == "/cancelFullRefreshUpdate"

    def test_is_cached_reads_cacheable_and_the_supported_types(self, peaka, peaka_conn):
        peaka_conn()
        peaka.uncacheable.add("view_only")
        peaka.cache_types["events"] = ("FULL_REFRESH",)
        hook = PeakaHook()
        hook.create_batch_cache(None, [cache_table("orders")])
        cached = hook.is_cached(cache_table("orders"))
        assert (cached.is_cached, cached.is_cacheable) == (True, True)
        assert cached.supported_cache_types == ("FULL_REFRESH", "INCREMENTAL")
        refused = hook.is_cached(cache_table("view_only"))
        assert refused.refusal(build_table("view_only")) == (
            "Peaka reports the table is not cacheable (isCacheable: false)"
        )
        events = hook.is_cached(cache_table("events"))
        assert events.refusal(build_table("events", full_refresh_schedule="P1D")) is None
        assert events.refusal(build_table("events", incremental_schedule="PT6H")) == (
            "the table does not support INCREMENTAL caches (supported: FULL_REFRESH)"
        )

    def test_is_cached_path_is_an_extra_and_its_names_are_path_segments(self, peaka, peaka_conn):
        peaka_conn(is_cached_path="/api/v1/nowhere/{table_name}")
        with pytest.raises(PeakNotFoundError):
            PeakaHook().is_cached(cache_table("orders"))
        peaka_conn()
        before = peaka.requests
        with pytest.raises(PeakConfigError, match=r"table_name '\.\./x' holds characters"):
            PeakaHook().is_cached(cache_table("../x"))
        assert peaka.requests == before


def build_table(name: str, **schedules: Any) -> Any:
    from airflow_provider_peak.models.peaka_cache import CacheTable

    return CacheTable.build(cache_table(name, **schedules))

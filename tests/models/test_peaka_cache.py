"""Schedules, table specs and status verdicts (pure Python, no HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_peak.models.peaka_cache import (
    CacheStatus,
    PeakaSpecError,
    Schedule,
    TableCacheInfo,
    build_tables,
    evaluate,
    format_duration,
    parse_duration,
)
from tests.fixtures import cache_table


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("PT6H", timedelta(hours=6)),
        ("PT15M", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT1H30M45S", timedelta(hours=1, minutes=30, seconds=45)),
        ("P2W", timedelta(weeks=2)),
        ("pt24h", timedelta(hours=24)),
    ],
)
def test_iso_durations_parse(text, interval):
    assert parse_duration(text) == interval


@pytest.mark.parametrize(
    "text", ["6 hours", "PT", "P", "P1DT", "P1M", "P1Y", "PT0S", "PT-1H", "PT1.5H", "6h", "", "P1W2D"]
)
def test_bad_durations_are_refused(text):
    with pytest.raises(PeakaSpecError, match="duration"):
        parse_duration(text)


def test_months_are_refused_with_the_reason():
    with pytest.raises(PeakaSpecError, match="months and years have no fixed length"):
        parse_duration("P1M")


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(hours=6), "PT6H"),
        (timedelta(days=1), "P1D"),
        (timedelta(days=1, minutes=5), "P1DT5M"),
        (timedelta(minutes=90), "PT1H30M"),
        (timedelta(seconds=45), "PT45S"),
    ],
)
def test_timedeltas_become_the_shortest_iso_form(interval, text):
    assert format_duration(interval) == text
    assert parse_duration(text) == interval


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(hours=-1), timedelta(seconds=1.5)])
def test_timedeltas_must_be_positive_whole_seconds(interval):
    with pytest.raises(PeakaSpecError):
        Schedule.parse(interval)


def test_schedule_accepts_the_wire_shape_of_type_basic_only():
    assert Schedule.parse({"type": "BASIC", "expression": "PT6H"}).interval == timedelta(hours=6)
    with pytest.raises(PeakaSpecError, match="BASIC"):
        Schedule.parse({"type": "CRON", "expression": "0 * * * *"})
    with pytest.raises(PeakaSpecError, match="timedelta, an ISO-8601 duration string or None"):
        Schedule.parse(6)


def test_tables_go_on_the_wire_in_peakas_names():
    (parsed,) = build_tables(
        [cache_table("invoices", incremental_schedule="pt6h", full_refresh_schedule=timedelta(days=1))]
    )
    assert parsed.to_wire() == {
        "catalogId": "627249916703408649",
        "schemaName": "payment",
        "tableName": "invoices",
        "incrementalCacheSchedule": {"type": "BASIC", "expression": "PT6H"},
        "fullRefreshCacheSchedule": {"type": "BASIC", "expression": "P1D"},
    }
    assert "incrementalCacheSchedule" not in build_tables([cache_table("customers")])[0].to_wire()


def test_every_bad_table_is_listed_by_index():
    with pytest.raises(PeakaSpecError) as info:
        build_tables(
            [
                cache_table("ok"),
                cache_table("bad_schedule", full_refresh_schedule="daily"),
                {"catalog_id": "1", "schema_name": "", "table_name": "t"},
                cache_table("ok"),
                {**cache_table("x"), "schedule": "PT1H"},
            ]
        )
    text = str(info.value)
    assert "table 1: full_refresh_schedule: 'daily' is not an ISO-8601 duration" in text
    assert "table 2: schema_name must be a non-empty string" in text
    assert "table 3: 627249916703408649/payment.ok repeats table 0" in text
    assert "table 4: unknown keys ['schedule']" in text


def test_an_empty_batch_is_refused():
    with pytest.raises(PeakaSpecError, match="no tables"):
        build_tables([])


def _status(status, **runs):
    wire = {"id": "c1", "status": status}
    for key, (run_id, run_status) in runs.items():
        wire[key] = {"id": run_id, "status": run_status, "error": {"message": "boom"}}
    return CacheStatus.from_wire(wire)


@pytest.mark.parametrize(
    ("status", "target", "verdict"),
    [
        ("COMPLETED", "COMPLETED", "done"),
        ("RUNNING", "COMPLETED", "wait"),
        ("NOT_INITIALIZED", "COMPLETED", "wait"),
        ("FAILED", "COMPLETED", "failed"),
        ("CANCELLED", "COMPLETED", "failed"),
        ("DELETED", "COMPLETED", "failed"),
        ("DELETED", "DELETED", "done"),
        ("RUNNING", "RUNNING", "done"),
    ],
)
def test_verdicts_on_the_cache_status(status, target, verdict):
    assert evaluate(_status(status), target)[0] == verdict


def test_after_a_refresh_only_a_newer_run_counts():
    old = _status("COMPLETED", lastIncrementalCacheExecution=("run-1", "COMPLETED"))
    assert evaluate(old, mode="incremental", previous_execution_id="run-1")[0] == "wait"
    new = _status("RUNNING", lastIncrementalCacheExecution=("run-2", "RUNNING"))
    assert evaluate(new, mode="incremental", previous_execution_id="run-1")[0] == "wait"
    done = _status("COMPLETED", lastIncrementalCacheExecution=("run-2", "COMPLETED"))
    assert evaluate(done, mode="incremental", previous_execution_id="run-1")[0] == "done"
    failed = _status("FAILED", lastIncrementalCacheExecution=("run-2", "FAILED"))
    assert evaluate(failed, mode="incremental", previous_execution_id="run-1") == (
        "failed",
        "incremental run run-2 is FAILED: boom",
    )


def test_an_unknown_target_is_refused():
    with pytest.raises(PeakaSpecError, match="target must be one of"):
        evaluate(_status("COMPLETED"), "DONE")


class TestProgressAndIsCached:
    def test_progress_counters_are_read_under_the_providers_names(self):
        status = CacheStatus.from_wire(
            {
                "status": "RUNNING",
                "lastIncrementalCacheExecution": {
                    "id": "r1",
                    "status": "RUNNING",
                    "progress": {
                        "numberOfCachedRecords": 10,
                        "numberOfInsertedRecords": 4,
                        "numberOfUpdatedRecords": True,  # not a count
                        "numberOfDeletedRecords": -1,  # not a count either
                        "lastOffset": "10",
                    },
                },
                "lastFullRefreshCacheExecution": {"id": "r0", "status": "COMPLETED", "progress": "n/a"},
            }
        )
        assert status.executions["incremental"].progress == {"cached_records": 10, "inserted_records": 4}
        assert status.executions["full"].progress == {}
        assert status.running("incremental").id == "r1"
        assert status.running("full") is None
        assert status.to_dict()["executions"]["incremental"]["progress"] == {
            "cached_records": 10,
            "inserted_records": 4,
        }

    def test_is_cached_replies(self):
        info = TableCacheInfo.from_wire({"isCached": False})  # Peaka could not tell the rest
        assert (info.is_cacheable, info.supported_cache_types) == (None, None)
        assert info.refusal(build_tables([cache_table("t", incremental_schedule="PT1H")])[0]) is None
        nothing = TableCacheInfo.from_wire(
            {"isCached": False, "isCacheable": True, "supportedCacheTypes": []}
        )
        assert nothing.refusal(build_tables([cache_table("t", full_refresh_schedule="P1D")])[0]) == (
            "the table does not support FULL_REFRESH caches (supported: none)"
        )
        with pytest.raises(PeakaSpecError, match="no boolean 'isCached'"):
            TableCacheInfo.from_wire({"isCached": "yes"})

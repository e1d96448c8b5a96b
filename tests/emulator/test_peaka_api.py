"""The emulator's Peaka API on the wire: what tests and the example DAG rely on."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures import CATALOG, PEAKA_KEY, PROJECT

AUTH = {"Authorization": f"Bearer {PEAKA_KEY}"}


@pytest.fixture
def api(peaka_emu):
    return f"{peaka_emu.peaka_url}/api/v1/data/projects/{PROJECT}/cache"


def item(name, **extra):
    return {"catalogId": CATALOG, "schemaName": "payment", "tableName": name, **extra}


def test_requests_need_the_bearer_api_key(api, peaka):
    for headers in ({}, {"Authorization": PEAKA_KEY}, {"Authorization": "Bearer nope"}):
        reply = requests.get(api, headers=headers, timeout=5)
        assert reply.status_code == 401
        assert reply.json()["error"] == "Unauthorized"
    assert peaka.requests == 3


def test_the_server_checks_each_item_on_its_own(api, peaka):
    peaka.missing.add("ghost")
    body = [
        item("customers"),
        item("charges", incrementalCacheSchedule={"type": "BASIC", "expression": "PT6H"}),
        item("bad", incrementalCacheSchedule={"type": "BASIC", "expression": "6h"}),
        item("cron", fullRefreshCacheSchedule={"type": "CRON", "expression": "0 * * * *"}),
        item("ghost"),
        item("customers"),
        {"catalogId": CATALOG},
    ]
    reply = requests.post(f"{api}/batch", json=body, headers=AUTH, timeout=5)
    assert reply.status_code == 200
    results = reply.json()
    assert [r["success"] for r in results] == [True, True, False, False, False, False, False]
    assert results[1]["cache"]["incrementalCacheSchedule"] == {"type": "BASIC", "expression": "PT6H"}
    assert "incrementalCacheSchedule.expression" in results[2]["error"]
    assert results[3]["error"] == "fullRefreshCacheSchedule.type must be BASIC"
    assert results[4]["error"] == f"table payment.ghost not found in catalog {CATALOG}"
    assert results[5]["error"].startswith("a cache already exists for payment.customers")
    assert results[6]["error"] == "catalogId, schemaName and tableName are required"


def test_statuses_change_over_time_with_the_configured_step(api, peaka):
    peaka.reset(step=0.3)
    peaka.script("orders", "NOT_INITIALIZED", "RUNNING", "COMPLETED")
    (created,) = requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5).json()
    status_url = f"{api}/{created['cache']['id']}/status"
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not seen or seen[-1] != "COMPLETED"):
        status = requests.get(status_url, headers=AUTH, timeout=5).json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.02)
    assert seen == ["NOT_INITIALIZED", "RUNNING", "COMPLETED"]


def test_a_read_step_moves_one_status_per_status_read(api, peaka):
    peaka.reset(step="read")
    peaka.script("orders", "NOT_INITIALIZED", "RUNNING", "COMPLETED")
    (created,) = requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5).json()
    status_url = f"{api}/{created['cache']['id']}/status"
    seen = [requests.get(status_url, headers=AUTH, timeout=5).json()["status"] for _ in range(4)]
    assert seen == ["NOT_INITIALIZED", "RUNNING", "COMPLETED", "COMPLETED"]


def test_status_logs_can_be_left_out(api, peaka):
    peaka.reset(step=0)
    (created,) = requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5).json()
    url = f"{api}/{created['cache']['id']}/status"
    full = requests.get(url, headers=AUTH, timeout=5).json()
    assert full["cacheActionLogs"][0]["cacheType"] == "full"
    assert full["lastFullRefreshCacheExecution"]["status"] == "COMPLETED"
    assert full["lastIncrementalCacheExecution"] is None
    light = requests.get(url, params={"excludeLogs": "true"}, headers=AUTH, timeout=5).json()
    assert "cacheActionLogs" not in light


def test_unknown_paths_and_methods(api, peaka_emu):
    assert requests.get(f"{peaka_emu.peaka_url}/api/v1/nothing", headers=AUTH, timeout=5).status_code == 404
    assert requests.post(f"{api}/nope/status", headers=AUTH, timeout=5).status_code == 404
    assert requests.patch(api, headers=AUTH, timeout=5).status_code in (404, 405, 501)


def test_stats_need_no_auth(api, peaka_emu):
    requests.get(f"{api}/status", headers=AUTH, timeout=5)
    stats = requests.get(f"{peaka_emu.peaka_url}/_emulator/stats", timeout=5).json()
    assert stats["GET cache/status"] == 1
    assert stats["200"] == 1


def test_only_documented_routes_are_served(api, peaka_emu):
    """Peaka's reference has no plain listing (GET .../cache) and no DELETED status."""
    assert requests.get(api, headers=AUTH, timeout=5).status_code == 405
    created = requests.post(
        f"{api}/batch",
        json=[
            {"catalogId": CATALOG, "schemaName": "s", "tableName": "a"},
            {"catalogId": "other", "schemaName": "s", "tableName": "b"},
        ],
        headers=AUTH,
        timeout=5,
    ).json()
    first, second = (item["cache"]["id"] for item in created)
    every = requests.get(f"{api}/status", headers=AUTH, params={"excludeLogs": "true"}, timeout=5).json()
    assert {s["id"] for s in every} == {first, second}
    assert all(s["status"] in ("RUNNING", "COMPLETED") and "cacheActionLogs" not in s for s in every)
    catalog = api.replace("/cache", f"/catalog/{CATALOG}/cache")
    assert [s["id"] for s in requests.get(f"{catalog}/status", headers=AUTH, timeout=5).json()] == [first]
    assert requests.delete(f"{api}/{first}", headers=AUTH, timeout=5).status_code == 200
    assert requests.get(f"{api}/{first}/status", headers=AUTH, timeout=5).status_code == 404
    assert [s["id"] for s in requests.get(f"{api}/status", headers=AUTH, timeout=5).json()] == [second]


def test_a_running_run_is_cancelled_and_nothing_running_is_a_404(api, peaka):
    peaka.reset(step="read")
    peaka.script("orders", "RUNNING")  # the last status sticks: it runs until cancelled
    (created,) = requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5).json()
    cache = f"{api}/{created['cache']['id']}"
    status = requests.get(f"{cache}/status", headers=AUTH, timeout=5).json()
    assert status["lastFullRefreshCacheExecution"]["status"] == "RUNNING"
    # No incremental run: nothing to cancel.
    assert requests.post(f"{cache}/cancelIncrementalUpdate", headers=AUTH, timeout=5).status_code == 404
    reply = requests.post(f"{cache}/cancelFullRefreshUpdate", headers=AUTH, timeout=5)
    assert (reply.status_code, reply.content) == (200, b"")
    status = requests.get(f"{cache}/status", headers=AUTH, timeout=5).json()
    assert status["status"] == status["lastFullRefreshCacheExecution"]["status"] == "CANCELLED"
    # Cancelled once: a second cancel finds nothing running.
    assert requests.post(f"{cache}/cancelFullRefreshUpdate", headers=AUTH, timeout=5).status_code == 404
    assert peaka.stats["POST cache/{id}/cancelFullRefreshUpdate"] == 2


def test_progress_counters_are_half_way_while_running_and_final_once_completed(api, peaka):
    peaka.reset(step="read")
    final = {"numberOfCachedRecords": 40, "numberOfInsertedRecords": 30, "numberOfUpdatedRecords": 8}
    peaka.script("orders", "RUNNING", "COMPLETED", progress=final)
    (created,) = requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5).json()
    url = f"{api}/{created['cache']['id']}/status"
    running, completed = (
        requests.get(url, headers=AUTH, timeout=5).json()["lastFullRefreshCacheExecution"]["progress"]
        for _ in range(2)
    )
    assert running == {
        "numberOfCachedRecords": 20,
        "numberOfInsertedRecords": 15,
        "numberOfUpdatedRecords": 4,
        "numberOfDeletedRecords": 0,
        "lastOffset": "40",
    }
    assert completed == {**final, "numberOfDeletedRecords": 0, "lastOffset": "40"}
    with pytest.raises(ValueError, match="progress counters must be some of"):
        peaka.script("orders", "COMPLETED", progress={"rows": 1})


def test_is_cached_says_whether_a_table_is_cached_and_can_be(api, peaka):
    peaka.uncacheable.add("view_only")
    peaka.cache_types["payment.events"] = ("FULL_REFRESH",)
    requests.post(f"{api}/batch", json=[item("orders")], headers=AUTH, timeout=5)
    tables = api.replace("/cache", f"/catalogs/{CATALOG}/schemas/payment/tables")

    def ask(table):
        reply = requests.get(f"{tables}/{table}/isCached", headers=AUTH, timeout=5)
        assert reply.status_code == 200
        return reply.json()

    assert ask("orders") == {
        "isCached": True,
        "isCacheable": True,
        "supportedCacheTypes": ["FULL_REFRESH", "INCREMENTAL"],
    }
    assert ask("refunds")["isCached"] is False
    assert ask("view_only") == {"isCached": False, "isCacheable": False, "supportedCacheTypes": []}
    assert ask("events")["supportedCacheTypes"] == ["FULL_REFRESH"]
    assert requests.post(f"{tables}/orders/isCached", headers=AUTH, timeout=5).status_code == 405
    assert requests.get(f"{tables}/orders/isCached", timeout=5).status_code == 401
    assert peaka.stats["GET isCached"] == 4

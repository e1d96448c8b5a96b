"""The emulator's orders source under ``/_source/``: pages, cursors, the three auth types, faults."""

from __future__ import annotations

import requests

from peak_emulator.rest_source import make_order
from tests.fixtures import SOURCE_CLIENT_ID, SOURCE_CLIENT_SECRET, SOURCE_PASSWORD, SOURCE_USER


def test_pages_follow_the_cursor_to_the_last_order(emu, source):
    url = f"{emu.url}/_source/none/orders"
    first = requests.get(url, params={"limit": 25}).json()
    assert [o["order_id"] for o in first["data"]] == list(range(1, 26))
    assert first["has_more"] is True and first["next_after_id"] == 25
    last = requests.get(url, params={"after_id": 50, "limit": 25}).json()
    assert [o["order_id"] for o in last["data"]] == list(range(51, 61))
    assert last == {"data": [make_order(i) for i in range(51, 61)], "has_more": False, "next_after_id": None}
    source.add_orders(5)
    assert [o["order_id"] for o in requests.get(url, params={"after_id": 60}).json()["data"]] == [
        61,
        62,
        63,
        64,
        65,
    ]


def test_basic_auth_is_required_and_checked(emu, source):
    url = f"{emu.url}/_source/basic/orders"
    assert requests.get(url).status_code == 401
    assert requests.get(url, auth=(SOURCE_USER, "wrong")).status_code == 401
    assert len(requests.get(url, auth=(SOURCE_USER, SOURCE_PASSWORD)).json()["data"]) == 25


def test_custom_auth_tokens_and_revocation(emu, source):
    url = f"{emu.url}/_source/custom/orders"
    bad = requests.post(
        f"{emu.url}/_source/auth/token", json={"client_id": SOURCE_CLIENT_ID, "client_secret": "x"}
    )
    assert bad.status_code == 401
    reply = requests.post(
        f"{emu.url}/_source/auth/token",
        json={"client_id": SOURCE_CLIENT_ID, "client_secret": SOURCE_CLIENT_SECRET},
    )
    token = reply.json()["access_token"]
    assert reply.json()["token_type"] == "Bearer"
    assert requests.get(url).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    requests.post(f"{emu.url}/_source/admin/revoke")
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_injected_failure_hits_one_page_once(emu, source):
    url = f"{emu.url}/_source/none/orders"
    source.fail_page(after_id=30, status=503)
    assert requests.get(url, params={"after_id": 20}).status_code == 200
    assert requests.get(url, params={"after_id": 30}).status_code == 503
    assert requests.get(url, params={"after_id": 30}).status_code == 200


def test_admin_endpoints(emu, source):
    assert requests.post(f"{emu.url}/_source/admin/orders", json={"count": 40}).json() == {"orders": 100}
    assert requests.post(f"{emu.url}/_source/admin/orders", json={"count": -1}).status_code == 400
    requests.get(f"{emu.url}/_source/none/orders", params={"limit": 7})
    stats = requests.get(f"{emu.url}/_source/admin/stats").json()
    assert stats["orders"] == 100 and stats["records_served"] == 7
    assert requests.get(f"{emu.url}/_source/nowhere").status_code == 404
    assert requests.get(f"{emu.url}/_source/none/orders", params={"limit": 0}).status_code == 400

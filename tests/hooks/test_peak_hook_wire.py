"""PeakHook's requests on the wire (requests-mock): method, URL, headers, body, call counts."""

from __future__ import annotations

import pytest
import tenacity

from airflow_provider_peak.exceptions import PeakNotFoundError, PeakRateLimitError
from airflow_provider_peak.hooks.peak import PeakHook

BASE = "https://peak.example"


@pytest.fixture
def api_key_conn(set_conn):
    return set_conn(
        conn_type="peak",
        host=BASE,
        password="key-123456",
        extra={"backoff_initial": 0.001, "retry_after_floor": 0.001},
    )


def test_api_key_is_sent_raw_in_authorization(requests_mock, api_key_conn):
    requests_mock.get(
        f"{BASE}/api/v1/tables/orders",
        json={"name": "orders", "columns": [{"name": "id", "type": "integer"}]},
    )
    PeakHook().get_table("orders")
    request = requests_mock.last_request
    assert request.headers["Authorization"] == "key-123456"
    assert request.headers["User-Agent"].startswith("airflow-provider-peak/")


def test_assumed_wire_names_come_from_extras(requests_mock, set_conn):
    set_conn(
        conn_type="peak",
        host=BASE,
        password="k-12345",
        extra={
            "api_key_header": "X-Api-Key",
            "api_key_prefix": "Key ",
            "tables_path": "/v2/t",
            "next_token_param": "page",
            "next_token_key": "next",
            "records_ingested_key": "n",
        },
    )
    requests_mock.get(
        f"{BASE}/v2/t",
        [
            {"json": {"tables": [{"name": "a", "columns": [{"name": "x", "type": "string"}]}], "next": "p2"}},
            {"json": {"tables": [{"name": "b", "columns": [{"name": "x", "type": "string"}]}]}},
        ],
    )
    requests_mock.post(f"{BASE}/v2/t/a", json={"n": 2})
    hook = PeakHook()
    assert [t.name for t in hook.list_tables(limit=1)] == ["a", "b"]
    assert requests_mock.request_history[1].qs == {"limit": ["1"], "page": ["p2"]}
    assert requests_mock.request_history[0].headers["X-Api-Key"] == "Key k-12345"
    assert hook.ingest("a", [{"x": "1"}, {"x": "2"}]) == 2


def test_ingest_body_is_compact_json(requests_mock, api_key_conn):
    requests_mock.post(f"{BASE}/api/v1/tables/t", json={"recordsIngested": 2})
    PeakHook().ingest("t", [{"a": "é"}, {"a": None}])
    assert requests_mock.last_request.body == '[{"a":"é"},{"a":null}]'.encode()
    assert requests_mock.last_request.headers["Content-Type"] == "application/json"


def test_oauth_token_request_body(requests_mock, set_conn):
    set_conn(
        conn_type="peak",
        host=BASE,
        login="cid",
        password="csecret",
        extra={"audience": "https://api.peak.ai"},
    )
    token = requests_mock.post(
        f"{BASE}/api/v1/oauth/token", json={"access_token": "tok-abcdef", "expires_in": 86400}
    )
    requests_mock.get(f"{BASE}/api/v1/tables", json={"tables": []})
    list(PeakHook().list_tables())
    assert token.last_request.json() == {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "csecret",
        "audience": "https://api.peak.ai",
    }
    assert requests_mock.last_request.headers["Authorization"] == "Bearer tok-abcdef"


def test_retry_after_header_is_read(requests_mock, api_key_conn):
    requests_mock.get(
        f"{BASE}/api/v1/tables",
        status_code=429,
        headers={"Retry-After": "7"},
        json={"error": {"code": "TOO_MANY_REQUESTS", "message": "slow down"}},
    )
    hook = PeakHook(api_retry_args={"stop": tenacity.stop_after_attempt(3), "wait": tenacity.wait_none()})
    with pytest.raises(PeakRateLimitError) as info:
        list(hook.list_tables())
    assert info.value.retry_after == 7.0
    assert requests_mock.call_count == 3


def test_retry_after_is_floored_and_capped(api_key_conn):
    hook = PeakHook()
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    for hint, low, high in [(0, 0.001, 0.002), (10_000, 120, 120.001)]:
        state.set_exception((PeakRateLimitError, PeakRateLimitError(429, "GET", "/", retry_after=hint), None))
        assert low <= hook._wait(state) <= high


def test_non_json_error_body_is_kept_short(requests_mock, api_key_conn):
    requests_mock.get(f"{BASE}/api/v1/tables/t", status_code=404, text="<html>" + "x" * 5_000)
    with pytest.raises(PeakNotFoundError) as info:
        PeakHook().get_table("t")
    assert "more characters" in str(info.value)
    assert len(str(info.value)) < 700

"""Reading a ``peak_v2`` connection: defaults, every ``V2Wire`` field as an extra, what a form
stores for an untouched field, strict numbers, refusals that say what to fix, and the token."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.hooks._connection import PeakV2Settings
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.ingest.v2.wire import V2Wire

TOKEN = "pat-connection-test-5b8e1f"


def build(**kwargs):
    base = {"host": "https://ingestion.peak.ai", "password": TOKEN}
    return PeakV2Settings.from_connection(**{**base, **kwargs})


def test_defaults_are_the_newest_revision():
    settings = build()
    assert settings.base_url == "https://ingestion.peak.ai"
    assert settings.token == TOKEN
    assert settings.wire == V2Wire()
    assert (settings.tenant, settings.tenant_id, settings.tenant_headers) == (None, None, {})
    # 90% of the documented 50 per second: arrivals bunch on the network, and others share the tenant.
    assert settings.requests_per_second == pytest.approx(45.0)
    assert (settings.timeout, settings.max_retries) == (60.0, 5)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"ingest_path": "/api/v2/ingest/object/{table}"}, {"ingest_path": "/api/v2/ingest/object/{table}"}),
        ({"max_rows": "500", "max_bytes": 500_000}, {"max_rows": 500, "max_bytes": 500_000}),
        ({"max_rows": 500.0}, {"max_rows": 500}),  # a JSON form may store 500 as 500.0
        ({"requests_per_second": "20"}, {"requests_per_second": 20.0}),
        ({"failed_index_keys": "rowNumber, index"}, {"failed_index_keys": ("rowNumber", "index")}),
        ({"accepted_keys": ["ok", "accepted"]}, {"accepted_keys": ("ok", "accepted")}),
        ({"case_sensitive_keys": "false"}, {"case_sensitive_keys": False}),
        ({"case_sensitive_keys": False}, {"case_sensitive_keys": False}),
        ({"auth_scheme": "Bearer"}, {"auth_scheme": "Bearer"}),
        ({"extra__peak_v2__max_rows": "100"}, {"max_rows": 100}),
        ({"max_rows": "100", "extra__peak_v2__max_rows": "7"}, {"max_rows": 100}),
    ],
)
def test_every_wire_name_is_an_extra(extra, expected):
    wire = build(extra=extra).wire
    for key, value in expected.items():
        assert getattr(wire, key) == value


def test_tenant_headers_and_share():
    settings = build(extra={"tenant": "acme", "tenant_id": "t-1", "requests_per_second_share": "0.5"})
    assert settings.tenant_headers == {"x-auth-tenant": "acme", "x-auth-tenantId": "t-1"}
    assert settings.requests_per_second == pytest.approx(25.0)
    renamed = build(extra={"tenant": "acme", "tenant_header": "x-tenant", "requests_per_second": 10})
    assert renamed.tenant_headers == {"x-tenant": "acme"}
    assert renamed.requests_per_second == pytest.approx(9.0)


def test_what_a_form_stores_for_an_untouched_field_means_the_default(caplog):
    """Airflow's form stores an empty field as null or "", and masks a field named like a secret
    (``auth_header``) as "***": each means "the default", said once in the log."""
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_peak"):
        settings = build(
            extra={
                "auth_header": "***",
                "tenant": "",
                "tenant_id": None,
                "max_rows": "",
                "failed_index_keys": None,
                "requests_per_second_share": "",
                "case_sensitive_keys": None,
            }
        )
    assert settings.wire == V2Wire() and settings.tenant_headers == {}
    assert settings.requests_per_second == pytest.approx(45.0)
    assert caplog.text.count("using the default") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": None}, "has no Host: put Peak's v2 ingestion host there, https://ingestion.peak.ai"),
        ({"host": "  "}, "does not guess it"),
        ({"password": None}, "has no password: put your personal access token there"),
        ({"extra": {"max_row": 5}}, "unknown extras on the peak_v2 connection: max_row"),
        ({"extra": {"max_rows": "2.5"}}, "extra 'max_rows' must be int"),
        ({"extra": {"max_rows": True}}, "extra 'max_rows' must be int"),
        ({"extra": {"max_rows": 0}}, "max_rows must be positive"),
        ({"extra": {"max_bytes": 100}}, "max_bytes must be at least 256"),
        ({"extra": {"requests_per_second": "nan"}}, "requests_per_second must be a finite number"),
        ({"extra": {"requests_per_second": 0}}, "requests_per_second must be positive"),
        ({"extra": {"requests_per_second_share": 1.5}}, "requests_per_second_share must be at most 1"),
        ({"extra": {"requests_per_second_share": "-1"}}, "requests_per_second_share must be positive"),
        ({"extra": {"case_sensitive_keys": "maybe"}}, "extra 'case_sensitive_keys' must be true or false"),
        ({"extra": {"failed_index_keys": " , "}}, "extra 'failed_index_keys' must be a list of names"),
        ({"extra": {"failed_index_keys": [1, 2]}}, "extra 'failed_index_keys' must be a list of names"),
        ({"extra": {"ingest_path": "/api/v2/objects"}}, "ingest_path must hold {table} once"),
        ({"extra": {"solutions_path": "api/v2"}}, "solutions_path must start with '/'"),
        ({"extra": {"auth_header": "Bad Header"}}, "auth_header is not a valid HTTP header name"),
        ({"extra": {"ingest_path": {"a": 1}}}, "extra 'ingest_path' must be text"),
        ({"extra": {"tenant": "acme\r\nX-Injected: 1"}}, "extra 'tenant' must be one line"),
        ({"extra": {"timeout": "inf"}}, "timeout must be a finite number"),
    ],
)
def test_bad_connections_say_what_to_fix(kwargs, message):
    with pytest.raises(PeakConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        build(**kwargs)


def test_repr_and_errors_hold_no_token():
    settings = build(extra={"tenant": "acme"})
    assert TOKEN not in repr(settings)
    assert repr(settings) == "PeakV2Settings(base_url='https://ingestion.peak.ai', tenant='acme', token=***)"


def test_hook_arguments_beat_extras(set_conn):
    set_conn(
        "peak_v2_default",
        conn_type="peak_v2",
        host="https://ingestion.peak.ai",
        password=TOKEN,
        extra={"timeout": 5, "max_retries": 9, "requests_per_second": 20},
    )
    hook = PeakV2Hook(timeout=1.5, max_retries=None, requests_per_second=4)
    assert (hook.settings.timeout, hook.settings.max_retries) == (1.5, 9)
    assert hook.pacer.ceiling == 4
    assert PeakV2Hook().pacer.ceiling == pytest.approx(18.0)  # 20 x the default share
    with pytest.raises(PeakConfigError, match="requests_per_second=30 is above the peak_v2 connection's 18"):
        PeakV2Hook(requests_per_second=30).pacer  # noqa: B018
    with pytest.raises(PeakConfigError, match="requests_per_second must be positive"):
        PeakV2Hook(requests_per_second=0)
    with pytest.raises(PeakConfigError, match="timeout must be a number"):
        PeakV2Hook(timeout="1").settings  # noqa: B018

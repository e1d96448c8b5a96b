"""``V2Wire``: the newest revision's names by default, every one overridable and checked."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.v2.codes import ROW_CODES
from airflow_provider_peak.ingest.v2.wire import SOURCES, Operation, V2Wire


def test_defaults_are_the_newest_revision() -> None:
    wire = V2Wire()
    assert wire.ingest_path_for("QP_PRODUCTS_OOTB") == "/api/v2/objects/QP_PRODUCTS_OOTB"
    assert (wire.solutions_path, wire.schema_path) == ("/api/v2/schema/solutions", "/api/v2/schema")
    assert (wire.max_rows, wire.max_bytes, wire.requests_per_second) == (2000, 1_000_000, 50.0)
    assert wire.auth_value("pat-1") == "pat-1"  # raw, no scheme
    assert (wire.tenant_header, wire.tenant_id_header) == ("x-auth-tenant", "x-auth-tenantId")


def test_every_setting_says_where_its_default_comes_from() -> None:
    assert set(SOURCES) == set(V2Wire.field_names())
    assert all(
        SOURCES[name].split()[0].rstrip(":") in ("doc", "inferred", "conflict", "unknown") for name in SOURCES
    )


def test_connection_extras_are_read_from_text() -> None:
    wire = V2Wire.from_mapping(
        {
            "ingest_path": "/api/v2/ingest/object/{table}",
            "max_rows": "500",
            "requests_per_second": "25.5",
            "case_sensitive_keys": "false",
            "failed_index_keys": "rowIndex, index",
            "accepted_keys": ["ingested"],
            "auth_scheme": "Bearer",
        }
    )
    assert wire.ingest_path_for("a b/c") == "/api/v2/ingest/object/a%20b%2Fc"
    assert (wire.max_rows, wire.requests_per_second, wire.case_sensitive_keys) == (500, 25.5, False)
    assert wire.failed_index_keys == ("rowIndex", "index")
    assert wire.accepted_keys == ("ingested",)
    assert wire.auth_value("pat") == "Bearer pat"
    assert pickle.loads(pickle.dumps(wire)) == wire


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ingest_pth": "/x/{table}"}, "unknown v2 wire settings ['ingest_pth']"),
        ({"ingest_path": "/api/v2/objects"}, "ingest_path must hold {table} once"),
        ({"ingest_path": "/a/{table}/{table}"}, "ingest_path must hold {table} once"),
        ({"ingest_path": "/a/{table}/{other}"}, "ingest_path must hold {table} once"),
        ({"schema_path": "api/v2/schema"}, "schema_path must start with '/'"),
        ({"tenant_header": "x auth"}, "tenant_header is not a valid HTTP header name"),
        ({"data_key": ""}, "data_key must be a non-empty string"),
        ({"data_key": "a\r\nX-Injected: 1"}, "data_key must not contain line breaks"),
        ({"failed_index_keys": ""}, "failed_index_keys must be a non-empty list"),
        ({"max_rows": 0}, "max_rows must be an integer of at least 1"),
        ({"max_rows": True}, "max_rows must be an integer"),
        ({"max_rows": "many"}, "max_rows must be a number"),
        ({"max_bytes": 2.5}, "max_bytes must be an integer"),
        ({"requests_per_second": float("nan")}, "requests_per_second must be a number"),
        ({"requests_per_second": -1}, "requests_per_second must be a number of at least"),
        ({"case_sensitive_keys": "maybe"}, "case_sensitive_keys must be true or false"),
    ],
)
def test_bad_settings_are_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(PeakConfigError) as caught:
        V2Wire.from_mapping(values)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_operations_in_any_case() -> None:
    assert Operation.parse("upsert") is Operation.UPSERT
    assert Operation.parse("Append") is Operation.APPEND
    with pytest.raises(PeakConfigError, match="operation must be upsert or append, got 'merge'"):
        Operation.parse("merge")


def test_row_codes_have_the_documented_shape() -> None:
    assert all(code.startswith("DI_E_") and len(code) == len("DI_E_") + 5 for code in ROW_CODES)
    assert len({c.category for c in ROW_CODES.values()}) > 1

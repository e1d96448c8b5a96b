"""The emulator's v2 ingestion API over real HTTP: solutions, schema, UPSERT/APPEND, dry runs,
per-row failures, limits, the per-tenant request rate, configurable wire names and faults."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from airflow_provider_peak.ingest.v2 import codes
from airflow_provider_peak.ingest.v2.body import RequestBody
from airflow_provider_peak.ingest.v2.reply import parse_ingest_reply
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import parse_solution_schema, parse_solutions
from airflow_provider_peak.ingest.v2.wire import V2Wire
from peak_emulator import PeakEmulator
from peak_emulator.ingestion_v2 import IngestionV2Api, Tenant, _Window
from peak_emulator.v2_checks import DefinitionError
from peak_emulator.v2_demo import DEMO_SOLUTION
from peak_emulator.v2_wire import Wire
from tests.fixtures import V2_TENANT, V2_TENANT_ID, V2_TOKEN

PRODUCTS = "DEMO_PRODUCTS_OOTB"
AUTH = {"Authorization": V2_TOKEN}
FREE = RowValidator(None)


def product(pid: str, **extra: Any) -> dict[str, Any]:
    row = {"PRODUCT_ID": pid, "UPDATED_AT": "2024-01-15 10:30:00", "PRODUCT_NAME": f"name {pid}"}
    return {**row, "PRODUCT_CATEGORY": "beams", **extra}


def ingest(
    url: str,
    rows: list[Any],
    operation: str = "UPSERT",
    *,
    table: str = PRODUCTS,
    dry_run: bool = False,
    headers: dict[str, str] | None = None,
    solution: str = "DEMO_OOTB",
) -> requests.Response:
    body = RequestBody(solution, operation, dry_run=dry_run).wrap(encode(rows))
    return requests.post(f"{url}/api/v2/objects/{table}", data=body, headers=headers or AUTH, timeout=10)


def encode(rows: list[Any]) -> bytes:
    """The rows as the client sends them (``Decimal`` as exact numbers); non-objects as JSON."""
    parts = [FREE.encode(row, i) for i, row in enumerate(rows)]
    texts = [p if isinstance(p, bytes) else json.dumps(rows[i]).encode() for i, p in enumerate(parts)]
    return b"[" + b",".join(texts) + b"]"


def failures(reply: requests.Response) -> list[tuple[int, str | None, str]]:
    return [(f["index"], e["column"], e["code"]) for f in reply.json()["failed"] for e in f["errors"]]


def test_solutions_and_a_schema_the_client_reads(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    listed = requests.get(f"{emu.url}/api/v2/schema/solutions", headers=AUTH, timeout=10)
    assert listed.status_code == 200
    (summary,) = parse_solutions(listed.json())
    assert (summary.name, summary.prefix, summary.suffix, summary.table_count) == (
        "DEMO_OOTB",
        "DEMO_",
        "_OOTB",
        3,
    )
    reply = requests.get(
        f"{emu.url}/api/v2/schema", params={"solutionName": "DEMO_OOTB"}, headers=AUTH, timeout=10
    )
    solution = parse_solution_schema(reply.json(), summary=summary)
    assert solution.warnings == ()
    assert [t.full_name for t in solution.tables] == [
        PRODUCTS,
        "DEMO_CUSTOMERS_OOTB",
        "DEMO_QUOTE_LINES_OOTB",
    ]
    types = {c.type.value for t in solution.tables for c in t.columns}
    assert types == {"string", "integer", "boolean", "float", "numeric", "json", "date", "timestamp", "enum"}
    missing = requests.get(f"{emu.url}/api/v2/schema", headers=AUTH, timeout=10)
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "BAD_REQUEST")
    unknown = requests.get(f"{emu.url}/api/v2/schema?solutionName=NOPE", headers=AUTH, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "SOLUTION_NOT_FOUND")


def test_a_mixed_batch_accepts_the_good_rows_and_reports_the_bad(
    emu: PeakEmulator, v2: IngestionV2Api
) -> None:
    rows = [
        product("P1", LIST_PRICE=12.5),
        product("P2", LIST_PRICE="0.125"),  # too many fraction digits for numeric(12,2)
        product("P3", ATTRIBUTES={"colour": "red"}, LAUNCH_DATE="2024-02-29"),
        {"PRODUCT_ID": "P4", "UPDATED_AT": "2024-13-45 99:00:00", "PRODUCT_NAME": "x", "OTHER": 1},
        product("P5", BESPOKE_PRODUCT=True, WEIGHT_KG="12.5"),
    ]
    reply = ingest(emu.url, rows)
    assert reply.status_code == 200
    assert reply.json()["accepted"] == 3
    assert failures(reply) == [
        (1, "LIST_PRICE", codes.EXCEEDS_SCALE.code),
        (3, "UPDATED_AT", codes.BAD_FORMAT.code),
        (3, "OTHER", codes.UNKNOWN_COLUMN.code),
        (3, "PRODUCT_CATEGORY", codes.MISSING_REQUIRED.code),
    ]
    assert reply.json()["failed"][0]["row"] == rows[1]  # echoed as sent
    stored = v2.rows(PRODUCTS)
    assert [r["PRODUCT_ID"] for r in stored] == ["P1", "P3", "P5"]
    assert stored[0]["LIST_PRICE"] == Decimal("12.5") and stored[0]["BESPOKE_PRODUCT"] is False  # default
    assert stored[1]["ATTRIBUTES"] == {"colour": "red"} and stored[1]["WEIGHT_KG"] is None
    failed = v2.rows(f"{PRODUCTS}_failed_rows")
    assert [(f["rowIndex"], f["row"]["PRODUCT_ID"]) for f in failed] == [(1, "P2"), (3, "P4")]
    assert {f["requestId"] for f in failed} == {reply.json()["requestId"]}
    assert failed[1]["errors"][0]["category"] == "FORMAT" and failed[0]["operationType"] == "UPSERT"
    stats = v2.stats()
    assert (stats["rows_received"], stats["rows_accepted"], stats["rows_failed"]) == (5, 3, 2)


def test_the_client_predicts_the_emulators_verdict_over_http(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    schema = requests.get(f"{emu.url}/api/v2/schema?solutionName=DEMO_OOTB", headers=AUTH, timeout=10).json()
    validator = RowValidator(parse_solution_schema(schema).table("QUOTE_LINES"))
    rows = [
        {
            "QUOTE_ID": "Q1",
            "PRODUCT_ID": "P1",
            "REGION_ID": 1,
            "QUANTITY": 2,
            "UNIT_PRICE": "9.1234",
            "QUOTE_DATE": "2024-01-01",
        },
        {
            "QUOTE_ID": None,
            "PRODUCT_ID": "P1",
            "REGION_ID": 1.5,
            "QUANTITY": True,
            "UNIT_PRICE": 1e15,
            "QUOTE_DATE": "2024-1-1",
        },
        {"QUOTE_ID": "Q2", "PRODUCT_ID": "P2", "REGION_ID": 2, "DISCOUNT": 1.5, "NOTES": [1, {"a": None}]},
        "not a row",
    ]
    predicted = [(e.row, e.column, e.code) for i, r in enumerate(rows) for e in validator.errors(r, i)]
    reply = ingest(emu.url, rows, "APPEND", table="DEMO_QUOTE_LINES_OOTB")
    assert failures(reply) == predicted
    assert len({p[0] for p in predicted}) == 3 and reply.json()["accepted"] == 1


def test_upsert_updates_rows_on_the_primary_key(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    assert ingest(emu.url, [product("P1", LIST_PRICE=1), product("P2", LIST_PRICE=2)]).json()["accepted"] == 2
    later = [
        product("P1", LIST_PRICE=10, PRODUCT_SUBCATEGORY="steel"),
        product("P3"),
        product("P3", LIST_PRICE=3),
    ]
    assert ingest(emu.url, later).json()["accepted"] == 3
    stored = {r["PRODUCT_ID"]: r for r in v2.rows(PRODUCTS)}
    assert sorted(stored) == ["P1", "P2", "P3"]
    assert (stored["P1"]["LIST_PRICE"], stored["P1"]["PRODUCT_SUBCATEGORY"]) == (10, "steel")
    assert stored["P3"]["LIST_PRICE"] == 3  # the last row of a key in one request wins
    # The key is (PRODUCT_ID, UPDATED_AT): a new UPDATED_AT is a new row, kept beside the old one.
    ingest(emu.url, [product("P1", UPDATED_AT="2024-02-01 00:00:00")])
    assert [r["PRODUCT_ID"] for r in v2.rows(PRODUCTS)].count("P1") == 2


def test_append_inserts_every_row_even_a_repeated_key(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    rows = [product("P1"), product("P2")]
    assert ingest(emu.url, rows, "APPEND").status_code == 200
    assert ingest(emu.url, rows, "APPEND").status_code == 200
    assert [r["PRODUCT_ID"] for r in v2.rows(PRODUCTS)] == ["P1", "P2", "P1", "P2"]
    ingest(emu.url, [product("P1", LIST_PRICE=7)], "UPSERT")  # updates every row with the key
    assert [r["LIST_PRICE"] for r in v2.rows(PRODUCTS) if r["PRODUCT_ID"] == "P1"] == [7, 7]


def test_a_dry_run_validates_and_writes_nothing(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    ingest(emu.url, [product("P0")])
    before = (v2.rows(PRODUCTS), v2.failed_rows(PRODUCTS))
    reply = ingest(
        emu.url, [product("P1"), product("P2", LIST_PRICE="abc"), product("P0", LIST_PRICE=5)], dry_run=True
    )
    assert reply.status_code == 200
    assert reply.json()["dryRun"] is True and reply.json()["accepted"] == 2
    assert failures(reply) == [(1, "LIST_PRICE", codes.WRONG_TYPE.code)]
    assert (v2.rows(PRODUCTS), v2.failed_rows(PRODUCTS)) == before
    assert v2.stats()["dry_runs"] == 1


def test_request_errors(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    def post(body: bytes, table: str = PRODUCTS) -> tuple[int, str]:
        reply = requests.post(f"{emu.url}/api/v2/objects/{table}", data=body, headers=AUTH, timeout=10)
        return reply.status_code, reply.json()["error"]["code"]

    assert post(b"{not json") == (400, "BAD_REQUEST")
    assert post(b'[{"a": 1}]') == (400, "BAD_REQUEST")
    assert post(b'{"solutionName": "DEMO_OOTB", "operationType": "upsert", "data": []}') == (
        400,
        "BAD_REQUEST",
    )
    assert post(b'{"solutionName": "DEMO_OOTB", "operationType": "APPEND", "data": {}}') == (
        400,
        "BAD_REQUEST",
    )
    assert post(b'{"solutionName":"DEMO_OOTB","operationType":"APPEND","dryRun":"yes","data":[]}') == (
        400,
        "BAD_REQUEST",
    )
    assert post(b'{"solutionName": "DEMO_OOTB", "operationType": "APPEND", "data": [NaN]}') == (
        400,
        "BAD_REQUEST",
    )
    assert post(b'{"solutionName": "NOPE", "operationType": "APPEND", "data": []}') == (
        404,
        "SOLUTION_NOT_FOUND",
    )
    assert post(b'{"solutionName": "DEMO_OOTB", "operationType": "APPEND", "data": []}', "PRODUCTS") == (
        404,
        "TABLE_NOT_FOUND",
    )  # the path takes the full table name
    assert requests.get(f"{emu.url}/api/v2/objects/{PRODUCTS}", headers=AUTH, timeout=10).status_code == 405
    assert (
        requests.get(f"{emu.url}/api/v2/ingest/object/{PRODUCTS}", headers=AUTH, timeout=10).status_code
        == 404
    )
    assert v2.rows(PRODUCTS) == []


def test_rows_and_bytes_per_request(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    assert ingest(emu.url, [product(f"P{i}") for i in range(2000)]).json()["accepted"] == 2000
    too_many = ingest(emu.url, [product(f"P{i}") for i in range(2001)])
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    big = ingest(emu.url, [product(f"P{i}", PRODUCT_SUBCATEGORY="x" * 1000) for i in range(1000)])
    assert big.status_code == 413 and "at most 1,000,000" in big.json()["error"]["message"]
    assert len(v2.rows(PRODUCTS)) == 2000


def test_authentication_and_tenant_headers(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    url = f"{emu.url}/api/v2/schema/solutions"
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {V2_TOKEN}"}):
        reply = requests.get(url, headers=headers, timeout=10)
        assert (reply.status_code, reply.json()["error"]["code"]) == (401, "UNAUTHORIZED")
        assert V2_TOKEN not in reply.text
    good = {**AUTH, "x-auth-tenant": V2_TENANT, "x-auth-tenantId": V2_TENANT_ID}
    assert requests.get(url, headers=good, timeout=10).status_code == 200
    reply = requests.get(url, headers={**good, "X-Auth-TenantId": "other"}, timeout=10)
    assert (reply.status_code, reply.json()["error"]["code"]) == (403, "FORBIDDEN")


@pytest.fixture
def strict_emulator() -> Iterator[PeakEmulator]:
    """A May 8 style tenant: tenant headers required, Bearer accepted, 500 rows per request."""
    api = IngestionV2Api(
        tokens={"pat-a": Tenant("a", "1"), "pat-b": Tenant("b", "2")},
        wire=Wire(max_rows=500),
        require_tenant_headers=True,
        accept_bearer=True,
    )
    with PeakEmulator(api_keys=(), quiet=True, ingestion_v2=api) as emu:
        yield emu


def test_a_stricter_revision(strict_emulator: PeakEmulator) -> None:
    url = f"{strict_emulator.url}/api/v2/schema/solutions"
    reply = requests.get(url, headers={"Authorization": "Bearer pat-a"}, timeout=10)
    assert (reply.status_code, reply.json()["error"]["message"]) == (
        400,
        "the x-auth-tenant header is required",
    )
    headers = {"Authorization": "Bearer pat-a", "x-auth-tenant": "a", "x-auth-tenantId": "1"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    too_many = ingest(strict_emulator.url, [product(f"P{i}") for i in range(501)], headers=headers)
    assert too_many.status_code == 413 and "at most 500" in too_many.json()["error"]["message"]


def test_every_name_on_the_wire_is_configurable() -> None:
    names = dict(
        ingest_path="/api/v2/ingest/object/{table}",
        solutions_path="/api/v2/solutions",
        solution_key="solution",
        operation_key="operation",
        data_key="rows",
        dry_run_key="validateOnly",
        failed_key="rejected",
        failed_index_keys=("rowIndex",),
        failed_errors_keys=("validationErrors",),
        error_code_key="errorCode",
        accepted_keys=("acceptedCount",),
        schema_tables_keys=("objects",),
        table_name_keys=("objectName",),
        column_type_keys=("type",),
        case_sensitive_keys=False,
        auth_header="X-Api-Key",
        auth_scheme="PAT",
    )
    wire = V2Wire(**names)  # the client's and the emulator's wire, from the same names
    api = IngestionV2Api(tokens={"pat": "t"}, wire=Wire(**names), schema_as_string=True, wrap_solutions=True)
    with PeakEmulator(api_keys=(), quiet=True, ingestion_v2=api) as emu:
        headers = {"X-Api-Key": "PAT pat"}
        listed = requests.get(f"{emu.url}/api/v2/solutions", headers=headers, timeout=10).json()
        assert parse_solutions(listed, wire)[0].name == "DEMO_OOTB"
        raw = requests.get(
            f"{emu.url}/api/v2/schema?solutionName=DEMO_OOTB", headers=headers, timeout=10
        ).json()
        assert isinstance(raw["objects"], str)
        table = parse_solution_schema(raw, wire).table(PRODUCTS)
        rows = [{k.lower(): v for k, v in product("P1").items()}, product("P2", LIST_PRICE="x")]
        data = json.dumps(rows).encode()
        body = RequestBody("DEMO_OOTB", "upsert", dry_run=False, wire=wire).wrap(data)
        reply = requests.post(
            f"{emu.url}/api/v2/ingest/object/{PRODUCTS}", data=body, headers=headers, timeout=10
        )
        outcome = parse_ingest_reply(reply.json(), wire, sent=2)
        assert (outcome.accepted, outcome.failed[0].index, outcome.failed[0].codes) == (1, 1, ("DI_E_20001",))
        assert RowValidator(table, case_sensitive=False).errors(rows[0], 0) == []
        assert api.rows(PRODUCTS)[0]["PRODUCT_ID"] == "P1"  # stored under Peak's spelling
        default_path = requests.post(
            f"{emu.url}/api/v2/objects/{PRODUCTS}", data=body, headers=headers, timeout=10
        )
        assert default_path.status_code == 404
        assert requests.get(f"{emu.url}/api/v2/solutions", headers=AUTH, timeout=10).status_code == 401


def test_requests_above_the_rate_get_429_with_retry_after() -> None:
    api = IngestionV2Api(tokens={"pat-a": "a", "pat-b": "b"}, rate_window=10.0)
    api.set_rate_limit(0.5)  # 5 requests in any 10 s window: a slow machine cannot blur it
    with PeakEmulator(api_keys=(), quiet=True, ingestion_v2=api) as emu:
        url = f"{emu.url}/api/v2/schema/solutions"
        replies = [requests.get(url, headers={"Authorization": "pat-a"}, timeout=10) for _ in range(12)]
        assert [r.status_code for r in replies] == [200] * 5 + [429] * 7
        assert all(1 <= int(r.headers["Retry-After"]) <= 10 for r in replies[5:])
        assert replies[-1].json()["error"]["code"] == "TOO_MANY_REQUESTS"
        other = requests.get(url, headers={"Authorization": "pat-b"}, timeout=10)
        assert other.status_code == 200  # the limit is per tenant
        stats = api.stats()
        assert (stats["rate_limited"], stats["max_rate_by_tenant"]) == (7, {"a": 12, "b": 1})
        assert len(api.arrivals("a")) == 12 and stats["by_status"] == {"200": 6, "429": 7}


def test_the_default_limit_is_50_requests_in_any_second(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    url = f"{emu.url}/api/v2/schema/solutions"

    def burst() -> None:
        with requests.Session() as session:
            for _ in range(20):
                session.get(url, headers=AUTH, timeout=10)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrivals = v2.arrivals()
    span = arrivals[-1] - arrivals[0]
    by_status = v2.stats()["by_status"]
    assert len(arrivals) == 80 and v2.stats()["max_rate"] == max(
        sum(1 for t in arrivals if start - 1.0 < t <= start) for start in arrivals
    )
    if span < 1.0:  # the usual case: all 80 inside one second, so exactly 30 were refused
        assert by_status == {"200": 50, "429": 30}
    else:  # a very slow machine: still never more than 50 in a second
        assert by_status.get("200", 0) <= 50 * math.ceil(span + 1)


def test_the_window_counts_starts_in_any_sliding_window() -> None:
    window = _Window()
    assert [window.arrive(t, 3, 1.0) for t in (0.0, 0.2, 0.4)] == [None, None, None]
    assert window.arrive(0.9, 3, 1.0) == pytest.approx(0.1)  # free again when 0.0 leaves the window
    assert window.arrive(1.0, 3, 1.0) is None
    assert window.arrive(1.1, 3, 1.0) == pytest.approx(0.1)
    assert window.max_seen == 5  # 0.2, 0.4, 0.9, 1.0, 1.1 within (0.1, 1.1]


def test_faults_on_v2_routes(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    emu.inject("drop_after_apply", route="v2_ingest")
    with pytest.raises(requests.ConnectionError):
        ingest(emu.url, [product("P1")])
    assert [r["PRODUCT_ID"] for r in v2.rows(PRODUCTS)] == ["P1"]  # applied, reply lost
    emu.inject("reset", route="v2_ingest")
    with pytest.raises(requests.ConnectionError):
        ingest(emu.url, [product("P2")])
    assert len(v2.rows(PRODUCTS)) == 1  # nothing applied
    emu.inject("status", route="v2_schema", status=503)
    reply = requests.get(f"{emu.url}/api/v2/schema?solutionName=DEMO_OOTB", headers=AUTH, timeout=10)
    assert (reply.status_code, reply.json()["error"]["code"]) == (503, "INJECTED_FAULT")


def test_upsert_needs_a_primary_key_and_definitions_follow_the_save_rules(
    emu: PeakEmulator, v2: IngestionV2Api
) -> None:
    events = {
        "solutionName": "EVENTS",
        "tables": [
            {
                "tableName": "LOG",
                "columns": [{"name": "A", "dataType": "string", "validations": [{"type": "optional"}]}],
            }
        ],
    }
    v2.add_solution(events)
    reply = ingest(emu.url, [{"A": "x"}], "UPSERT", table="LOG", solution="EVENTS")
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "BAD_REQUEST")
    assert ingest(emu.url, [{"A": "x"}], "APPEND", table="LOG", solution="EVENTS").json()["accepted"] == 1

    def broken(**column: Any) -> dict[str, Any]:
        return {
            "solutionName": "X",
            "tables": [{"tableName": "T", "primaryKeys": ["A"], "columns": [{"name": "A", **column}]}],
        }

    for column, message in [
        (
            {"dataType": "numeric", "precision": 39, "scale": 0, "validations": [{"type": "required"}]},
            "precision",
        ),
        ({"dataType": "numeric", "precision": 5, "scale": 6, "validations": [{"type": "required"}]}, "scale"),
        (
            {"dataType": "float", "precision": 5, "scale": 1, "validations": [{"type": "required"}]},
            "only for numeric",
        ),
        (
            {"dataType": "string", "validations": [{"type": "optional"}]},
            "primary key column must be required",
        ),
        ({"dataType": "string", "validations": [{"type": "required"}, {"type": "optional"}]}, "exactly one"),
        (
            {
                "dataType": "timestamp",
                "validations": [{"type": "required"}, {"type": "timestampFormat", "format": "YYYY"}],
            },
            "timestampFormat",
        ),
        ({"dataType": "geography", "validations": [{"type": "required"}]}, "dataType"),
    ]:
        with pytest.raises(DefinitionError, match=message):
            v2.add_solution(broken(**column))


def test_admin_endpoints(emu: PeakEmulator, v2: IngestionV2Api) -> None:
    ingest(emu.url, [product("P1", LIST_PRICE=Decimal("1.10")), product("P2", LIST_PRICE="bad")])
    admin = f"{emu.url}/_emulator/v2"
    rows = requests.get(f"{admin}/tables/{PRODUCTS}/rows", timeout=10).json()["rows"]
    assert (
        rows[0]["LIST_PRICE"] == 1.1
        and '"LIST_PRICE":1.10' in requests.get(f"{admin}/tables/{PRODUCTS}/rows", timeout=10).text
    )  # numbers stay numbers, exactly as sent
    assert len(requests.get(f"{admin}/tables/{PRODUCTS}/failed_rows", timeout=10).json()["rows"]) == 1
    tables = requests.get(f"{admin}/tables", params={"tenant": V2_TENANT}, timeout=10).json()["tables"]
    assert {"solution": "DEMO_OOTB", "table": PRODUCTS, "rows": 1, "failed": 1} in tables
    assert requests.get(f"{admin}/stats", timeout=10).json()["by_route"] == {"ingest": 1}
    assert (
        requests.post(f"{admin}/rate-limit", json={"requests_per_second": 0}, timeout=10).status_code == 400
    )
    assert (
        requests.post(f"{admin}/rate-limit", json={"requests_per_second": None}, timeout=10).status_code
        == 200
    )
    assert v2.rate_limit is None
    assert requests.post(f"{admin}/reset", timeout=10).json() == {"ok": True}
    assert v2.rows(PRODUCTS) == [] and requests.get(f"{admin}/nope", timeout=10).status_code == 404


def test_the_demo_solution_is_a_valid_definition() -> None:
    api = IngestionV2Api(tokens={"p": "t"}, demo=False)
    api.add_solution(DEMO_SOLUTION)
    assert [t["table"] for t in api.tables()] == [PRODUCTS, "DEMO_CUSTOMERS_OOTB", "DEMO_QUOTE_LINES_OOTB"]

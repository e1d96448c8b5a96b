"""``PeakV2Hook`` over real HTTP: against the emulator's v2 API, and against scripted loopback
servers for the odd replies (lenient schemas, echoed secrets, other wire names)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from airflow_provider_peak.exceptions import (
    PeakAuthError,
    PeakConfigError,
    PeakNotFoundError,
    PeakRowsFailedError,
    PeakValidationError,
    RowValidationError,
    SolutionTableNotFoundError,
)
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.ingest.v2.schema import V2Type
from tests.fixtures import FAST_RETRIES, V2_TENANT, V2_TENANT_ID, V2_TOKEN, Answer

SOLUTION, PRODUCTS, CUSTOMERS = "DEMO_OOTB", "DEMO_PRODUCTS_OOTB", "DEMO_CUSTOMERS_OOTB"


def product(pid, **extra):
    row = {"PRODUCT_ID": pid, "UPDATED_AT": "2024-01-15 10:30:00", "PRODUCT_NAME": f"name {pid}"}
    return {**row, "PRODUCT_CATEGORY": "beams", **extra}


def scripted_v2(scripted, set_conn, answer, **extra):
    """A scripted v2 server behind ``peak_v2_default``; returns the server."""
    server = scripted(answer)
    set_conn(
        "peak_v2_default",
        conn_type="peak_v2",
        host=server.url,
        password=V2_TOKEN,
        extra={**FAST_RETRIES, **extra},
    )
    return server


class TestSolutions:
    def test_list_and_describe_the_demo_solution(self, v2_conn):
        v2_conn()
        hook = PeakV2Hook()
        (summary,) = hook.list_solutions()
        assert (summary.name, summary.prefix, summary.suffix, summary.table_count) == (
            SOLUTION,
            "DEMO_",
            "_OOTB",
            3,
        )
        solution = hook.get_solution(SOLUTION)
        assert solution.warnings == ()
        products = solution.table("PRODUCTS")
        assert products.full_name == PRODUCTS and solution.table(PRODUCTS) is products
        assert products.primary_key == ("PRODUCT_ID", "UPDATED_AT")
        price = products.column("LIST_PRICE")
        assert (price.type, price.precision, price.scale, price.required) == (V2Type.NUMERIC, 12, 2, False)
        updated = products.column("UPDATED_AT")
        assert updated.format_names == ("YYYY-MM-DD HH:MI:SS",) and updated.required and updated.non_null
        source = solution.table("CUSTOMERS").column("SOURCE")
        assert (source.type, source.values) == (V2Type.ENUM, ("peak", "customer"))

    def test_an_unknown_solution_is_a_typed_404(self, v2_conn):
        v2_conn()
        with pytest.raises(PeakNotFoundError, match="SOLUTION_NOT_FOUND on GET /api/v2/schema"):
            PeakV2Hook().get_solution("NOPE")

    def test_an_unknown_table_names_the_solutions_tables(self, v2_conn):
        v2_conn()
        with pytest.raises(SolutionTableNotFoundError, match="has no table 'ORDERS'; its tables: 'DEMO_P"):
            PeakV2Hook().load_rows(SOLUTION, "ORDERS", [{"A": 1}])

    def test_a_schema_it_cannot_fully_read_is_read_leniently_and_said(self, scripted, set_conn, caplog):
        schema = {
            "solutionName": "S",
            "schemaDefinition": json.dumps(
                [
                    {
                        "tableName": "ITEMS",
                        "primaryKeys": ["ID"],
                        "columns": [
                            {"name": "ID", "dataType": "string", "validations": ["required"]},
                            {"name": "SIZE", "dataType": "geometry"},
                            {"dataType": "string"},
                        ],
                    },
                    "not a table",
                ]
            ),
        }

        def answer(seen):
            if seen.path.startswith("/api/v2/schema/solutions"):
                return Answer.json({"items": [{"solutionName": "S", "prefix": "P_", "suffix": "_X"}]})
            return Answer.json(schema)

        scripted_v2(scripted, set_conn, answer, solutions_list_keys="items")
        with caplog.at_level(logging.WARNING):
            solution = PeakV2Hook().get_solution("S")
        (items,) = solution.tables
        assert items.full_name == "P_ITEMS_X"  # prefix and suffix from the list of solutions
        assert items.column("SIZE").type is V2Type.UNKNOWN
        for line in ("'geometry' is not known", "column #2 has no name", "table #1 is not an object"):
            assert line in caplog.text

    def test_a_list_it_cannot_read_is_said(self, scripted, set_conn, caplog):
        scripted_v2(scripted, set_conn, lambda seen: Answer.json({"results": [{"solutionName": "S"}]}))
        with caplog.at_level(logging.WARNING):
            assert PeakV2Hook().list_solutions() == []
        assert "no solution could be read from GET /api/v2/schema/solutions" in caplog.text
        assert "solutions_list_keys extra" in caplog.text


class TestIngest:
    def test_a_mixed_request_accepts_the_good_rows_and_reports_the_bad(self, v2, v2_conn):
        v2_conn()
        rows = [product("P1"), product("P2", LIST_PRICE=Decimal("0.125")), product("P3", SURPRISE=1)]
        outcome = PeakV2Hook().ingest(SOLUTION, PRODUCTS, rows)
        assert (outcome.sent, outcome.accepted) == (3, 1)
        assert [(f.row, f.codes) for f in outcome.failed] == [(1, ("DI_E_20004",)), (2, ("DI_E_10002",))]
        assert outcome.failed[0].errors[0].column == "LIST_PRICE"
        assert outcome.request_id
        assert [r["PRODUCT_ID"] for r in v2.rows(PRODUCTS)] == ["P1"]
        assert [f["rowIndex"] for f in v2.failed_rows(PRODUCTS)] == [1, 2]

    def test_upsert_replaces_rows_with_the_same_key_and_append_adds(self, v2, v2_conn):
        v2_conn()
        hook = PeakV2Hook()
        hook.ingest(SOLUTION, PRODUCTS, [product("P1", LIST_PRICE=Decimal("1.50")), product("P2")])
        hook.ingest(SOLUTION, PRODUCTS, [product("P1", LIST_PRICE=Decimal("2.25"))], operation="upsert")
        stored = {r["PRODUCT_ID"]: r for r in v2.rows(PRODUCTS)}
        assert len(v2.rows(PRODUCTS)) == 2 and stored["P1"]["LIST_PRICE"] == Decimal("2.25")
        hook.ingest(SOLUTION, PRODUCTS, [product("P1", LIST_PRICE=Decimal("3.00"))], operation="APPEND")
        assert len(v2.rows(PRODUCTS)) == 3  # APPEND never updates: the key is stored twice

    def test_a_dry_run_reports_and_writes_nothing(self, v2, v2_conn):
        v2_conn()
        outcome = PeakV2Hook().ingest(
            SOLUTION, PRODUCTS, [product("P1"), product("P2", PRODUCT_NAME="")], dry_run=True
        )
        assert outcome.dry_run and outcome.accepted == 1 and len(outcome.failed) == 1
        assert v2.rows(PRODUCTS) == [] and v2.failed_rows(PRODUCTS) == []
        assert v2.stats()["dry_runs"] == 1

    def test_python_values_are_written_and_what_json_cannot_hold_is_refused(self, v2, v2_conn):
        from datetime import datetime

        v2_conn()
        hook = PeakV2Hook()
        hook.ingest(SOLUTION, PRODUCTS, [product("P1", UPDATED_AT=datetime(2024, 2, 1, 8, 0))])
        assert v2.rows(PRODUCTS)[0]["UPDATED_AT"] == "2024-02-01 08:00:00"
        with pytest.raises(RowValidationError, match="row 1, column 'WEIGHT_KG'"):
            hook.ingest(SOLUTION, PRODUCTS, [product("P2"), product("P3", WEIGHT_KG=float("nan"))])
        assert len(v2.rows(PRODUCTS)) == 1

    def test_limits_are_checked_before_sending(self, v2, v2_conn):
        v2_conn(max_rows=2)
        with pytest.raises(PeakConfigError, match="3 rows in one request; at most 2"):
            PeakV2Hook().ingest(SOLUTION, PRODUCTS, [product(f"P{i}") for i in range(3)])
        assert v2.stats()["by_route"].get("ingest", 0) == 0

    @pytest.mark.parametrize("table", ["..", ".", "", "A/B", "A\\B", "A\nB"])
    def test_a_table_name_never_leaves_its_path_segment(self, v2, v2_conn, table):
        v2_conn()
        with pytest.raises(PeakConfigError, match="table"):
            PeakV2Hook().ingest(SOLUTION, table, [product("P1")])
        assert v2.stats()["requests"] == 0

    def test_wire_names_come_from_the_connection(self, scripted, set_conn):
        reply = {
            "requestId": "r-1",
            "ok": 1,
            "rejected": [{"rowNumber": 0, "problems": [{"errorCode": "E1"}]}],
        }
        server = scripted_v2(
            scripted,
            set_conn,
            lambda seen: Answer.json(reply),
            ingest_path="/api/v2/ingest/object/{table}",
            operation_key="operation",
            data_key="rows",
            failed_key="rejected",
            failed_index_keys="rowNumber",
            failed_errors_keys="problems",
            error_code_key="errorCode",
            accepted_keys="ok",
            auth_scheme="Bearer",
            tenant=V2_TENANT,
            tenant_id=V2_TENANT_ID,
        )
        outcome = PeakV2Hook().ingest("S", "T_X", [{"A": 1}, {"A": 2}], operation="append")
        (seen,) = server.seen
        assert (seen.method, seen.path) == ("POST", "/api/v2/ingest/object/T_X")
        assert json.loads(seen.body) == {
            "solutionName": "S",
            "operation": "APPEND",
            "rows": [{"A": 1}, {"A": 2}],
        }
        assert seen.headers["Authorization"] == f"Bearer {V2_TOKEN}"
        assert (seen.headers["x-auth-tenant"], seen.headers["x-auth-tenantId"]) == (V2_TENANT, V2_TENANT_ID)
        assert seen.headers["Content-Type"] == "application/json"
        assert (outcome.accepted, outcome.failed[0].codes, outcome.request_id) == (1, ("E1",), "r-1")

    def test_the_token_is_sent_raw_and_tenant_headers_must_match(self, v2, v2_conn):
        v2_conn(tenant=V2_TENANT, tenant_id=V2_TENANT_ID)
        assert PeakV2Hook().ingest(SOLUTION, PRODUCTS, [product("P1")]).accepted == 1
        v2_conn(tenant="someone-else")
        with pytest.raises(PeakAuthError, match=r"403 FORBIDDEN .* does not match the token's tenant"):
            PeakV2Hook().ingest(SOLUTION, PRODUCTS, [product("P2")])


class TestTestConnection:
    def test_success_lists_the_solutions(self, v2_conn):
        v2_conn()
        hook = PeakV2Hook()
        assert hook.test_connection() == (True, "Connection successfully tested (1 solution: DEMO_OOTB)")
        assert hook.stats["requests"] == 1

    def test_failure_text(self, v2_conn, caplog):
        v2_conn(password="wrong-pat-token-31337")
        ok, message = PeakV2Hook().test_connection()
        assert (ok, message) == (
            False,
            "401 UNAUTHORIZED on GET /api/v2/schema/solutions: missing or invalid personal access token",
        )
        assert "wrong-pat-token-31337" not in caplog.text

    def test_no_host_is_guessed(self, set_conn):
        set_conn("peak_v2_default", conn_type="peak_v2", password=V2_TOKEN)
        ok, message = PeakV2Hook().test_connection()
        assert not ok and "has no Host" in message and "https://ingestion.<cluster>.peak.ai" in message


class TestSecrets:
    def test_a_server_echoing_the_token_leaks_it_nowhere(self, scripted, set_conn, caplog, tmp_path):
        """Schema text, error bodies, row messages and codes that repeat the token: it reaches no
        error, log line, summary or dead letter."""

        def answer(seen):
            echoed = seen.headers.get("Authorization", "")
            if seen.path.startswith("/api/v2/schema/solutions"):
                return Answer.json([{"solutionName": "S", "targetSchemaName": echoed}])
            if seen.path.startswith("/api/v2/schema"):
                tables = [{"tableName": "ORDERS", "columns": [{"name": "A", "dataType": echoed}]}]
                return Answer.json(
                    {"solutionName": "S", "schemaDefinition": [*tables, {"tableName": echoed}]}
                )
            data = json.loads(seen.body)["data"]
            if len(data) == 1:
                return Answer.json({"error": {"code": echoed, "message": f"bad {echoed}"}}, 400)
            failed = [
                {"index": 0, "errors": [{"code": echoed, "message": f"token {echoed}", "column": echoed}]}
            ]
            return Answer.json({"failed": failed, "echo": echoed})

        scripted_v2(scripted, set_conn, answer, max_retries=0)
        hook = PeakV2Hook()
        dead = tmp_path / "dead.jsonl"
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(SolutionTableNotFoundError) as missing:
                hook.load_rows("S", "ITEMS", [{"A": 1}])
            summary = hook.load_rows(
                "S", "ORDERS", [{"A": 1}, {"A": 2}], on_invalid="dead_letter", dead_letter_path=str(dead)
            )
            with pytest.raises(PeakRowsFailedError) as failed:
                hook.load_rows("S", "ORDERS", [{"A": 1}, {"A": 2}])
            with pytest.raises(PeakValidationError) as refused:
                hook.ingest("S", "ORDERS", [{"A": 1}])
        assert summary.rows_failed == 1 and summary.failed_by_code == {"***": 1}
        assert "token ***" in dead.read_text() and "token ***" in str(failed.value)
        assert "bad ***" in str(refused.value) and "'***'" in str(missing.value)
        texts = [str(missing.value), str(failed.value), str(refused.value), caplog.text, dead.read_text()]
        for text in [*texts, json.dumps(summary.as_dict()), repr(hook.settings), repr(hook.auth)]:
            assert V2_TOKEN not in text

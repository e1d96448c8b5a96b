"""The solution schema model, read leniently: unknown keys are ignored, an unreadable part becomes
unknown with a warning, and nothing a server sends makes the parser fail."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import FormatError, PeakConfigError, SolutionTableNotFoundError
from airflow_provider_peak.ingest.v2.schema import (
    SolutionSummary,
    V2Type,
    compile_format,
    parse_solution_schema,
    parse_solutions,
)
from airflow_provider_peak.ingest.v2.wire import V2Wire


def reply(*tables: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "solutionName": "QP_OOTB",
        "prefix": "QP_",
        "suffix": "_OOTB",
        **meta,
        "schemaDefinition": list(tables),
    }


def column(name: str, data_type: str, *validations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "dataType": data_type, "validations": list(validations), **extra}


PRODUCTS = {
    "tableName": "PRODUCTS",
    "primaryKeys": ["PRODUCT_ID", "UPDATED_AT"],
    "uniqueKeys": [["SKU"], "BARCODE"],
    "objectValidations": [{"type": "freshness", "enabled": True}],
    "columns": [
        column(
            "PRODUCT_ID",
            "string",
            {"type": "required"},
            {"type": "nonNull"},
            {"type": "maxLength", "value": 8},
        ),
        column(
            "UPDATED_AT",
            "timestamp",
            {"type": "required"},
            {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS"},
        ),
        column("PRICE", "numeric", {"type": "optional"}, precision=12, scale=2),
        column("SOURCE", "ENUM", {"type": "required"}, values=["peak", "customer"]),
        column(
            "SEEN_AT",
            "datetime",
            {"type": "optional"},
            {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS ±hh:mm"},
        ),
        column("DAY", "date", {"type": "optional"}),
        column("FLAG", "boolean", {"type": "optional"}, defaultValue=False),
    ],
}


def test_a_documented_looking_reply() -> None:
    solution = parse_solution_schema(reply(PRODUCTS, appName="quote-pricing", appVersion="1.0.0"))
    assert solution.warnings == ()
    assert (solution.name, solution.app_name, solution.app_version) == ("QP_OOTB", "quote-pricing", "1.0.0")
    table = solution.table("QP_PRODUCTS_OOTB")
    assert solution.table("PRODUCTS") is table  # the object name works too
    assert table.primary_key == ("PRODUCT_ID", "UPDATED_AT")
    assert table.unique_keys == (("SKU",), ("BARCODE",))
    by_name = {c.name: c for c in table.columns}
    key = by_name["PRODUCT_ID"]
    assert (key.required, key.non_null, key.primary_key, key.max_length) == (True, True, True, 8)
    assert by_name["UPDATED_AT"].primary_key and by_name["UPDATED_AT"].rejects_null
    assert (by_name["PRICE"].precision, by_name["PRICE"].scale, by_name["PRICE"].required) == (12, 2, False)
    assert by_name["SOURCE"].type is V2Type.ENUM and by_name["SOURCE"].values == ("peak", "customer")
    assert by_name["SEEN_AT"].type is V2Type.TIMESTAMP  # datetime is read as timestamp
    assert by_name["SEEN_AT"].format_names == ("YYYY-MM-DD HH:MI:SS ±hh:mm",)
    assert by_name["DAY"].format_names == ("YYYY-MM-DD",)  # the only date format Peak allows
    assert by_name["FLAG"].has_default and by_name["FLAG"].default is False


def test_peak_formats_compile_to_the_v1_engine() -> None:
    plain = compile_format("YYYY-MM-DD HH:MI:SS", "timestamp")
    assert plain.parse("2024-01-15 10:30:00") is not None
    assert plain.parse("2024-01-15 23:59:59") is not None  # HH is a 24-hour hour
    assert plain.parse("2024-01-15T10:30:00") is None
    zoned = compile_format("YYYY-MM-DD HH:MI:SS ±hh:mm", "timestamp")
    assert zoned.parse("2024-01-15 10:30:00 +05:30") is not None
    assert zoned.parse("2024-01-15 10:30:00 -08:00") is not None
    assert zoned.parse("2024-01-15 10:30:00") is None
    assert compile_format("YYYY-MM-DD", "date").parse("2024-02-30") is None
    with pytest.raises(FormatError):
        compile_format("DD MON YYYY", "date")


def test_the_tables_may_come_as_a_json_string_or_a_bare_list() -> None:
    as_string = {**reply(), "schemaDefinition": json.dumps([PRODUCTS])}
    assert parse_solution_schema(as_string).table("QP_PRODUCTS_OOTB").primary_key
    bare = parse_solution_schema(
        [PRODUCTS], solution_name="QP_OOTB", summary=SolutionSummary("QP_OOTB", "QP_", "_OOTB")
    )
    assert [t.full_name for t in bare.tables] == ["QP_PRODUCTS_OOTB"]
    nested = parse_solution_schema({"schemaDefinition": {"tables": [PRODUCTS]}})
    assert [t.full_name for t in nested.tables] == ["PRODUCTS"]  # no prefix or suffix known


def test_a_full_name_in_the_reply_wins_over_prefix_and_suffix() -> None:
    solution = parse_solution_schema(reply({**PRODUCTS, "fullTableName": "QP_PRODUCTS_V2"}))
    assert solution.table("QP_PRODUCTS_V2").name == "PRODUCTS"


def test_other_key_names_through_the_wire_settings() -> None:
    wire = V2Wire(
        schema_tables_keys=("objects",),
        table_name_keys=("object",),
        columns_keys=("fields",),
        column_name_keys=("field",),
        column_type_keys=("kind",),
        primary_key_keys=("pk",),
    )
    raw = {"objects": [{"object": "T", "pk": "ID", "fields": [{"field": "ID", "kind": "integer"}]}]}
    table = parse_solution_schema(raw, wire).table("T")
    assert table.primary_key == ("ID",) and table.columns[0].type is V2Type.INTEGER
    assert table.columns[0].required  # a primary key column is required
    assert parse_solution_schema(raw).warnings  # the default names find nothing, and say so


def test_fallback_spellings_of_validations_and_flags() -> None:
    raw = reply(
        {
            "name": "T",
            "columns": [
                {"columnName": "A", "type": "string", "validations": {"required": True, "maxLength": 3}},
                {"name": "B", "dataType": "string", "required": True, "nullable": False, "primaryKey": True},
                {
                    "name": "C",
                    "dataType": "numeric",
                    "validations": [{"type": "precision", "precision": 5, "scale": 1}],
                },
                {"name": "D", "dataType": "timestamp", "timestampFormat": "YYYY-MM-DD HH:MI:SS"},
                {"name": "E", "dataType": "string", "validations": ["optional", {"type": "non_null"}]},
            ],
        }
    )
    table = parse_solution_schema(raw).table("QP_T_OOTB")
    a, b, c, d, e = table.columns
    assert (a.required, a.max_length) == (True, 3)
    assert (b.required, b.non_null, b.primary_key) == (True, True, True)
    assert (c.precision, c.scale) == (5, 1)
    assert d.format_names == ("YYYY-MM-DD HH:MI:SS",)
    assert (e.required, e.non_null) == (False, True)


@pytest.mark.parametrize(
    ("col", "warning", "check"),
    [
        (column("A", "geography"), "data type 'geography' is not known", lambda c: c.type is V2Type.UNKNOWN),
        (
            column("A", "numeric", precision=39, scale=2),
            "precision 39 is not 1..38",
            lambda c: c.precision is None,
        ),
        (column("A", "numeric", precision=0), "precision 0 is not 1..38", lambda c: c.precision is None),
        (column("A", "numeric", precision=5, scale=6), "scale 6 is not 0..5", lambda c: c.precision is None),
        (
            column("A", "numeric", precision=38, scale=38),
            "scale 38 is not 0..37",
            lambda c: c.precision is None,
        ),
        (
            column("A", "timestamp", {"type": "timestampFormat", "format": "DD-MON-YY"}),
            "unknown token",
            lambda c: c.formats == (),
        ),
        (column("A", "enum"), "the enum's values are not listed", lambda c: c.values is None),
        (
            column("A", "string", {"type": "required"}, {"type": "optional"}),
            "both required and optional",
            lambda c: c.required,
        ),
    ],
)
def test_what_cannot_be_read_becomes_unknown_with_a_warning(
    col: dict[str, Any], warning: str, check: Any
) -> None:
    solution = parse_solution_schema(reply({"tableName": "T", "columns": [col]}))
    assert any(warning in w for w in solution.warnings), solution.warnings
    assert check(solution.table("T").columns[0])


def test_a_numeric_with_scale_left_out_has_scale_zero_and_a_timestamp_without_format_is_any_text() -> None:
    table = parse_solution_schema(
        reply({"tableName": "T", "columns": [column("N", "numeric", precision=4), column("TS", "timestamp")]})
    ).table("T")
    assert (table.columns[0].precision, table.columns[0].scale) == (4, 0)
    assert table.columns[1].formats == ()


def test_broken_parts_are_skipped_and_named() -> None:
    raw = reply(
        "not a table",
        {"columns": []},
        {"tableName": "T", "columns": "nope"},
        {
            "tableName": "U",
            "primaryKeys": ["X"],
            "columns": [7, {"dataType": "string"}, column("A", "string"), column("A", "integer")],
        },
        {"tableName": "U", "columns": [column("B", "string")]},
    )
    solution = parse_solution_schema(raw)
    text = "\n".join(solution.warnings)
    for expected in (
        "table #0 is not an object",
        "table #1 has no name",
        "table 'T' has no list of columns",
        "column #0 is not an object",
        "column #1 has no name",
        "column 'A' appears twice",
        "primary key columns ['X'] are not among its columns",
        "table 'QP_U_OOTB' appears twice",
    ):
        assert expected in text
    assert [t.name for t in solution.tables] == ["T", "U"]
    assert [c.type for c in solution.table("U").columns] == [V2Type.STRING]


def test_asking_for_a_table_the_schema_lacks() -> None:
    solution = parse_solution_schema(reply(PRODUCTS))
    assert solution.find_table("ORDERS") is None
    with pytest.raises(SolutionTableNotFoundError) as caught:
        solution.table("ORDERS")
    assert str(caught.value) == "solution 'QP_OOTB' has no table 'ORDERS'; its tables: 'QP_PRODUCTS_OOTB'"
    assert isinstance(caught.value, PeakConfigError)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.table, again.available) == ("ORDERS", ["QP_PRODUCTS_OOTB"])


def test_solutions_list_bare_or_wrapped() -> None:
    item = {
        "solutionName": "QP_OOTB",
        "prefix": "QP_",
        "suffix": "_OOTB",
        "targetSchemaName": "STAGE",
        "tableCount": 10,
    }
    expected = [SolutionSummary("QP_OOTB", "QP_", "_OOTB", "STAGE", 10)]
    assert parse_solutions([item]) == expected
    assert parse_solutions({"solutions": [item, {"no": "name"}, 3]}) == expected
    assert parse_solutions({"items": [{"solutionName": "B2C_OOTB", "tableCount": "x"}]}) == [
        SolutionSummary("B2C_OOTB")
    ]
    assert parse_solutions("nonsense") == []


def test_warnings_are_bounded_and_quote_server_text() -> None:
    hostile = "x" * 10_000 + "\n\x1b[31m"
    raw = reply({"tableName": hostile, "columns": [column(f"C{i}", hostile) for i in range(500)]})
    solution = parse_solution_schema(raw)
    assert len(solution.warnings) == 51
    assert all(len(w) < 400 for w in solution.warnings)
    assert not any("\x1b" in w or "\n" in w for w in solution.warnings)


server_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "tableName",
                    "name",
                    "columns",
                    "dataType",
                    "validations",
                    "type",
                    "primaryKeys",
                    "precision",
                    "scale",
                    "format",
                    "values",
                    "schemaDefinition",
                    "prefix",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(server_json)
def test_any_reply_is_parsed_without_an_exception(payload: Any) -> None:
    solution = parse_solution_schema(payload, solution_name="S")
    for table in solution.tables:
        assert table.full_name and all(isinstance(c.name, str) for c in table.columns)
    parse_solutions(payload)

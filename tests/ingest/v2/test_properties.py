"""Differential property tests: the client's row verdicts equal the emulator's, row by row.

The client reads the emulator's get-schema reply with its lenient parser, validates rows with
``RowValidator``; the emulator checks the same rows with its own, independent code
(``emulator.v2_checks``). On a hypothesis corpus of JSON-native rows, valid and not, both must
name the same failed rows, columns and codes, with keys matched exactly or ignoring case. Rows of
Python values (dates, datetimes, ``Decimal``) that the client accepts, the emulator accepts.
"""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_peak.ingest.v2.body import RequestBody
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import (
    SolutionColumn,
    SolutionTable,
    V2Type,
    parse_solution_schema,
)
from airflow_provider_peak.ingest.v2.wire import V2Wire
from airflow_provider_peak.ingest.validation import INT64_MAX, INT64_MIN
from peak_emulator.ingestion_v2 import IngestionV2Api, Tenant
from peak_emulator.v2_wire import Wire

PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = "pat-property-tests"
HEADERS = {"Authorization": TOKEN}


def make_api(*, case_sensitive: bool = True) -> IngestionV2Api:
    api = IngestionV2Api(tokens={TOKEN: Tenant("props", "42")}, wire=Wire(case_sensitive_keys=case_sensitive))
    api.set_rate_limit(None)
    return api


def client_tables(api: IngestionV2Api) -> dict[str, SolutionTable]:
    """The demo solution as the client reads it, from the emulator's reply as JSON on the wire."""
    reply = api.handle("GET", api.wire.schema_path, {"solutionName": ["DEMO_OOTB"]}, HEADERS, b"")
    assert reply.status == 200
    solution = parse_solution_schema(json.loads(reply.encode()), V2Wire())
    assert solution.warnings == ()
    return {t.full_name: t for t in solution.tables}


APIS = {True: make_api(), False: make_api(case_sensitive=False)}
TABLES = client_tables(APIS[True])
VALIDATORS = {
    (name, exact): RowValidator(table, case_sensitive=exact)
    for name, table in TABLES.items()
    for exact in APIS
}


def server_verdict(api: IngestionV2Api, table: str, body: bytes) -> list[tuple[int, str | None, str]]:
    reply = api.handle("POST", V2Wire().ingest_path_for(table), {}, HEADERS, body)
    assert reply.status == 200, reply.payload
    payload = json.loads(reply.encode())
    assert payload["dryRun"] is True
    return [
        (item["index"], error["column"], error["code"])
        for item in payload["failed"]
        for error in item["errors"]
    ]


def client_verdict(validator: RowValidator, rows: list[Any]) -> list[tuple[int, str | None, str]]:
    found = []
    for index, row in enumerate(rows):
        found.extend((e.row, e.column, e.code) for e in validator.errors(row, index))
    return found


def dry_run_body(rows: list[Any]) -> bytes:
    data = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
    return RequestBody("DEMO_OOTB", "append", dry_run=True).wrap(data)


# ----------------------------------------------------------------------------- JSON-native rows
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
numeric_strings = st.from_regex(r"[+-]?[0-9]{1,16}(\.[0-9]{1,6})?", fullmatch=True)
digits = st.from_regex(r"[0-9]{1,3}", fullmatch=True)
date_like = st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True) | st.dates().map(str)
timestamp_like = (
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}( [+-][0-9]{2}:[0-9]{2})?", fullmatch=True
    )
    | st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
    | st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S +05:30"))
    | st.datetimes().map(lambda d: d.isoformat())
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers() | st.sampled_from([INT64_MIN - 1, INT64_MIN, INT64_MAX, INT64_MAX + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    numeric_strings,
    date_like,
    timestamp_like,
    json_values,
)


def near_valid(column: SolutionColumn) -> st.SearchStrategy[Any]:
    """JSON-native values that are mostly right for the column, so that every rule is exercised."""
    kind = column.type
    if kind is V2Type.STRING:
        edges = [n for n in (column.min_length, column.max_length) if n is not None]
        lengths = sorted({max(0, n + d) for n in edges for d in (-1, 0, 1)})
        boundary = st.sampled_from(lengths or [0]).map(lambda n: "é" * n)
        return st.text(max_size=10) | boundary
    if kind is V2Type.ENUM:
        values = list(column.values or ["x"])
        return st.sampled_from([*values, *(v.upper() for v in values), "", "other"])
    if kind is V2Type.INTEGER:
        return st.integers(INT64_MIN, INT64_MAX) | st.sampled_from([INT64_MAX + 1, 1.0, "7", True])
    if kind in (V2Type.NUMERIC, V2Type.FLOAT):
        edges: list[Any] = []
        if column.precision is not None and column.scale is not None:
            whole = 10 ** (column.precision - column.scale)
            places = column.scale
            edges = [whole - 1, whole, -whole, f"{whole - 1}.{'9' * places}", f"0.{'1' * (places + 1)}"]
            edges += [f"1.{'5' * places}{'0' * 3}", f"-{whole}.0", float(whole - 1)]
        boundary = st.sampled_from(edges or [0])
        return (
            boundary
            | boundary
            | st.integers(-(10**16), 10**16)
            | st.floats(-1e15, 1e15).map(lambda f: round(f, 3))
            | numeric_strings
            | st.sampled_from(["1.50", "0.00001", "-.5", "1e3", 1e-07, 100.0, "00012.3400"])
        )
    if kind is V2Type.BOOLEAN:
        return st.booleans() | st.sampled_from([0, 1, "true"])
    if kind is V2Type.JSON:
        return json_values
    if kind is V2Type.DATE:
        return date_like
    return timestamp_like


def rows_for(table: SolutionTable, *, fold: bool) -> st.SearchStrategy[Any]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        c.name: near_valid(c) | near_valid(c) | near_valid(c) | anything | st.none() for c in table.columns
    }
    optional["UNKNOWN_KEY"] = anything
    first = table.columns[0].name
    optional[first.lower()] = anything  # a case variant of a real column
    records = st.fixed_dictionaries({}, optional=optional).flatmap(
        lambda row: st.permutations(list(row.items())).map(dict)
    )
    if fold:  # some keys in another letter case
        records = records.flatmap(
            lambda row: st.lists(st.booleans(), min_size=len(row), max_size=len(row)).map(
                lambda flips: {
                    (k.lower() if f else k): v for f, (k, v) in zip(flips, row.items(), strict=True)
                }
            )
        )
    return st.one_of(
        records, records, records, records, st.lists(st.integers(), max_size=2), st.text(max_size=3)
    )


@PROFILE
@pytest.mark.parametrize("exact", [True, False], ids=["exact-keys", "keys-ignoring-case"])
@pytest.mark.parametrize("table", sorted(TABLES))
@given(data=st.data())
def test_client_verdict_equals_the_emulators(table: str, exact: bool, data: st.DataObject) -> None:
    rows = data.draw(st.lists(rows_for(TABLES[table], fold=not exact), max_size=6))
    validator = VALIDATORS[(table, exact)]
    assert client_verdict(validator, rows) == server_verdict(APIS[exact], table, dry_run_body(rows))
    for index, row in enumerate(rows):
        encoded = validator.encode(row, index)
        if isinstance(encoded, bytes) and exact:  # what is sent is what json.dumps would send
            assert encoded == json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()


# ----------------------------------------------------------------------------- Python values
zones = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


def valid_value(column: SolutionColumn) -> st.SearchStrategy[Any]:
    """Python values the column accepts, conveniences included."""
    kind = column.type
    if kind is V2Type.STRING:
        return st.text(min_size=column.min_length or 0, max_size=column.max_length or 20)
    if kind is V2Type.ENUM:
        return st.sampled_from(sorted(column.values or ()))
    if kind is V2Type.INTEGER:
        return st.integers(INT64_MIN, INT64_MAX) | st.integers(-999, 999).map(Decimal)
    if kind is V2Type.FLOAT:
        return st.floats(allow_nan=False, allow_infinity=False) | st.decimals(
            allow_nan=False, allow_infinity=False
        )
    if kind is V2Type.NUMERIC:
        assert column.precision is not None and column.scale is not None
        bound = Decimal(10) ** (column.precision - column.scale) - Decimal(1).scaleb(-column.scale)
        return st.decimals(-bound, bound, places=column.scale) | st.decimals(
            -bound, bound, places=column.scale
        ).map(str)
    if kind is V2Type.BOOLEAN:
        return st.booleans()
    if kind is V2Type.JSON:
        return json_values
    if kind is V2Type.DATE:
        return st.dates() | st.datetimes()
    assert column.format_names
    if "hh" in column.format_names[0]:
        return st.datetimes(timezones=zones)
    return st.datetimes() | st.dates()


def valid_rows(table: SolutionTable) -> st.SearchStrategy[dict[str, Any]]:
    required = {c.name: valid_value(c) for c in table.columns if c.required}
    optional = {
        c.name: valid_value(c) | (st.none() if not c.rejects_null else valid_value(c))
        for c in table.columns
        if not c.required
    }
    return st.fixed_dictionaries(required, optional=optional)


@PROFILE
@pytest.mark.parametrize("table", sorted(TABLES))
@given(data=st.data())
def test_rows_the_client_encodes_are_accepted(table: str, data: st.DataObject) -> None:
    rows = data.draw(st.lists(valid_rows(TABLES[table]), min_size=1, max_size=5))
    validator = VALIDATORS[(table, True)]
    encoded = [validator.encode(row, i) for i, row in enumerate(rows)]
    assert all(isinstance(e, bytes) for e in encoded), encoded
    body = RequestBody("DEMO_OOTB", "append", dry_run=True).wrap(b"[" + b",".join(encoded) + b"]")  # type: ignore[arg-type]
    assert server_verdict(APIS[True], table, body) == []

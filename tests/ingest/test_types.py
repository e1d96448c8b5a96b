"""The type registry (``ingest.types``): complete for both APIs, checked at import, and the one
source of every per-type answer (value checks, block checks, CSV cells, warehouse types, inference)."""

from __future__ import annotations

import sys
import types as modules
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_peak.feed.destinations.warehouse import WarehouseColumn
from airflow_provider_peak.feed.infer_schema import kind_of, merge_kinds
from airflow_provider_peak.ingest import types
from airflow_provider_peak.ingest.schema import ColumnType, TableSchema
from airflow_provider_peak.ingest.v2.schema import SolutionColumn, SolutionTable, V2Type
from airflow_provider_peak.ingest.validation import V1, V2, RecordEncoder

SOURCE = Path(types.__file__).read_text()


def load_variant(source: str) -> modules.ModuleType:
    """Import a variant of ``ingest/types.py`` (as a new module) and return it."""
    name = "airflow_provider_peak.ingest._types_variant"
    module = modules.ModuleType(name)
    module.__file__ = types.__file__
    sys.modules[name] = module
    try:
        exec(compile(source, types.__file__, "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def test_the_unchanged_source_imports() -> None:
    """The variants below fail for the change they make, not for being loaded this way."""
    assert set(load_variant(SOURCE).REGISTRY) == set(types.REGISTRY)


def test_a_type_without_an_entry_fails_at_import() -> None:
    with_uuid = SOURCE.replace('    UNKNOWN = "unknown"\n', '    UNKNOWN = "unknown"\n    UUID = "uuid"\n', 1)
    assert with_uuid != SOURCE
    with pytest.raises(TypeError, match=r"no entry for V2Type\.UUID"):
        load_variant(with_uuid)


def test_an_entry_without_a_warehouse_type_fails_at_import() -> None:
    variant = SOURCE.replace(
        'warehouse={"snowflake": "BOOLEAN", "redshift": "BOOLEAN"}', 'warehouse={"snowflake": "BOOLEAN"}'
    )
    assert variant != SOURCE
    with pytest.raises(TypeError, match="type 'boolean' declares no warehouse type for redshift"):
        load_variant(variant)


def test_check_registry_names_every_member_without_an_entry() -> None:
    registry = {k: v for k, v in types.REGISTRY.items() if k not in ("numeric", "enum")}
    with pytest.raises(TypeError, match=r"ColumnType\.NUMERIC, V2Type\.NUMERIC, V2Type\.ENUM"):
        types.check_registry(registry, (ColumnType, V2Type))


def test_rules_that_leave_a_problem_unworded_are_refused() -> None:
    wording = {k: v for k, v in V1.wording.items() if k != "duplicate_column"}
    with pytest.raises(TypeError, match=r"the v1 rules do not word the problems \['duplicate_column'\]"):
        replace(V1, wording=wording)
    with pytest.raises(TypeError, match="rules for an API the problems are not worded for: 'v3'"):
        replace(V2, name="v3")


def test_a_problem_not_worded_for_every_api_fails_at_import() -> None:
    variant = SOURCE.replace(
        '"boolean.type": _problem(codes.WRONG_TYPE, "expected boolean, got {type}")',
        '"boolean.type": Problem(codes.WRONG_TYPE, {"v1": "expected boolean, got {type}"})',
    )
    assert variant != SOURCE
    with pytest.raises(TypeError, match=r"problem 'boolean\.type' is not worded for v2"):
        load_variant(variant)


@pytest.mark.parametrize("kind", [*ColumnType, *V2Type], ids=lambda k: f"{type(k).__name__}.{k.name}")
def test_every_type_of_both_apis_has_its_entry(kind: ColumnType | V2Type) -> None:
    entry = types.type_of(kind)
    assert entry.name == kind.value.lower()
    assert all(entry.sql_type(w) for w in types.WAREHOUSES)


def test_a_column_is_checked_by_its_own_type_on_the_block_path() -> None:
    """No default branch: a column's block check is its type's (an integer column is never checked
    as a date, whatever the order of the registry)."""
    schema = TableSchema.build("t", [{"name": c.value, "type": c.value} for c in ColumnType])
    encoder = RecordEncoder(schema)
    for name, check in encoder._blocks.checks:
        assert check.__qualname__.startswith(f"_{types.type_of(name).block.__name__[1:]}")


def test_warehouse_types_come_from_the_registry() -> None:
    def sql(kind: str, warehouse: str, **extra: object) -> str:
        return WarehouseColumn("c", ColumnType.parse(kind), **extra).sql_type(warehouse)  # type: ignore[arg-type]

    assert sql("numeric", "snowflake") == "FLOAT"
    assert sql("numeric", "snowflake", precision=12, scale=2) == "NUMBER(12,2)"
    assert sql("numeric", "redshift", precision=5) == "DECIMAL(5,0)"
    assert sql("timestamp", "snowflake") == "TIMESTAMP_NTZ"
    assert sql("timestamp", "redshift", format="YYYY-MM-DD HH24:MI:SS TZH:TZM") == "TIMESTAMPTZ"
    assert sql("JSON", "redshift") == "SUPER"
    assert sql("string", "redshift") == "VARCHAR(65535)"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, None),
        (True, "boolean"),
        (7, "integer"),
        (2**63, "numeric"),
        (1.5, "numeric"),
        (Decimal("1.5"), "numeric"),
        ("x", "string"),
        (datetime(2024, 1, 5), "timestamp"),
        (date(2024, 1, 5), "date"),
        ({"a": 1}, "JSON"),
        ([1], "JSON"),
        (b"x", "JSON"),
    ],
)
def test_inference_reads_the_registry(value: object, kind: str | None) -> None:
    assert kind_of(value) == kind


@pytest.mark.parametrize(
    ("kinds", "merged"),
    [
        (set(), "string"),
        ({"integer"}, "integer"),
        ({"integer", "numeric"}, "numeric"),
        ({"date", "timestamp"}, "timestamp"),
        ({"integer", "string"}, "JSON"),
        ({"JSON", "integer"}, "JSON"),
        ({"integer", "numeric", "date"}, "JSON"),
    ],
)
def test_merging_types_reads_the_registry(kinds: set[str], merged: str) -> None:
    assert merge_kinds(kinds) == merged


def test_both_apis_compile_with_one_compiler() -> None:
    v1 = RecordEncoder(TableSchema.build("t", [{"name": "n", "type": "numeric", "precision": 3, "scale": 2}]))
    v2 = RecordEncoder(
        SolutionTable("T", "S_T", (SolutionColumn("n", V2Type.NUMERIC, precision=3, scale=2),)), rules=V2
    )
    # 1.500 has three fraction digits as written (v1 refuses it) and one by value (v2 takes it).
    assert v1.encode({"n": Decimal("1.500")}, 0) != b'{"n":1.500}'
    assert v2.encode({"n": Decimal("1.500")}, 0) == b'{"n":1.500}'
    (v1_error,) = v1.errors({"n": "12.5"}, 4)
    (v2_error,) = v2.errors({"n": "12.5"}, 4)
    assert (
        str(v1_error)
        == "record 4, column 'n': exceeds precision 3: 2 integer digits, NUMERIC(3,2) allows 1 (value '12.5')"
    )
    assert (
        str(v2_error)
        == "row 4, column 'n': DI_E_20003 PRECISION: 2 integer digits; NUMERIC(3,2) allows 1 (value '12.5')"
    )
    assert (v1_error.code, v2_error.code) == (None, "DI_E_20003")

from __future__ import annotations

import pytest

from airflow_provider_peak.ingest.schema import Column, ColumnType, SchemaError, TableSchema


class TestColumn:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"name": "id", "type": "integer"},
            {"name": "Price_2", "type": "numeric", "precision": 10, "scale": 2},
            {"name": "amount", "type": "numeric", "precision": 38},
            {"name": "day", "type": "date", "format": "DD/MM/YYYY"},
            {"name": "at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM"},
            {"name": "payload", "type": "JSON"},
        ],
    )
    def test_round_trips_the_wire_form(self, kwargs):
        column = Column(**kwargs)
        assert Column.from_dict(column.to_dict()) == column
        assert column.to_dict() == kwargs

    def test_type_accepts_any_case_and_writes_the_wire_spelling(self):
        assert Column("x", "json").to_dict() == {"name": "x", "type": "JSON"}
        assert Column("x", "Integer").type is ColumnType.INTEGER

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"name": "1abc", "type": "string"}, "must start with a letter"),
            ({"name": "a-b", "type": "string"}, "only letters, digits and underscores"),
            ({"name": "a" * 129, "type": "string"}, "at most 128"),
            ({"name": "a", "type": "text"}, "unknown column type 'text'"),
            ({"name": "a", "type": "string", "format": "YYYY"}, "format applies only to date and timestamp"),
            ({"name": "a", "type": "date", "format": "YYYY-MM-DD HH24"}, "takes only YYYY, MM and DD"),
            ({"name": "a", "type": "date", "format": "YYYY-QQ-DD"}, "unknown token"),
            ({"name": "a", "type": "timestamp", "format": "YYYY-MM"}, "lacks DD"),
            ({"name": "a", "type": "numeric", "precision": 0}, "precision 0 is outside 1..38"),
            ({"name": "a", "type": "numeric", "precision": 39}, "outside 1..38"),
            ({"name": "a", "type": "numeric", "precision": 5, "scale": 6}, "scale 6 is outside 0..precision"),
            ({"name": "a", "type": "numeric", "scale": 2}, "scale needs a precision"),
            ({"name": "a", "type": "integer", "precision": 2}, "only to numeric"),
            ({"name": "a", "type": "numeric", "precision": True}, "must be an integer"),
        ],
    )
    def test_rejects_what_the_api_would_reject(self, kwargs, message):
        with pytest.raises(SchemaError, match=message):
            Column(**kwargs)

    def test_from_dict_rejects_unknown_keys(self):
        with pytest.raises(SchemaError, match="unknown keys"):
            Column.from_dict({"name": "a", "type": "string", "nullable": False})


class TestTableSchema:
    def test_build_from_dicts_and_columns(self):
        schema = TableSchema.build("orders", [{"name": "id", "type": "integer"}, Column("note", "string")])
        assert schema.to_request() == {
            "name": "orders",
            "columns": [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}],
        }

    def test_column_names_are_unique_ignoring_case(self):
        with pytest.raises(SchemaError, match="unique ignoring case: 'id' and 'ID'"):
            TableSchema.build("t", [{"name": "id", "type": "integer"}, {"name": "ID", "type": "string"}])

    def test_needs_a_column(self):
        with pytest.raises(SchemaError, match="at least one column"):
            TableSchema.build("t", [])

    def test_from_dict_keeps_created_at(self):
        wire = {
            "name": "t",
            "columns": [{"name": "a", "type": "string"}],
            "createdAt": "2026-01-01T00:00:00Z",
        }
        assert TableSchema.from_dict(wire).to_dict() == wire

    def test_diff_is_readable(self):
        expected = TableSchema.build("t", [{"name": "a", "type": "string"}, {"name": "b", "type": "integer"}])
        actual = TableSchema.build("t", [{"name": "a", "type": "integer"}, {"name": "c", "type": "date"}])
        assert expected.diff(actual) == [
            "~ column a: expected {'name': 'a', 'type': 'string'}, found {'name': 'a', 'type': 'integer'}",
            "- missing column b (integer)",
            "+ unexpected column c (date)",
        ]
        assert expected.diff(expected) == []

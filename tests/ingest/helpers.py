"""Helpers of the Airflow-free core tests (validation, encoding, packing)."""

from __future__ import annotations

from typing import Any

from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder


def one_column(**column: Any) -> RecordEncoder:
    """An encoder for a table with the single column ``c`` described by ``column``."""
    return RecordEncoder(TableSchema.build("t", [{"name": "c", **column}]))


def encode_value(encoder: RecordEncoder, value: Any) -> str:
    """``value``'s JSON text as encoded in column ``c``, or ``"!<reason>"`` if it is invalid."""
    result = encoder.encode({"c": value}, 0)
    if isinstance(result, bytes):
        text = result.decode()
        assert text.startswith('{"c":') and text.endswith("}")
        return text[5:-1]
    assert len(result) == 1 and result[0].column == "c" and result[0].record == 0
    return "!" + result[0].reason

"""Numbers in JSON and JSONL record files reach Peak exactly as written, or fail naming the record
and the column: never rounded through a float. Over real HTTP on loopback."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from airflow_provider_peak.exceptions import RecordValidationError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.sources import iter_records
from tests.fixtures import FAST_RETRIES, Answer

TABLE = {
    "name": "amounts",
    "columns": [
        {"name": "id", "type": "integer"},
        {"name": "amount", "type": "numeric"},
        {"name": "rate", "type": "numeric", "precision": 38, "scale": 20},
        {"name": "extra", "type": "JSON"},
    ],
}
LINES = [
    '{"id": 1, "amount": 123456789012345678.5, "rate": 0.12345678901234567890, "extra": {"x": 0.5}}',
    '{"id": 2, "amount": 0.1, "rate": 1.5, "extra": null}',
]


@pytest.fixture
def peak(scripted, set_conn):
    """A Peak serving ``TABLE`` that keeps the raw body of every ingest request."""
    bodies: list[bytes] = []

    def answer(seen):
        if seen.method == "GET":
            return Answer.json(TABLE)
        bodies.append(seen.body)
        return Answer.json({"recordsIngested": len(json.loads(seen.body))})

    server = scripted(answer)
    set_conn("peak_default", conn_type="peak", host=server.url, password="key-exact-1", extra=FAST_RETRIES)
    return bodies


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_files_numbers_reach_peak_exactly(peak, tmp_path, suffix):
    path = tmp_path / f"amounts{suffix}"
    path.write_text("\n".join(LINES) if suffix == ".jsonl" else "[" + ",".join(LINES) + "]")
    summary = PeakHook().load_records("amounts", str(path))
    assert summary.records_sent == 2
    (body,) = peak
    assert b'"amount":123456789012345678.5' in body and b'"rate":0.12345678901234567890' in body
    assert b'"amount":0.1' in body and b'"extra":{"x":0.5}' in body
    assert json.loads(body, parse_float=Decimal)[0]["amount"] == Decimal("123456789012345678.5")


def test_a_value_its_column_cannot_hold_names_the_record_and_the_column(peak, tmp_path):
    path = tmp_path / "too_fine.jsonl"
    path.write_text(
        '{"id": 1, "amount": 1, "rate": 0.5}\n{"id": 2, "amount": 1, "rate": 0.123456789012345678901}\n'
    )
    with pytest.raises(
        RecordValidationError, match=r"record 1, column 'rate': exceeds scale 20: 21 fraction"
    ):
        PeakHook().load_records("amounts", str(path))
    assert peak == []  # nothing was sent


def test_floats_stay_floats_where_they_are_exact(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text('{"a": 1.5, "b": 1e5, "c": 12345678901234567890123, "d": 0.30000000000000004}\n')
    (record,) = iter_records(str(path))
    assert record == {"a": 1.5, "b": 100000.0, "c": 12345678901234567890123, "d": 0.30000000000000004}
    assert [type(v) for v in record.values()] == [float, float, int, float]

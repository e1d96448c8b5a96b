"""Bad input: one clear error naming what and where, and no partial data sent."""

from __future__ import annotations

import math
import socket

import pytest

from airflow_provider_peak.exceptions import PeakAuthError, PeakConnectionError, PeakNotFoundError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.validation import RecordValidationError
from airflow_provider_peak.operators import PeakIngestOperator
from tests.fixtures import API_KEY, make_context, unique_table

COLUMNS = [
    {"name": "id", "type": "integer"},
    {"name": "name", "type": "string"},
    {"name": "doc", "type": "JSON"},
    {"name": "price", "type": "numeric", "precision": 5, "scale": 2},
]
GOOD = [{"id": i, "name": f"n{i}"} for i in range(1_200)]


@pytest.fixture
def table(request, peak_conn):
    peak_conn()
    name = unique_table(request)
    PeakHook().create_table(name, COLUMNS)
    return name


def ingest(table, records, tmp_path, **kwargs):
    op = PeakIngestOperator(task_id="ingest", table_name=table, records=records, **kwargs)
    return op.execute(make_context(run_id=f"run-{table}"))


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"id": "12"}, "column 'id': expected integer"),
        ({"id": True}, "column 'id': expected integer"),
        ({"id": 1, "colour": "red"}, "column 'colour': unknown column"),
        ({"id": 1, "price": 1234.5}, "column 'price': exceeds precision"),
        ({"id": 1, "doc": {"when": object()}}, "column 'doc'"),
        ({"id": 1, "doc": [1.0, math.nan]}, "column 'doc'"),
        ({"id": 1, "name": math.inf}, "column 'name'"),
        ({"id": 1, "name": "broken \udc80 utf-8"}, "column 'name'"),
        ("not a record", "record 1000"),
    ],
)
def test_invalid_record_is_named_and_nothing_is_sent(emu, table, tmp_path, bad, where):
    records = [*GOOD[:1_000], bad, *GOOD[1_000:]]
    with pytest.raises(RecordValidationError) as info:
        ingest(table, records, tmp_path)
    message = str(info.value)
    assert "record 1000" in message
    assert where in message
    assert emu.stats()["by_route"].get("ingest", 0) == 0


def test_oversize_single_record(emu, table, tmp_path):
    records = [*GOOD, {"id": 5, "name": "x" * 2_000_000}]
    with pytest.raises(ValueError, match="record 1200"):
        ingest(table, records, tmp_path)
    assert emu.stats()["by_route"].get("ingest", 0) == 0


def test_empty_input_sends_nothing_and_succeeds(emu, table, tmp_path):
    summary = ingest(table, [], tmp_path)
    assert summary["records_sent"] == 0
    assert emu.stats()["by_route"].get("ingest", 0) == 0


def test_missing_table(emu, peak_conn, tmp_path):
    peak_conn()
    with pytest.raises(PeakNotFoundError, match="404 TABLE_NOT_FOUND on GET /api/v1/tables/nope"):
        ingest("nope", GOOD, tmp_path)


def test_wrong_api_key(emu, set_conn, table, tmp_path):
    set_conn(conn_type="peak", host=emu.url, password="wrong")
    with pytest.raises(PeakAuthError, match="401"):
        ingest(table, GOOD, tmp_path)
    assert emu.stats()["by_route"].get("ingest", 0) == 0


def test_unreachable_host(set_conn, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    set_conn(
        conn_type="peak",
        host=f"http://127.0.0.1:{port}",
        password=API_KEY,
        extra={"max_retries": 1, "backoff_initial": 0.01},
    )
    with pytest.raises(
        PeakConnectionError, match=f"could not reach Peak .*127.0.0.1:{port}|could not reach Peak"
    ):
        ingest("t", GOOD, tmp_path)


def test_tls_error_is_not_retried(emu, set_conn, tmp_path):
    # An https:// URL on the emulator's plain-HTTP port: the TLS handshake fails.
    set_conn(
        conn_type="peak",
        host=emu.url.replace("http://", "https://"),
        password=API_KEY,
        extra={"max_retries": 3, "backoff_initial": 0.01},
    )
    hook = PeakHook()
    with pytest.raises(PeakConnectionError, match="SSLError"):
        hook.get_table("t")
    assert hook.stats["retries"] == 0


def test_dead_letters_are_strict_json_lines_holding_each_record_as_given(emu, table, tmp_path, request):
    """1,000 invalid records, a third of them holding NaN: every line parses with a strict JSON
    parser, holds the record as given (no batch id stamped on it) and the reason beside it."""
    import json

    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    PeakHook().create_table(f"{table}_ids", [*COLUMNS, {"name": "batch", "type": "string"}])
    bad = [
        {"id": i, "price": math.nan}
        if i % 3 == 0
        else {"id": str(i), "price": -math.inf if i % 3 == 1 else 1}
        for i in range(1_000)
    ]
    path = tmp_path / "letters" / "dead.jsonl"
    summary = ingest(
        f"{table}_ids",
        [*GOOD[:500], *bad],
        tmp_path,
        on_invalid="dead_letter",
        dead_letter_path=str(path),
        batch_id_column="batch",
    )
    assert (summary["records_sent"], summary["invalid"]) == (500, 1_000)
    lines = [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]
    assert len(lines) == 1_000
    assert [line["record_index"] for line in lines] == list(range(500, 1_500))
    for line, given in zip(lines, bad, strict=True):
        expected = {k: ("NaN" if v != v else "-Infinity" if v == -math.inf else v) for k, v in given.items()}
        assert line["record"] == expected  # as given: no "batch" key, non-finite numbers as text
        assert line["errors"] and all(e["reason"] for e in line["errors"])
    assert all("batch" in row for row in emu.rows(f"{table}_ids"))  # the stamp is on what was sent

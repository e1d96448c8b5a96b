"""Dead-letter lines of a v2 load (no HTTP)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from airflow_provider_peak.ingest.v2.body import RequestBody, V2Request
from airflow_provider_peak.ingest.v2.outcomes import DeadLetters
from airflow_provider_peak.ingest.v2.reply import parse_ingest_reply
from airflow_provider_peak.ingest.v2.rows import RowError


def test_server_letters_carry_the_row_as_sent_and_its_input_index():
    body = RequestBody("S", "upsert").wrap(b'[{"A":0.125},{"A":1},{"A":12345678901234567890.5}]')
    request = V2Request(4, body, (20, 21, 22))
    reply = parse_ingest_reply(
        {"requestId": "r1", "failed": [{"index": 2, "errors": [{"code": "E", "column": "A"}]}]},
        sent=3,
        rows=request.rows,
    )
    stream = io.StringIO()
    DeadLetters(stream, "data").server(request, reply)
    (line,) = stream.getvalue().splitlines()
    assert '"row":{"A":12345678901234567890.5}' in line  # the number exactly as sent
    entry = json.loads(line, parse_float=Decimal)
    assert (entry["row_index"], entry["stage"], entry["request"], entry["request_id"]) == (
        22,
        "server",
        4,
        "r1",
    )


def test_a_client_letter_never_fails_on_the_bad_value_itself():
    stream = io.StringIO()
    letters = DeadLetters(stream, "data")
    error = RowError(0, "A", "DI_E_20001", "DATA_TYPE", "lone surrogate")
    letters.client(0, {"A": "\ud800", "B": float("nan"), "C": object()}, [error])
    cyclic: dict = {}
    cyclic["self"] = cyclic
    letters.client(1, cyclic, [error])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["row"]["A"] == "\ud800" and first["errors"][0]["code"] == "DI_E_20001"
    assert second["row_index"] == 1 and isinstance(second["row"], str)

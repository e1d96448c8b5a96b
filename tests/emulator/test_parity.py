"""The client's verdict equals the emulator's (the server's reference implementation), detail by
detail, on a hypothesis corpus of valid and invalid records, both in-process and over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from peak_emulator import PeakEmulator
from peak_emulator.peak_tables import read_table
from peak_emulator.record_checks import validate_records as server_validate
from tests.ingest.test_properties import ENCODER, PROFILE, SCHEMA, any_record

SERVER_TABLE = read_table(SCHEMA.to_request())
PHRASES = (
    "not a JSON object",
    "unknown column",
    "out of range",
    "exceeds precision",
    "exceeds scale",
    "does not match",
    "expected",
)


def phrase(reason: str) -> str:
    return next(p for p in PHRASES if reason.startswith(p))


def client_pairs(records: list[Any]) -> list[tuple[int, str | None]]:
    pairs: list[tuple[int, str | None]] = []
    for index, record in enumerate(records):
        result = ENCODER.encode(record, index)
        if not isinstance(result, bytes):
            pairs.extend((e.record, e.column) for e in result)
    return pairs


def server_pairs(body: bytes) -> list[tuple[int, str | None]]:
    records = json.loads(body, parse_float=Decimal)
    # The table as the emulator reads it from the same create-table body the client sends.
    return [(d["record"], d["column"]) for d in server_validate(SERVER_TABLE, records)]


@PROFILE
@given(st.lists(any_record, max_size=6))
def test_client_and_emulator_agree_on_every_record(records: list[Any]) -> None:
    body = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    assert sorted(client_pairs(records)) == sorted(server_pairs(body))


def test_client_and_emulator_agree_over_http() -> None:
    with PeakEmulator(api_keys=("k",), quiet=True) as emu:
        session = requests.Session()
        session.headers["Authorization"] = "k"
        session.post(f"{emu.url}/api/v1/tables", json=SCHEMA.to_request()).raise_for_status()

        @settings(PROFILE, max_examples=60)
        @given(st.lists(any_record, min_size=1, max_size=5))
        def check(records: list[Any]) -> None:
            body = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
            reply = session.post(f"{emu.url}/api/v1/tables/{SCHEMA.name}", data=body)
            expected = sorted(client_pairs(records))
            if expected:
                assert reply.status_code == 400, reply.text
                details = reply.json()["error"]["details"]
                assert sorted((d["record"], d["column"]) for d in details) == expected
            else:
                assert reply.status_code == 200, reply.text
                assert reply.json()["recordsIngested"] == len(records)

        check()

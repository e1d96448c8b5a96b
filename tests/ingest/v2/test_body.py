"""Request bodies: the exact bytes, and packing by rows and by bytes of the whole body."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import RecordTooLargeError
from airflow_provider_peak.ingest.checkpoint import batch_key
from airflow_provider_peak.ingest.v2.body import RequestBody, pack_requests
from airflow_provider_peak.ingest.v2.wire import V2Wire


def test_the_body_around_the_rows() -> None:
    body = RequestBody("QP_OOTB", "upsert")
    assert body.wrap(b'[{"A":1}]') == b'{"solutionName":"QP_OOTB","operationType":"UPSERT","data":[{"A":1}]}'
    dry = RequestBody("QP_OOTB", "append", dry_run=True)
    assert json.loads(dry.wrap(b"[]")) == {
        "solutionName": "QP_OOTB",
        "operationType": "APPEND",
        "dryRun": True,
        "data": [],
    }
    assert body.overhead == len(body.wrap(b""))


def test_other_key_names() -> None:
    wire = V2Wire(solution_key="solution", operation_key="op", data_key="rows", dry_run_key="validateOnly")
    body = RequestBody('Q"P', "APPEND", dry_run=True, wire=wire)
    assert json.loads(body.wrap(b"[1]")) == {
        "solution": 'Q"P',
        "op": "APPEND",
        "validateOnly": True,
        "rows": [1],
    }


def test_requests_hold_at_most_max_rows_and_keep_input_indices() -> None:
    body = RequestBody("S", "append")
    pairs = [(i, b'{"A":%d}' % i) for i in range(0, 30, 3)]  # gaps: skipped invalid rows
    requests = list(pack_requests(pairs, body, max_rows=4))
    assert [r.rows for r in requests] == [(0, 3, 6, 9), (12, 15, 18, 21), (24, 27)]
    assert [r.index for r in requests] == [0, 1, 2]
    assert json.loads(requests[1].body)["data"] == [{"A": 12}, {"A": 15}, {"A": 18}, {"A": 21}]
    assert requests[0].key == batch_key(0, requests[0].body)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 400), max_size=60), st.integers(300, 3000), st.integers(1, 9))
def test_whole_bodies_stay_within_max_bytes(sizes: list[int], max_bytes: int, max_rows: int) -> None:
    body = RequestBody("QP_OOTB", "upsert", dry_run=True)
    budget = max_bytes - body.overhead - 2
    pairs = [(i, b'{"A":"' + b"x" * min(n, max(0, budget - 8)) + b'"}') for i, n in enumerate(sizes)]
    requests = list(pack_requests(pairs, body, max_rows=max_rows, max_bytes=max_bytes))
    assert [i for r in requests for i in r.rows] == list(range(len(sizes)))
    for request in requests:
        assert len(request.body) <= max_bytes and 1 <= request.count <= max_rows
        assert [row["A"] for row in json.loads(request.body)["data"]] == [
            json.loads(pairs[i][1])["A"] for i in request.rows
        ]


def test_defaults_are_the_wire_limits() -> None:
    wire = V2Wire(max_rows=2, max_bytes=300)
    pairs = [(i, b"{}") for i in range(5)]
    assert [r.count for r in pack_requests(pairs, RequestBody("S", "upsert"), wire=wire)] == [2, 2, 1]


def test_a_row_too_large_for_any_body() -> None:
    body = RequestBody("S", "upsert")
    with pytest.raises(RecordTooLargeError) as caught:
        list(pack_requests([(0, b"{}"), (7, b'{"A":"' + b"x" * 400 + b'"}')], body, max_bytes=300))
    assert caught.value.record == 7

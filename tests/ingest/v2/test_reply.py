"""Ingest replies read leniently, and a load's totals turned into ``PeakRowsFailedError``."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import PeakError, PeakRowsFailedError
from airflow_provider_peak.ingest.v2.reply import LoadTotals, parse_ingest_reply
from airflow_provider_peak.ingest.v2.wire import V2Wire


def error(code: str, column: str | None = "QTY", message: str = "expected integer") -> dict[str, Any]:
    return {"code": code, "category": "DATA_TYPE", "message": message, "column": column}


def test_the_assumed_shape() -> None:
    payload = {
        "requestId": "r-1",
        "accepted": 3,
        "failed": [
            {"index": 1, "row": {"QTY": "x"}, "errors": [error("DI_E_20001"), error("DI_E_10003", "ID")]},
            {"index": 3, "row": {"QTY": 1.5}, "errors": [error("DI_E_20001")]},
        ],
    }
    outcome = parse_ingest_reply(payload, sent=5, rows=(10, 11, 12, 13, 14))
    assert (outcome.sent, outcome.accepted, outcome.request_id, outcome.warnings) == (5, 3, "r-1", ())
    first, second = outcome.failed
    assert (first.index, first.row, first.codes, first.data) == (
        1,
        11,
        ("DI_E_20001", "DI_E_10003"),
        {"QTY": "x"},
    )
    assert [(e.row, e.column) for e in first.errors] == [(11, "QTY"), (11, "ID")]
    assert second.row == 13
    assert outcome.by_code == {"DI_E_20001": 2, "DI_E_10003": 1}


def test_only_failed_documented_the_rest_is_counted() -> None:
    outcome = parse_ingest_reply({"failed": [{"index": 0, "errors": [error("DI_E_1")]}]}, sent=4)
    assert (outcome.accepted, outcome.request_id, outcome.failed[0].row) == (3, None, None)
    assert parse_ingest_reply({}, sent=4).accepted == 4
    assert parse_ingest_reply({"accepted": 9}, sent=4).accepted == 4  # more than sent: counted instead


def test_other_shapes_of_failed_items() -> None:
    payload = {
        "failed": [
            {
                "rowIndex": 0,
                "code": "DI_E_20005",
                "category": "FORMAT",
                "message": "bad date",
                "columnName": "D",
            },
            {"index": 1, "validationErrors": ["free text error"]},
            {"index": 2, "errors": {"code": "DI_E_2", "message": "one"}},
            "just a string",
            {"errors": [error("DI_E_3")]},  # no index
        ]
    }
    outcome = parse_ingest_reply(payload, sent=5)
    a, b, c, d, e = outcome.failed
    assert (a.index, a.errors[0].code, a.errors[0].column) == (0, "DI_E_20005", "D")
    assert (b.errors[0].message, b.errors[0].code) == ("free text error", "")
    assert c.codes == ("DI_E_2",)
    assert (d.index, d.errors[0].message) == (None, "just a string")
    assert (e.index, e.errors[0].row) == (None, -1)
    assert outcome.accepted == 0


def test_custom_key_names() -> None:
    wire = V2Wire(
        failed_key="rejected", failed_index_keys=("n",), error_code_key="errorCode", accepted_keys=("ok",)
    )
    outcome = parse_ingest_reply(
        {"ok": 1, "rejected": [{"n": 1, "errors": [{"errorCode": "E"}]}]}, wire, sent=2
    )
    assert (outcome.accepted, outcome.failed[0].index, outcome.failed[0].codes) == (1, 1, ("E",))


def test_a_hostile_reply_is_bounded() -> None:
    huge = "m" * 100_000
    payload = {
        "requestId": "r" * 5000,
        "failed": [{"index": 0, "errors": [{"code": huge, "category": huge, "message": huge}] * 500}]
        + [{"index": i % 2, "errors": [error("X")]} for i in range(50)],
    }
    outcome = parse_ingest_reply(payload, sent=3)
    assert len(outcome.failed) == 2  # row 0 and row 1, repeats merged
    assert len(outcome.failed[0].errors) <= 50 + 3
    assert all(len(e.message) <= 300 and len(e.code) <= 40 for f in outcome.failed for e in f.errors)
    assert outcome.request_id is not None and len(outcome.request_id) <= 100
    assert any("listed twice" in w for w in outcome.warnings)
    assert any("50 failed rows for 3 sent" in w or "51 failed rows for 3 sent" in w for w in outcome.warnings)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-3, 6) | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["failed", "index", "errors", "code", "accepted", "row", "x"]), inner
            )
        ),
        max_leaves=20,
    ),
    st.integers(0, 5),
)
def test_any_reply_is_read_without_an_exception(payload: Any, sent: int) -> None:
    outcome = parse_ingest_reply(payload, sent=sent)
    assert 0 <= outcome.accepted <= sent and len(outcome.failed) <= sent


def test_totals_and_the_error_after_sending() -> None:
    totals = LoadTotals()
    totals.add(parse_ingest_reply({"failed": [{"index": 1, "errors": [error("DI_E_20001")]}]}, sent=3))
    totals.add(parse_ingest_reply({}, sent=2))
    assert totals.as_dict() == {
        "requests": 2,
        "rows_sent": 5,
        "rows_accepted": 4,
        "rows_failed": 1,
        "failed_by_code": {"DI_E_20001": 1},
        "dry_run": False,
    }
    exc = totals.error()
    assert isinstance(exc, PeakRowsFailedError) and isinstance(exc, PeakError)
    assert str(exc).startswith(
        "Peak rejected 1 of 5 rows (DI_E_20001 x1); the other 4 rows were accepted (v2 ingests the good rows"
    )
    assert "row 1, column 'QTY': DI_E_20001 DATA_TYPE: expected integer" in str(exc)
    again = pickle.loads(pickle.dumps(exc))
    assert (again.failed, again.accepted, again.by_code, str(again)) == (1, 4, {"DI_E_20001": 1}, str(exc))
    assert LoadTotals().error() is None


def test_a_dry_run_says_nothing_was_written() -> None:
    totals = LoadTotals()
    totals.add(parse_ingest_reply({"failed": [{"index": 0, "errors": [error("E")]}]}, sent=1, dry_run=True))
    exc = totals.error()
    assert exc is not None and exc.dry_run
    assert str(exc).startswith("Peak would reject 1 of 1 rows (E x1); dry run: nothing was written")

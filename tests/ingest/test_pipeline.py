"""The one pipeline (``ingest.pipeline``) and its parts shared by every API: options, spool,
dead-letter writer, summary, driven through both adapters (``apis.v1``, ``apis.v2``) with sinks
that answer in memory (the hooks' tests drive the same pipeline over real HTTP)."""

from __future__ import annotations

import io
import json
import math
import threading
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import (
    PeakAcknowledgementError,
    PeakChangedInputError,
    PeakConfigError,
    PeakRowsFailedError,
    RecordValidationError,
    RowValidationError,
)
from airflow_provider_peak.ingest.apis.v1 import V1Api
from airflow_provider_peak.ingest.apis.v2 import V2Api
from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.checkpoint import local_checkpoint
from airflow_provider_peak.ingest.dead_letters import RECORD_LETTERS, ROW_LETTERS, DeadLetterWriter
from airflow_provider_peak.ingest.limits import IngestLimits
from airflow_provider_peak.ingest.options import IngestOptions, V2LoadOptions
from airflow_provider_peak.ingest.outcomes import IngestOutcome, RowFailure
from airflow_provider_peak.ingest.pipeline import load
from airflow_provider_peak.ingest.record_errors import RecordError, RowError
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.sender import NO_COUNT
from airflow_provider_peak.ingest.spool import Spool
from airflow_provider_peak.ingest.summary import IngestSummary, LoadSummary, V2LoadSummary
from airflow_provider_peak.ingest.v2.schema import SolutionColumn, SolutionTable, V2Type
from airflow_provider_peak.ingest.v2.wire import V2Wire

SCHEMA = TableSchema.build("orders", [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}])
TABLE = SolutionTable(
    "ORDERS",
    "S_ORDERS",
    (SolutionColumn("id", V2Type.INTEGER, required=True), SolutionColumn("note", V2Type.STRING)),
)
RECORDS = [{"id": i, "note": f"n{i}"} for i in range(95)]


def strict(line: str) -> Any:
    """A line parsed as strict JSON (NaN and Infinity refused)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(line, parse_constant=refuse)


class Sink:
    """An in-memory table: keeps every body it is sent and answers as the API would."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    def send(self, batch: Batch) -> Any:
        with self.lock:
            self.bodies.append(batch.body)
        return self.answer(batch)

    def counters(self) -> dict[str, int]:
        return {"requests": len(self.bodies), "retries": 0, "rate_limited": 0}


def v2_refusing(*ids: int) -> Sink:
    """A v2 table refusing the rows whose ``id`` is in ``ids`` (code ``E1``), accepting the others."""

    def answer(batch: Batch) -> IngestOutcome:
        rows = json.loads(batch.body)["data"]
        failed = tuple(
            RowFailure(p, batch.indices[p], (RowError(batch.indices[p], "id", "E1", "C", "refused"),))
            for p, row in enumerate(rows)
            if row.get("id") in ids
        )
        return IngestOutcome(len(rows), len(rows) - len(failed), failed)

    return Sink(answer)


# ----------------------------------------------------------------------------- one pipeline, two APIs
def test_both_apis_send_the_same_records_in_the_same_batches() -> None:
    v1 = Sink(lambda batch: batch.count)
    v2 = v2_refusing()
    options = IngestOptions(max_records=20, max_concurrency=1, pack_window=1).within(IngestLimits())
    one = load(V1Api(v1, SCHEMA), RECORDS, options, IngestSummary(table="orders"))
    two = load(V2Api(v2, "S", "S_ORDERS", TABLE), RECORDS, options, V2LoadSummary(table="S_ORDERS"))
    assert [json.loads(b) for b in v1.bodies] == [json.loads(b)["data"] for b in v2.bodies]
    assert [len(json.loads(b)) for b in v1.bodies] == [20, 20, 20, 20, 15]
    for summary in (one, two):
        assert (summary.records_sent, summary.requests, summary.records_invalid) == (95, 5, 0)
    assert one.as_dict()["records_sent"] == two.as_dict()["rows_sent"] == 95


def test_invalid_records_stop_a_validate_first_load_with_the_apis_error() -> None:
    records = [*RECORDS[:50], {"id": "x"}, *RECORDS[50:]]
    options = IngestOptions(max_concurrency=1).within(IngestLimits())
    v1, v2 = Sink(lambda batch: batch.count), v2_refusing()
    with pytest.raises(RecordValidationError) as one:
        load(V1Api(v1, SCHEMA), records, options, IngestSummary(table="orders"))
    with pytest.raises(RowValidationError) as two:
        load(V2Api(v2, "S", "S_ORDERS", TABLE), records, options, V2LoadSummary(table="S_ORDERS"))
    assert v1.bodies == v2.bodies == []  # nothing sent
    assert type(one.value) is RecordValidationError and one.value.count == two.value.count == 1
    assert str(one.value.errors[0]).startswith("record 50, column 'id': expected integer")
    assert str(two.value.errors[0]).startswith("row 50, column 'id': DI_E_20001 DATA_TYPE: expected integer")


def test_refused_records_are_counted_noted_and_written_for_any_api(tmp_path) -> None:
    """Server-side refusals are the pipeline's: counted by code, noted in the checkpoint (so that a
    retry that skips their request still reports them), written to the dead-letter file."""
    path = tmp_path / "dead.jsonl"
    options = IngestOptions(
        max_records=10, max_concurrency=2, on_invalid="dead_letter", dead_letter_path=str(path)
    ).within(IngestLimits())
    checkpoint = local_checkpoint("run/one", directory=tmp_path)
    sink = v2_refusing(3, 47)
    summary = load(
        V2Api(sink, "S", "S_ORDERS", TABLE), RECORDS, options, V2LoadSummary(table="T"), checkpoint=checkpoint
    )
    assert (summary.rows_failed, summary.failed_by_code, summary.rows_accepted) == (2, {"E1": 2}, 93)
    letters = [strict(line) for line in path.read_text().splitlines()]
    assert sorted((letter["row_index"], letter["stage"], letter["row"]["id"]) for letter in letters) == [
        (3, "server", 3),
        (47, "server", 47),
    ]
    retry = local_checkpoint("run/one", directory=tmp_path)
    again = load(
        V2Api(sink, "S", "S_ORDERS", TABLE),
        RECORDS,
        replace(options, on_invalid="skip"),
        V2LoadSummary(table="T"),
        checkpoint=retry,
    )
    assert (again.rows_sent, again.requests_resumed, again.rows_failed) == (0, 10, 2)


def test_a_v2_dry_run_sends_what_the_schema_refuses_and_checkpoints_nothing(tmp_path) -> None:
    records = [{"id": 1}, {"id": "not a number"}, {"note": "no id"}, {"id": math.nan}]
    options = V2LoadOptions(dry_run=True, on_invalid="skip", max_concurrency=1).within(V2Wire())
    checkpoint = local_checkpoint("run/dry", directory=tmp_path)
    sink = v2_refusing()
    summary = load(
        V2Api(sink, "S", "S_ORDERS", TABLE, dry_run=True),
        records,
        options,
        V2LoadSummary(table="T"),
        checkpoint=checkpoint,
    )
    assert summary.rows_sent == 3 and summary.rows_invalid == 1  # NaN: JSON cannot carry it
    assert json.loads(sink.bodies[0])["dryRun"] is True
    assert list(checkpoint.store.folder.iterdir()) == [] and len(checkpoint.load()) == 0


def test_server_refusals_fail_a_load_after_sending() -> None:
    options = V2LoadOptions(max_concurrency=1).within(V2Wire())
    with pytest.raises(PeakRowsFailedError, match="rejected 1 of 95 rows"):
        load(V2Api(v2_refusing(7), "S", "S_ORDERS", TABLE), RECORDS, options, V2LoadSummary(table="T"))


def test_a_v1_reply_without_a_count_or_with_null_is_not_a_v2_count() -> None:
    """The acknowledged count is the server's as given: ``null`` is a mismatch, no count is trusted."""
    options = IngestOptions(max_records=50, max_concurrency=1).within(IngestLimits())
    trusted = load(V1Api(Sink(lambda batch: NO_COUNT), SCHEMA), RECORDS, options, IngestSummary(table="o"))
    assert trusted.unacknowledged_batches == 0
    with pytest.raises(PeakAcknowledgementError, match="acknowledged None"):
        load(V1Api(Sink(lambda batch: None), SCHEMA), RECORDS, options, IngestSummary(table="o"))


# ----------------------------------------------------------------------------- retries
def breaking_after(batches: int) -> Sink:
    """A v1 table that applies ``batches`` requests and then fails every later one (a try that dies)."""

    def answer(batch: Batch) -> Any:
        if len(sink.bodies) > batches:
            raise ConnectionError("the worker died")
        return batch.count

    sink = Sink(answer)
    return sink


def rows_by_batch_id(*sinks: Sink) -> dict[str, set[int]]:
    """Every batch id the table received, with the record ids stored under it (over every try)."""
    held: dict[str, list[int]] = {}
    for sink in sinks:
        for body in sink.bodies:
            for row in json.loads(body):
                held.setdefault(row["note"], []).append(row["id"])
    return {batch: set(ids) for batch, ids in held.items()}


STAMPED = [{"id": i} for i in range(95)]


def one_try(sink: Sink, records: list[Any], options: IngestOptions, tmp_path: Path) -> IngestSummary:
    """One try of the task run ``r`` (its checkpoint in ``tmp_path``) through ``sink``."""
    return load(
        V1Api(sink, SCHEMA),
        records,
        options,
        IngestSummary(table="o"),
        checkpoint=local_checkpoint("r", directory=tmp_path),
    )


def first_try(tmp_path: Path, options: IngestOptions, records: list[Any], *, breaks_after: int) -> Sink:
    """A first try of the task run whose connection breaks after ``breaks_after`` requests."""
    first = breaking_after(breaks_after)
    with pytest.raises(ConnectionError):
        one_try(first, records, options, tmp_path)
    return first


def retry_of(tmp_path: Path, options: IngestOptions, records: list[Any]) -> tuple[Sink, IngestSummary]:
    """The retry of ``first_try``: the same checkpoint, every request acknowledged."""
    retry = Sink(lambda batch: batch.count)
    summary = one_try(retry, records, options, tmp_path)
    return retry, summary


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_a_retry_sends_only_what_no_earlier_try_had_acknowledged(tmp_path, on_invalid) -> None:
    options = IngestOptions(
        max_records=10, max_concurrency=1, on_invalid=on_invalid, batch_id_column="note"
    ).within(IngestLimits())
    first = first_try(tmp_path, options, STAMPED, breaks_after=4)
    retry, summary = retry_of(tmp_path, options, STAMPED)
    assert (summary.batches_resumed, summary.records_resumed, summary.records_sent) == (4, 40, 55)
    assert summary.checkpoint_writes == 6 and summary.batches_changed == 0
    held = rows_by_batch_id(first, retry)
    # The fifth request was sent and refused: its records went out again under the same id.
    assert sorted(len(ids) for ids in held.values()) == [5, *[10] * 9]
    assert set().union(*held.values()) == set(range(95))


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_a_reversed_input_on_a_retry_is_reported_and_never_reuses_a_batch_id(
    tmp_path, on_invalid, caplog
) -> None:
    options = IngestOptions(
        max_records=10, max_concurrency=1, on_invalid=on_invalid, batch_id_column="note"
    ).within(IngestLimits())
    first = first_try(tmp_path, options, STAMPED, breaks_after=4)
    retry, summary = retry_of(tmp_path, options, STAMPED[::-1])
    assert (summary.batches_resumed, summary.batches_changed, summary.records_sent) == (0, 4, 95)
    (warning,) = [r.getMessage() for r in caplog.records if "changed between tries" in r.getMessage()]
    assert "batch 0 (id " in warning and "records 0-9 of this try's input" in warning
    # An id never holds two different sets of records, over both tries.
    held = rows_by_batch_id(first, retry)
    assert len(held) == 5 + 10 and sum(len(ids) for ids in held.values()) == 50 + 95


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_with_on_changed_input_fail_a_changed_retry_sends_nothing(tmp_path, on_invalid) -> None:
    options = IngestOptions(
        max_records=10, max_concurrency=1, on_invalid=on_invalid, on_changed_input="fail"
    ).within(IngestLimits())
    first_try(tmp_path, options, RECORDS, breaks_after=6)
    changed = [dict(r, note="changed") if r["id"] == 45 else r for r in RECORDS]  # in batch 4 only
    retry = Sink(lambda batch: batch.count)
    with pytest.raises(
        PeakChangedInputError, match=r"batch 4 \(id \S+-000000004-\S+\), records 40-49 of this try's input,"
    ) as caught:
        one_try(retry, changed, options, tmp_path)
    assert caught.value.batch == 4 and retry.bodies == []
    # A shorter input is a changed one too: an earlier try had sent batch 5.
    with pytest.raises(
        PeakChangedInputError, match="this try built 3 batches; an earlier try had sent batch 5"
    ):
        one_try(retry, RECORDS[:30], options, tmp_path)
    assert retry.bodies == []


def test_dead_letters_hold_each_record_as_given_without_the_batch_id_stamp(tmp_path) -> None:
    path = tmp_path / "dead.jsonl"
    options = IngestOptions(
        max_records=10,
        max_concurrency=2,
        on_invalid="dead_letter",
        dead_letter_path=str(path),
        batch_id_column="note",
    ).within(IngestLimits())
    records = [{"id": i} for i in range(20)] + [{"id": "x"}, {"id": math.nan}, {"id": 1, "extra": math.inf}]
    load(V1Api(Sink(lambda batch: batch.count), SCHEMA), records, options, IngestSummary(table="o"))
    # v2: rows the server refuses are written as given too (the request's id is not theirs).
    v2_path = tmp_path / "dead-v2.jsonl"
    load(
        V2Api(v2_refusing(3, 7), "S", "S_ORDERS", TABLE),
        [{"id": i} for i in range(20)],
        replace(options, dead_letter_path=str(v2_path)),
        V2LoadSummary(table="T"),
    )
    v1_letters = [strict(line) for line in path.read_text().splitlines()]
    v2_letters = [strict(line) for line in v2_path.read_text().splitlines()]
    assert [letter["record"] for letter in v1_letters] == [
        {"id": "x"},
        {"id": "NaN"},
        {"id": 1, "extra": "Infinity"},
    ]
    assert [letter["row"] for letter in v2_letters] == [{"id": 3}, {"id": 7}]


# ----------------------------------------------------------------------------- options
def test_v2_options_are_the_one_options_under_v2_names() -> None:
    options = V2LoadOptions(max_rows=10, operation="append")
    assert isinstance(options, IngestOptions)
    assert (options.max_rows, options.max_records, options.max_concurrency, options.pack_window) == (
        10,
        10,
        16,
        1,
    )
    assert replace(options, dead_letter_path="x").max_rows == 10
    decided = options.within(V2Wire(max_rows=100, max_bytes=500_000))
    assert (decided.max_rows, decided.max_bytes, decided.operation) == (10, 500_000, "APPEND")
    with pytest.raises(PeakConfigError, match="max_rows must be positive"):
        V2LoadOptions(max_rows=0)
    with pytest.raises(PeakConfigError, match="max_records must be positive"):
        IngestOptions(max_records=0)


def test_batch_id_column_must_be_a_string_column_of_either_apis_table() -> None:
    options = IngestOptions(batch_id_column="id").within(IngestLimits())
    with pytest.raises(
        PeakConfigError, match="batch_id_column 'id' must be a string column of table 'S_ORDERS'"
    ):
        load(V2Api(v2_refusing(), "S", "S_ORDERS", TABLE), RECORDS, options, V2LoadSummary(table="T"))


# ----------------------------------------------------------------------------- spool
@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=50), st.lists(st.integers(0, 2**40), min_size=1, max_size=5)), max_size=8
    )
)
def test_the_spool_gives_back_every_batch_as_written(specs: list[tuple[bytes, list[int]]]) -> None:
    batches = [Batch(i, body, len(ix), ix[0], "run", tuple(ix)) for i, (body, ix) in enumerate(specs)]
    with Spool() as spool:
        assert spool.write(batches) == len(batches)
        back = list(spool.read("run"))
    assert back == batches
    assert [(b.indices, b.run_key, b.key) for b in back] == [(b.indices, b.run_key, b.key) for b in batches]


# ----------------------------------------------------------------------------- dead letters
ODD = {
    "decimal": Decimal("12345678901234567890.5"),
    "nan": Decimal("NaN"),
    "inf": math.inf,
    "when": datetime(2024, 1, 5, 7, 8, 9),
    "set": {1},
    "bytes": b"x",
}


@pytest.mark.parametrize("shape", [RECORD_LETTERS, ROW_LETTERS], ids=["v1", "v2"])
@pytest.mark.parametrize(
    "record",
    [ODD, {**ODD, "surrogate": "\ud800"}, {"deep": [[[[[[[]]]]]]] * 3}],
    ids=["odd", "surrogate", "deep"],
)
def test_dead_letters_are_strict_json_whatever_the_record_holds(shape: Any, record: dict[str, Any]) -> None:
    stream = io.StringIO()
    writer = DeadLetterWriter(stream, shape)
    error = RowError(4, "id", "E1", "C", "bad", "1") if shape.coded else RecordError(4, "id", "1", "bad")
    writer.invalid(4, record, [error])
    (line,) = stream.getvalue().splitlines()
    entry = strict(line)
    assert entry[shape.index] == 4 and ("stage" in entry) == shape.staged
    assert list(entry["errors"][0]) == (
        ["column", "code", "category", "message"] if shape.coded else ["column", "reason"]
    )
    written = entry[shape.record]
    if "deep" in record:
        assert written == json.loads(json.dumps(record))
        return
    # Non-finite numbers as the strings JavaScript and Python's json name them: a bare NaN is not JSON.
    assert (written["inf"], written["nan"], written["set"]) == ("Infinity", "NaN", [1])
    assert written["when"] in ("2024-01-05T07:08:09", "2024-01-05 07:08:09")
    if "surrogate" in record:  # escaped: the standard library writes the rest, Decimals as text
        assert written["surrogate"] == "\ud800" and written["decimal"] == "12345678901234567890.5"
    else:  # numbers exact
        assert '"decimal":12345678901234567890.5' in line


def test_v1_letters_keep_their_names_and_numbers_are_exact() -> None:
    stream = io.StringIO()
    DeadLetterWriter(stream, RECORD_LETTERS).invalid(
        2, {"id": Decimal("1.50")}, [RecordError(2, "id", "x", "r")]
    )
    assert (
        stream.getvalue()
        == '{"record_index":2,"errors":[{"column":"id","reason":"r"}],"record":{"id":1.50}}\n'
    )


# ----------------------------------------------------------------------------- summary
def test_each_api_shows_the_one_summary_under_its_documented_names() -> None:
    counts = {
        "records_sent": 9,
        "records_invalid": 1,
        "batches_resumed": 2,
        "records_resumed": 5,
        "seconds": 1.23456,
    }
    v1 = IngestSummary(table="t", **counts)
    v2 = V2LoadSummary(table="t", solution="S", operation="UPSERT", failed_by_code={"E1": 3}, **counts)
    assert list(v1.as_dict()) == [
        "table",
        "records_sent",
        "requests",
        "bytes_sent",
        "invalid",
        "records_resumed",
        "batches_resumed",
        "batches_changed",
        "checkpoint_writes",
        "checkpoint_seconds",
        "retries",
        "rate_limited",
        "max_in_flight",
        "min_concurrency",
        "unacknowledged_batches",
        "seconds",
        "dead_letter_path",
        "dead_letters",
        "records_per_second",
    ]
    assert list(v2.as_dict()) == [
        "solution",
        "table",
        "operation",
        "dry_run",
        "rows_sent",
        "rows_accepted",
        "rows_failed",
        "rows_invalid",
        "failed_by_code",
        "invalid_by_code",
        "requests",
        "bytes_sent",
        "requests_resumed",
        "rows_resumed",
        "requests_changed",
        "checkpoint_writes",
        "checkpoint_seconds",
        "retries",
        "rate_limited",
        "max_in_flight",
        "requests_per_second",
        "seconds",
        "dead_letter_path",
        "dead_letters",
        "rows_per_second",
    ]
    assert (v1.invalid, v1.as_dict()["seconds"], v1.as_dict()["records_per_second"]) == (1, 1.235, 7)
    assert (v2.rows_sent, v2.requests_resumed, v2.rows_resumed) == (9, 2, 5)
    assert (
        "failed E1  3" in " ".join(v2.as_table().split("  ")).replace("  ", " ")
        or "failed E1" in v2.as_table()
    )
    assert isinstance(v1, LoadSummary) and isinstance(v2, LoadSummary)


@pytest.mark.parametrize("record", [{"id": "\ud800"}, {(1, 2): 1}], ids=["lone surrogate", "tuple key"])
def test_a_v1_dead_letter_never_fails_the_load_on_the_record_itself(tmp_path, record: dict[Any, Any]) -> None:
    path = tmp_path / "dead.jsonl"
    options = IngestOptions(on_invalid="dead_letter", dead_letter_path=str(path), max_concurrency=1)
    sink = Sink(lambda batch: batch.count)
    summary = load(
        V1Api(sink, SCHEMA), [{"id": 1}, record], options.within(IngestLimits()), IngestSummary(table="o")
    )
    assert (summary.records_sent, summary.invalid) == (1, 1)
    (letter,) = [strict(line) for line in path.read_text().splitlines()]
    assert letter["record_index"] == 1 and letter["record"] in ({"id": "\ud800"}, {"(1, 2)": 1})

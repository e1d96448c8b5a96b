"""The checkpoint of a load (``ingest.checkpoint``): durable at every acknowledgement, small
writes, shared writes under concurrency, read strictly, removed with the task run's records; and
where a task run keeps it (``hooks._checkpoint``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from airflow_provider_peak.exceptions import PeakCheckpointError
from airflow_provider_peak.hooks._checkpoint import task_records
from airflow_provider_peak.ingest.checkpoint import CHUNK, Ack, Checkpoint, RunRecords, local_checkpoint
from airflow_provider_peak.utils.task_run import TaskRun
from airflow_provider_peak.utils.task_run_store import TaskStateStore, VariableStore
from tests.fixtures import make_context

FP = "0123456789abcdef"


class MemoryStore:
    """A store as Airflow's are: values kept as JSON text, read back parsed."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.sets: list[str] = []

    def get(self, key: str) -> Any:
        raw = self.values.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self.sets.append(key)
        self.values[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def describe(self, key: str) -> str:
        return f"memory key {key!r}"

    @property
    def remedy(self) -> str:
        return "Delete the memory keys."


def fresh(store: MemoryStore, run_key: str = "dag/task/run/-1/t") -> Checkpoint:
    return Checkpoint(store, "ckpt.x", run_key=run_key).load()


def fp(i: int) -> str:
    return f"{i:016x}"


# ----------------------------------------------------------------------------- durable, small
def test_every_acknowledgement_is_in_the_store_when_ack_returns() -> None:
    store = MemoryStore()
    checkpoint = fresh(store)
    for index in range(300):
        checkpoint.ack(index, fp(index))
        # Another worker reading now (a retry after a kill) sees it.
        assert fresh(store).acked(index) == Ack(fp(index))
    assert checkpoint.writes == 300
    # One head and one key per chunk of 64 batches; no value grows with the load.
    assert sorted(store.values) == sorted(["ckpt.x.head", *(f"ckpt.x.{c}" for c in range(5))])
    assert max(len(v) for v in store.values.values()) < 2_500
    assert json.loads(store.values["ckpt.x.head"]) == {
        "format": 1,
        "run": "dag/task/run/-1/t",
        "chunk": CHUNK,
        "chunks": 5,
    }


def test_a_retry_resumes_from_what_every_earlier_try_acknowledged() -> None:
    store = MemoryStore()
    first = fresh(store)
    for index in (0, 1, 2, 70):
        first.ack(index, fp(index))
    second = fresh(store)
    second.ack(3, fp(3))  # a chunk holding earlier tries' entries is rewritten with them
    third = fresh(store)
    assert [i for i in range(100) if third.acked(i)] == [0, 1, 2, 3, 70]
    assert (third.last_index, len(third)) == (70, 5)
    assert third.holds(70, fp(70)) and not third.holds(70, fp(71))


def test_concurrent_acknowledgements_share_writes() -> None:
    """While one write is in progress, every acknowledgement that arrives waits for the next write,
    which carries them all: at most one write per acknowledgement, and fewer under load."""

    class Slow(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.entered = threading.Event()
            self.release = threading.Event()

        def set(self, key: str, value: Any) -> None:
            if not self.entered.is_set():
                self.entered.set()
                assert self.release.wait(10)
            super().set(key, value)

    store = Slow()
    checkpoint = fresh(store)
    first = threading.Thread(target=checkpoint.ack, args=(0, fp(0)))
    first.start()
    assert store.entered.wait(10)  # the first write is under way, and held
    others = [threading.Thread(target=checkpoint.ack, args=(i, fp(i))) for i in range(1, 30)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while len(checkpoint) < 30 and time.monotonic() < deadline:  # every entry is queued
        time.sleep(0.01)
    assert len(checkpoint) == 30
    store.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert checkpoint.writes == 2  # the held write, then one for the 29 that waited
    assert len(fresh(store)) == 30


def test_failed_rows_are_kept_as_plain_short_text() -> None:
    store = MemoryStore()
    checkpoint = fresh(store)
    checkpoint.ack(3, FP, failed=3, by_code={"DI_E_20004": 2, "bad\ncode=é,x!": 1})
    assert fresh(store).acked(3) == Ack(FP, 3, {"DI_E_20004": 2, "badcode=é,x!": 1})
    assert "\\n" not in store.values["ckpt.x.0"]


# ----------------------------------------------------------------------------- read strictly
GARBAGE = [
    ("ckpt.x.head", "not json at all", "cannot be read"),
    ("ckpt.x.head", json.dumps("a string"), "holds str"),
    (
        "ckpt.x.head",
        json.dumps({"format": 9, "run": "dag/task/run/-1/t", "chunk": 64, "chunks": 1}),
        "format 9",
    ),
    ("ckpt.x.head", json.dumps({"format": 1, "run": "other/load", "chunk": 64, "chunks": 1}), "another load"),
    (
        "ckpt.x.head",
        json.dumps({"format": 1, "run": "dag/task/run/-1/t", "chunk": 64, "chunks": -1}),
        "chunks",
    ),
    ("ckpt.x.0", json.dumps(["0:abc"]), "not an object"),
    ("ckpt.x.0", json.dumps({"acks": {"0": "zz"}}), "holds"),
    ("ckpt.x.0", json.dumps({"acks": {"64": FP}}), "outside its chunk"),
    ("ckpt.x.0", json.dumps({"acks": {"-1": FP}}), "outside its chunk"),
    ("ckpt.x.0", json.dumps({"acks": {"0": [FP, -2, {}]}}), "holds"),
]


@pytest.mark.parametrize(("key", "raw", "reason"), GARBAGE)
def test_a_record_that_cannot_be_read_fails_closed_naming_it_and_how_to_clear_it(key, raw, reason) -> None:
    store = MemoryStore()
    good = fresh(store)
    good.ack(0, FP)
    store.values[key] = raw
    with pytest.raises(PeakCheckpointError) as caught:
        fresh(store)
    message = str(caught.value)
    assert f"memory key {key!r}" in message and reason in message
    assert "Nothing was sent by this try" in message and message.endswith("Delete the memory keys.")


def test_a_chunk_the_head_names_but_that_was_never_written_holds_nothing() -> None:
    store = MemoryStore()
    checkpoint = fresh(store)
    checkpoint.ack(0, FP)
    checkpoint.ack(64, FP)  # a second chunk: the head is written first
    del store.values["ckpt.x.1"]  # as when the process died between the two writes
    assert [fresh(store).acked(i) is not None for i in (0, 64)] == [True, False]


def test_a_store_that_cannot_be_written_stops_the_load() -> None:
    class Broken(MemoryStore):
        def set(self, key: str, value: Any) -> None:
            raise OSError("the API server is gone")

    checkpoint = fresh(Broken())
    with pytest.raises(
        PeakCheckpointError, match=r"could not be written \(OSError: the API server is gone\)\. Nothing more"
    ):
        checkpoint.ack(0, FP)
    with pytest.raises(PeakCheckpointError):  # and so does every later acknowledgement
        checkpoint.ack(1, FP)


# ----------------------------------------------------------------------------- a task run's records
def test_a_task_runs_records_are_listed_and_removed_together() -> None:
    store = MemoryStore()
    records = RunRecords(store, "dag/task/run/-1")
    orders = records.checkpoint("v1/orders", table="orders")
    orders.ack(0, FP)
    orders.ack(64, FP)
    records.checkpoint("v1/untouched")  # never written: never listed
    records.put("feed/orders/delivered", {"records": 3})
    assert records.get("feed/orders/delivered") == {"records": 3}
    listed = json.loads(store.values["index"])["records"]
    assert listed == [orders.prefix, RunRecords._plain("feed/orders/delivered")]
    assert json.loads(store.values[orders.head_key])["meta"] == {"table": "orders"}
    records.remove()
    assert store.values == {}


def test_removal_never_fails_the_task_that_succeeded(caplog) -> None:
    store = MemoryStore()
    store.values["index"] = json.dumps(["garbage"])
    RunRecords(store, "dag/task/run/-1").remove()
    assert "were not removed" in caplog.text


def test_an_index_that_cannot_be_read_fails_closed() -> None:
    store = MemoryStore()
    store.values["index"] = json.dumps({"format": 1, "run": "another/run", "records": []})
    checkpoint = RunRecords(store, "dag/task/run/-1").checkpoint("v1/orders")
    with pytest.raises(PeakCheckpointError, match=r"\(memory key 'index'\) is not the index"):
        checkpoint.ack(0, FP)


def test_in_a_task_the_records_live_in_the_task_state_store_under_peak_keys() -> None:
    context = make_context(run_id="r1")
    checkpoint = task_records(context).checkpoint("v1/orders")
    checkpoint.ack(0, FP)
    keys = sorted(context["task_state_store"].values)
    assert keys == [
        "peak.ckpt." + checkpoint.prefix.split(".")[1] + ".0",
        f"peak.{checkpoint.prefix}.head",
        "peak.index",
    ]
    # Every try of the task instance reads them; another run does not.
    assert task_records(make_context(run_id="r1")).checkpoint("v1/orders").holds(0, FP)
    assert len(task_records(make_context(run_id="r2")).checkpoint("v1/orders")) == 0


def test_where_a_record_is_named_in_errors() -> None:
    run = TaskRun("etl", "load", "manual__1", 3)
    state = TaskStateStore(None, run)
    assert state.describe("index") == (
        "Airflow's task state store, key 'peak.index' of task etl.load, run manual__1, map index 3"
    )
    assert "DELETE /api/v2/dags/etl/dagRuns/manual__1/taskInstances/load/state-store/<key>" in state.remedy
    variables = VariableStore(run)
    assert variables.prefix.startswith("peak_run__") and len(variables.prefix) == len("peak_run__") + 24 + 2
    assert (
        variables.describe("index")
        == f"Airflow Variable '{variables.prefix}index' (task etl.load, run manual__1, map index 3)"
    )
    assert f"start with {variables.prefix!r}" in variables.remedy


# ----------------------------------------------------------------------------- outside Airflow
def test_a_local_checkpoint_survives_the_process_and_is_removed_whole(tmp_path) -> None:
    checkpoint = local_checkpoint("script/orders", directory=tmp_path)
    checkpoint.ack(0, FP, failed=1, by_code={"E": 1})
    again = local_checkpoint("script/orders", directory=tmp_path)
    assert again.acked(0) == Ack(FP, 1, {"E": 1})
    folder = again.store.folder
    assert sorted(p.name for p in folder.iterdir()) == ["ckpt.0.json", "ckpt.head.json"]
    again.remove()
    assert not folder.exists()

"""``PeakHook.load_records``: the one way to load a table, with the connection's limits as ceiling,
checked acknowledgements and a checkpoint per task run. Over real HTTP on loopback."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_peak.exceptions import PeakAcknowledgementError, PeakConfigError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.pipeline import IngestOptions
from tests.fixtures import FAST_RETRIES, Answer, make_context

TABLE = {"name": "acks", "columns": [{"name": "id", "type": "integer"}]}


def peak(scripted, acknowledge):
    """A Peak that serves the table and acknowledges each ingest with ``acknowledge(records)``."""

    def answer(seen):
        if seen.method == "GET":
            return Answer.json(TABLE)
        return Answer.json(acknowledge(json.loads(seen.body)))

    return scripted(answer)


def hook_for(set_conn, url, **extra):
    set_conn(
        "peak_default", conn_type="peak", host=url, password="key-for-acks-1", extra={**FAST_RETRIES, **extra}
    )
    return PeakHook()


ROWS = [{"id": i} for i in range(25)]


class TestAcknowledgements:
    def test_wrong_counts_fail_the_load_at_the_end_and_nothing_is_sent_twice(
        self, scripted, set_conn, tmp_path
    ):
        # The second of three batches is acknowledged with a wrong count, the third with text.
        batches = iter([lambda n: n, lambda n: 0, lambda n: "lots"])
        server = peak(scripted, lambda records: {"recordsIngested": next(batches)(len(records))})
        hook = hook_for(set_conn, server.url)
        context = make_context()
        options = IngestOptions(max_records=10, max_concurrency=1)
        with pytest.raises(PeakAcknowledgementError) as caught:
            hook.load_records("acks", ROWS, options, context=context)
        error = caught.value
        assert [(sent, acked) for _, sent, acked in error.batches] == [(10, 0), (5, "lots")]
        assert "sent 10, acknowledged 0" in str(error) and "acknowledged lots" in str(error)
        ingests = [s for s in server.seen if s.method == "POST"]
        assert len(ingests) == 3  # every batch went out once
        # A retry of the task sends nothing again: those batches are recorded as applied.
        summary = hook_for(set_conn, server.url).load_records("acks", ROWS, options, context=context)
        assert summary.batches_resumed == 3 and summary.records_sent == 0
        assert len([s for s in server.seen if s.method == "POST"]) == 3

    def test_the_summary_counts_unacknowledged_batches(self, scripted, set_conn, caplog):
        server = peak(scripted, lambda records: {"recordsIngested": len(records) - 1})
        with caplog.at_level(logging.ERROR), pytest.raises(PeakAcknowledgementError):
            hook_for(set_conn, server.url).load_records("acks", ROWS, max_records=10)
        assert "unacknowledged batches  3" in caplog.text

    def test_a_reply_without_a_count_is_trusted_with_one_warning(self, scripted, set_conn, caplog):
        server = peak(scripted, lambda records: {"status": "accepted"})
        with caplog.at_level(logging.WARNING):
            summary = hook_for(set_conn, server.url).load_records("acks", ROWS, max_records=5)
        assert summary.records_sent == 25 and summary.unacknowledged_batches == 0
        assert caplog.text.count("holds no record count") == 1

    def test_the_count_key_is_an_extra(self, scripted, set_conn):
        server = peak(scripted, lambda records: {"count": len(records) + 1})
        with pytest.raises(PeakAcknowledgementError):
            hook_for(set_conn, server.url, records_ingested_key="count").load_records("acks", ROWS)


class TestLimits:
    def test_asking_above_the_connection_names_both_values(self, scripted, set_conn):
        server = peak(scripted, lambda records: {"recordsIngested": len(records)})
        hook = hook_for(set_conn, server.url, max_records=100, max_in_flight=4)
        with pytest.raises(
            PeakConfigError, match="max_records=101 is above the connection's max_records=100"
        ):
            hook.load_records("acks", ROWS, max_records=101)
        with pytest.raises(
            PeakConfigError, match="max_concurrency=8 is above the connection's max_in_flight=4"
        ):
            hook.load_records("acks", ROWS, max_concurrency=8)
        assert [s for s in server.seen if s.method == "POST"] == []

    def test_the_default_concurrency_stays_within_a_small_tenant(self, scripted, set_conn):
        server = peak(scripted, lambda records: {"recordsIngested": len(records)})
        summary = hook_for(set_conn, server.url, max_in_flight=2).load_records("acks", ROWS, max_records=1)
        assert summary.requests == 25 and summary.max_in_flight <= 2
        with pytest.raises(PeakConfigError, match="max_bytes must be at least 64"):
            hook_for(set_conn, server.url, max_bytes=10).settings  # noqa: B018

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"max_concurrency": "8"}, "max_concurrency must be an integer"),
            ({"max_concurrency": 8.5}, "max_concurrency must be an integer"),
            ({"max_concurrency": True}, "max_concurrency must be an integer"),
            ({"max_records": 0}, "max_records must be positive"),
            ({"progress_interval": float("nan")}, "progress_interval must be a finite number"),
            ({"on_invalid": "ignore"}, "on_invalid must be one of"),
        ],
    )
    def test_arguments_are_strict(self, options, message):
        with pytest.raises(PeakConfigError, match=message):
            IngestOptions(**options)

"""``PeakV2Hook.load_rows`` against the emulator over HTTP: row-level outcomes in each
``on_invalid`` mode, dry runs, UPSERT and APPEND, the checkpoint across tries, the reply-lost
window, and the request rate (never above the tenant's limit; slowing down on 429)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest

from airflow_provider_peak.exceptions import (
    PeakAcknowledgementError,
    PeakConfigError,
    PeakRowsFailedError,
    PeakServerError,
    RecordTooLargeError,
    RowValidationError,
)
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.ingest.v2.load import V2LoadOptions
from tests.fixtures import FAST_RETRIES, V2_TOKEN, Answer, make_context

SOLUTION, PRODUCTS, QUOTE_LINES = "DEMO_OOTB", "DEMO_PRODUCTS_OOTB", "DEMO_QUOTE_LINES_OOTB"
#: The client cannot read the schema's column types under this name, so it leaves the checks of
#: values to the server: the way to get rows the *server* rejects in a real (not dry) load.
TYPES_UNREAD = {"column_type_keys": "kind"}


def products(n, *, bad=(), price="1.25"):
    """``n`` product rows; those at ``bad`` have a price with three decimals (NUMERIC(12,2))."""
    return [
        {
            "PRODUCT_ID": f"P{i:05d}",
            "UPDATED_AT": "2024-01-15 10:30:00",
            "PRODUCT_NAME": f"name {i}",
            "PRODUCT_CATEGORY": "beams",
            "LIST_PRICE": Decimal("0.125") if i in bad else Decimal(price),
        }
        for i in range(n)
    ]


def quote_lines(n):
    return [
        {
            "QUOTE_ID": f"Q{i:06d}",
            "PRODUCT_ID": "P1",
            "REGION_ID": 1,
            "QUANTITY": 1 + i % 5,
            "UNIT_PRICE": Decimal("9.5"),
            "QUOTE_DATE": "2026-01-15",
        }
        for i in range(n)
    ]


def quote_counts(v2):
    return Counter(row["QUOTE_ID"] for row in v2.rows(QUOTE_LINES))


class TestRowOutcomes:
    def test_a_mixed_load_counts_what_the_server_rejects_and_skip_goes_on(self, v2, v2_conn, caplog):
        v2_conn(**TYPES_UNREAD)
        summary = PeakV2Hook().load_rows(
            SOLUTION, "PRODUCTS", products(50, bad={3, 17, 41}), on_invalid="skip", max_rows=10
        )
        assert (summary.rows_sent, summary.rows_accepted, summary.rows_failed) == (50, 47, 3)
        assert summary.failed_by_code == {"DI_E_20004": 3} and summary.requests == 5
        assert len(v2.rows(PRODUCTS)) == 47
        assert sorted(f["row"]["PRODUCT_ID"] for f in v2.failed_rows(PRODUCTS)) == [
            "P00003",
            "P00017",
            "P00041",
        ]
        assert "Peak rejected 3 rows; they are not loaded" in caplog.text
        assert "row 17, column 'LIST_PRICE': DI_E_20004" in caplog.text  # input index, not request index

    def test_fail_fails_after_sending_and_says_the_good_rows_stay(self, v2, v2_conn):
        v2_conn(**TYPES_UNREAD)
        with pytest.raises(PeakRowsFailedError) as caught:
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, products(30, bad={5}), max_rows=10)
        error = caught.value
        assert (error.failed, error.accepted, error.by_code) == (1, 29, {"DI_E_20004": 1})
        assert "Peak rejected 1 of 30 rows (DI_E_20004 x1); the other 29 rows were accepted" in str(error)
        assert len(v2.rows(PRODUCTS)) == 29  # v2 is not all-or-nothing

    def test_dead_letter_writes_each_failed_row_with_codes_messages_and_the_row_sent(
        self, v2, v2_conn, tmp_path
    ):
        v2_conn(**TYPES_UNREAD)
        path = tmp_path / "letters" / "dead.jsonl"  # the folder is created
        rows = products(25, bad={4, 22})
        rows[9]["SURPRISE"] = 1  # an unknown column: the schema's names are still known client side
        summary = PeakV2Hook().load_rows(
            SOLUTION, PRODUCTS, rows, on_invalid="dead_letter", dead_letter_path=str(path), max_rows=10
        )
        assert (summary.rows_invalid, summary.rows_failed, summary.rows_accepted) == (1, 2, 22)
        letters = [json.loads(line) for line in path.read_text().splitlines()]
        by_row = {letter["row_index"]: letter for letter in letters}
        assert sorted(by_row) == [4, 9, 22]
        assert by_row[9]["stage"] == "client" and by_row[9]["errors"][0]["code"] == "DI_E_10002"
        server = by_row[22]
        assert server["stage"] == "server" and server["request"] == 2 and server["request_id"]
        assert server["errors"] == [
            {
                "column": "LIST_PRICE",
                "code": "DI_E_20004",
                "category": "PRECISION",
                "message": server["errors"][0]["message"],
            }
        ]
        assert server["row"]["PRODUCT_ID"] == "P00022" and server["row"]["LIST_PRICE"] == 0.125

    def test_rows_the_schema_rejects_send_nothing_with_fail(self, v2, v2_conn):
        v2_conn()
        rows = products(5_000)
        rows[4_321]["PRODUCT_NAME"] = ""
        with pytest.raises(RowValidationError, match=r"1 invalid record; first 1 error:\n  row 4321, column"):
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, rows)
        assert v2.stats()["by_route"].get("ingest", 0) == 0

    def test_skip_drops_what_the_schema_rejects_before_sending(self, v2, v2_conn, caplog):
        v2_conn()
        rows = products(20)
        rows[3]["LIST_PRICE"] = Decimal("0.125")
        del rows[8]["PRODUCT_CATEGORY"]
        summary = PeakV2Hook().load_rows(SOLUTION, PRODUCTS, rows, on_invalid="skip")
        assert (summary.rows_sent, summary.rows_invalid, summary.rows_failed) == (18, 2, 0)
        assert summary.invalid_by_code == {"DI_E_20004": 1, "DI_E_10003": 1}
        assert v2.stats()["rows_received"] == 18
        assert "Skipped 2 rows the solution schema rejects" in caplog.text

    def test_a_row_no_request_can_hold_is_named(self, v2, v2_conn):
        v2_conn(max_bytes=2_000)
        rows = products(3)
        rows[1]["PRODUCT_NAME"] = "x" * 3_000
        with pytest.raises(RecordTooLargeError, match="record 1 is 3,"):
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, rows)
        assert v2.stats()["by_route"].get("ingest", 0) == 0


class TestDryRun:
    def test_a_dry_run_sends_everything_and_writes_nothing(self, v2, v2_conn, tmp_path):
        v2_conn()
        rows = products(40, bad={2, 30})  # the client would keep these back; the server judges them
        context = make_context()
        summary = PeakV2Hook().load_rows(
            SOLUTION,
            PRODUCTS,
            rows,
            dry_run=True,
            on_invalid="skip",
            max_rows=10,
            context=context,
        )
        assert summary.dry_run and (summary.rows_sent, summary.rows_accepted, summary.rows_failed) == (
            40,
            38,
            2,
        )
        assert summary.rows_invalid == 0 and summary.failed_by_code == {"DI_E_20004": 2}
        assert v2.rows(PRODUCTS) == [] and v2.failed_rows(PRODUCTS) == []
        assert v2.stats()["dry_runs"] == 4
        assert context["task_state_store"].values == {}  # nothing checkpointed either

    def test_with_fail_a_dry_run_that_finds_failures_fails(self, v2, v2_conn):
        v2_conn()
        with pytest.raises(
            PeakRowsFailedError, match=r"Peak would reject 1 of 10 rows .*dry run: nothing was written"
        ):
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, products(10, bad={0}), dry_run=True)
        assert v2.rows(PRODUCTS) == []


class TestOperations:
    def test_an_upsert_load_updates_rows_on_the_primary_key(self, v2, v2_conn):
        v2_conn()
        hook = PeakV2Hook()
        hook.load_rows(SOLUTION, PRODUCTS, products(300), max_rows=100)
        summary = hook.load_rows(SOLUTION, PRODUCTS, products(300, price="7.75")[::3], operation="upsert")
        assert summary.rows_accepted == 100
        prices = Counter(row["LIST_PRICE"] for row in v2.rows(PRODUCTS))
        assert prices == {Decimal("1.25"): 200, Decimal("7.75"): 100}

    def test_append_adds_rows(self, v2, v2_conn):
        v2_conn()
        hook = PeakV2Hook()
        for _ in range(2):
            hook.load_rows(SOLUTION, QUOTE_LINES, quote_lines(30), operation="append")
        assert set(quote_counts(v2).values()) == {2}


def failing_after(rows, count):
    """The rows, then a failure after ``count`` of them (a source that breaks mid-load)."""
    for index, row in enumerate(rows):
        if index == count:
            raise OSError("the source went away")
        yield row


class TestRetries:
    def test_an_append_retry_sends_no_acknowledged_request_again(self, v2, v2_conn, tmp_path):
        v2_conn()
        context = make_context(run_id="append-retry")
        rows = quote_lines(1_000)
        options = V2LoadOptions(operation="append", on_invalid="skip", max_rows=50, max_concurrency=2)
        with pytest.raises(OSError, match="went away"):
            PeakV2Hook().load_rows(
                SOLUTION,
                QUOTE_LINES,
                failing_after(rows, 420),
                options,
                context=context,
            )
        first = v2.stats()["rows_accepted"]
        assert first == 400  # requests 0..7 went out; the 9th was being packed when the source broke
        retry = PeakV2Hook().load_rows(SOLUTION, QUOTE_LINES, rows, options, context=context)
        assert retry.requests_resumed * 50 == retry.rows_resumed == first
        assert retry.rows_sent == 1_000 - first
        counts = quote_counts(v2)
        assert len(counts) == 1_000 and set(counts.values()) == {1}
        # The load never removes its checkpoint: only Airflow's record of the task's success does.
        assert context["task_state_store"].values

    def test_a_retry_still_reports_the_rows_an_earlier_try_had_sent(self, emu, v2, v2_conn, tmp_path):
        """``fail``: requests acknowledged by a failed try are not sent again, and their rejected
        rows (noted in the checkpoint) still fail the retry."""
        v2_conn(**TYPES_UNREAD)
        context = make_context(run_id="noted-failures")
        rows = products(200, bad={5, 150})
        options = V2LoadOptions(max_rows=20, max_concurrency=1)
        emu.set_latency(0.03)
        watcher = threading.Thread(target=_fail_ingest_after, args=(emu, v2, 4), daemon=True)
        watcher.start()
        with pytest.raises(PeakServerError, match="500"):
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, rows, options, context=context)
        watcher.join()
        emu.set_latency(0.0)
        with pytest.raises(PeakRowsFailedError) as caught:
            PeakV2Hook().load_rows(SOLUTION, PRODUCTS, rows, options, context=context)
        assert caught.value.failed == 2 and caught.value.by_code == {"DI_E_20004": 2}
        assert len(v2.rows(PRODUCTS)) == 198 and len(v2.failed_rows(PRODUCTS)) == 2  # each sent once

    def test_a_batch_id_column_marks_the_rows_of_an_append_request_sent_twice(self, emu, v2, v2_conn):
        """v2 rows carry no batch id; a string column of the table can hold the request's id."""
        v2_conn()
        emu.inject("drop_after_apply", route="v2_ingest")  # the first request's reply is lost
        PeakV2Hook().load_rows(
            SOLUTION,
            PRODUCTS,
            products(100),
            operation="append",
            max_rows=25,
            max_concurrency=1,
            batch_id_column="PRODUCT_SUBCATEGORY",
        )
        rows = v2.rows(PRODUCTS)
        by_marker: dict[str, list[str]] = {}
        for row in rows:
            by_marker.setdefault(row["PRODUCT_SUBCATEGORY"], []).append(row["PRODUCT_ID"])
        assert len(rows) == 125 and len(by_marker) == 4
        twice = [ids for ids in by_marker.values() if len(ids) == 50]
        assert len(twice) == 1 and sorted(set(twice[0])) == [f"P{i:05d}" for i in range(25)]

    def test_the_reply_lost_window_duplicates_one_append_request_and_no_upsert(self, emu, v2, v2_conn):
        v2_conn()
        emu.inject("drop_after_apply", route="v2_ingest")
        summary = PeakV2Hook().load_rows(
            SOLUTION, QUOTE_LINES, quote_lines(100), operation="append", max_rows=25, max_concurrency=1
        )
        assert summary.retries == 1 and summary.rows_accepted == 100
        assert sorted(Counter(quote_counts(v2).values()).items()) == [(1, 75), (2, 25)]  # documented
        emu.inject("drop_after_apply", route="v2_ingest")
        PeakV2Hook().load_rows(SOLUTION, PRODUCTS, products(100), max_rows=25, max_concurrency=1)
        assert len(v2.rows(PRODUCTS)) == 100


def _fail_ingest_after(emu, v2, count):
    """Once ``count`` ingest requests were served, the next one is answered 500 (not retried)."""
    deadline = time.monotonic() + 30
    while v2.stats()["by_route"].get("ingest", 0) < count and time.monotonic() < deadline:
        time.sleep(0.002)
    emu.inject("status", status=500, route="v2_ingest")


class TestRate:
    def test_every_request_is_paced_and_the_pacer_never_grants_above_its_rate(self, v2, v2_conn):
        """120 requests as fast as the client may: every call (schema reads too) takes a permit of
        the hook's pacer at 45 per second (90% of the documented 50), and the pacer never grants
        more than 45 in any second of its clock; a slow machine only spaces them further. The rate
        the server sees (and its 429s) depends on the machine: ``benchmarks/run.py v2_rate``."""
        v2_conn()
        hook = PeakV2Hook()
        summary = hook.load_rows(SOLUTION, PRODUCTS, products(2_400), max_rows=20, max_concurrency=16)
        stats, pacer = v2.stats(), hook.pacer.stats
        assert summary.requests == 120 and summary.rows_accepted == 2_400 and len(v2.rows(PRODUCTS)) == 2_400
        assert pacer.busiest_second <= 45
        # Every call took a permit: the 120 requests, the two schema reads, and each call the server
        # refused with a 429 (none, unless the machine bunched requests up), sent again once.
        refused = stats["rate_limited"]
        assert pacer.granted == stats["requests"] == 122 + refused
        assert pacer.rate_limited == refused and summary.rate_limited <= refused
        assert stats["by_status"] == {"200": 122, **({"429": refused} if refused else {})}

    def test_a_429_slows_the_pacer_and_the_load_completes_once(self, v2, v2_conn):
        """Another client takes most of the tenant's rate (the emulator allows 12 per second): the
        pacer waits for Retry-After, halves its rate, and every row lands exactly once."""
        v2_conn()
        v2.set_rate_limit(12)
        hook = PeakV2Hook()
        summary = hook.load_rows(
            SOLUTION, QUOTE_LINES, quote_lines(600), operation="append", max_rows=20, max_concurrency=8
        )
        assert summary.rate_limited > 0 and summary.rows_accepted == 600
        assert set(quote_counts(v2).values()) == {1}
        pacer = hook.pacer.stats
        assert pacer.decreases >= 1 and pacer.pauses >= 1 and pacer.lowest_rate <= 45 / 2
        # Far fewer refusals than requests: the pacer settles under the limit instead of hammering.
        assert v2.stats()["rate_limited"] < summary.requests


class TestOptions:
    def test_the_connections_limits_are_the_ceiling(self, v2, v2_conn):
        v2_conn(max_rows=100)
        hook = PeakV2Hook()
        with pytest.raises(
            PeakConfigError, match="max_rows=101 is above the peak_v2 connection's max_rows=100"
        ):
            hook.load_rows(SOLUTION, PRODUCTS, products(1), max_rows=101)
        assert hook.load_rows(SOLUTION, PRODUCTS, products(250)).requests == 3

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"operation": "merge"}, "operation must be upsert or append"),
            ({"on_invalid": "ignore"}, "on_invalid must be one of fail, skip, dead_letter"),
            ({"on_invalid": "dead_letter"}, "needs dead_letter_path"),
            ({"dry_run": "yes"}, "dry_run must be true or false"),
            ({"max_concurrency": 0}, "max_concurrency must be positive"),
            ({"max_concurrency": 101}, "max_concurrency must be at most 100"),
            ({"max_rows": "10"}, "max_rows must be an integer"),
            ({"progress_interval": float("inf")}, "progress_interval must be a finite number"),
        ],
    )
    def test_arguments_are_strict(self, options, message):
        with pytest.raises(PeakConfigError, match=message):
            V2LoadOptions(**options)


class TestAcknowledgements:
    def test_counts_that_do_not_add_up_fail_the_load_after_sending_and_are_not_resent(
        self, scripted, set_conn, tmp_path
    ):
        """A 200 whose accepted and failed rows are not the rows sent: the request was applied as
        far as the server said (checkpointed, never re-sent), and the load ends with the error."""
        schema = {"solutionName": "S", "schemaDefinition": [{"tableName": "T", "columns": []}]}

        def answer(seen):
            if seen.path.startswith("/api/v2/schema/solutions"):
                return Answer.json([{"solutionName": "S"}])
            if seen.path.startswith("/api/v2/schema"):
                return Answer.json(schema)
            rows = json.loads(seen.body)["data"]
            return Answer.json({"accepted": len(rows) - (1 if rows[0]["A"] == 10 else 0), "failed": []})

        server = scripted(answer)
        extra = {**FAST_RETRIES}
        set_conn("peak_v2_default", conn_type="peak_v2", host=server.url, password=V2_TOKEN, extra=extra)
        context = make_context(run_id="acks")
        rows = [{"A": i} for i in range(30)]
        with pytest.raises(PeakAcknowledgementError, match="batch 1: sent 10, acknowledged 9"):
            PeakV2Hook().load_rows("S", "T", rows, max_rows=10, context=context)
        assert len([s for s in server.seen if s.method == "POST"]) == 3
        retry = PeakV2Hook().load_rows("S", "T", rows, max_rows=10, context=context)
        assert retry.requests_resumed == 3 and retry.rows_sent == 0
        assert len([s for s in server.seen if s.method == "POST"]) == 3

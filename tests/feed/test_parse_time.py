"""What a DAG author learns when the DAG is parsed: feed names, load types, fetch and destination mistakes."""

from __future__ import annotations

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed import (
    FeedNameError,
    PeakTableDestination,
    RedshiftDestination,
    S3Destination,
    SnowflakeDestination,
    check_feed_name,
)
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator


def noop(output_stream):
    """A fetch that writes nothing."""


@pytest.mark.parametrize(
    ("name", "rule", "message"),
    [
        ("", "empty", "non-empty"),
        (None, "empty", "non-empty"),
        ("orders-daily", "characters", "found '-'"),
        ("orders daily", "characters", "found ' '"),
        ("bestellungen_größe", "characters", "found 'ßö'"),
        ("1orders", "start", "must start with a letter"),
        ("_orders", "start", "must start with a letter"),
        ("orders_", "end", "must not end with an underscore"),
        ("a" * 51, "length", "51 characters long; at most 50"),
    ],
)
def test_feed_name_rules(name, rule, message):
    with pytest.raises(FeedNameError, match=message) as caught:
        check_feed_name(name)
    assert caught.value.rule == rule
    # The same error stops the DAG at parse time.
    with pytest.raises(FeedNameError, match=message):
        PeakRestFeedOperator(
            task_id="t", feed_name=name, fetch_callable=noop, destinations=[S3Destination("b")]
        )


@pytest.mark.parametrize("name", ["o", "Orders", "orders_2026", "a1_b2_c3", "x" * 50, "A__________z"])
def test_feed_names_peak_accepts(name):
    assert check_feed_name(name) == name


def test_truncate_insert_with_a_peak_table_is_refused_with_the_reason():
    with pytest.raises(PeakConfigError, match="can only append rows") as caught:
        PeakRestFeedOperator(
            task_id="t",
            feed_name="orders",
            fetch_callable=noop,
            destinations=[SnowflakeDestination("ORDERS"), PeakTableDestination("orders")],
            load_type="truncate_insert",
        )
    assert "PeakTableDestination" in str(caught.value)


def test_truncate_insert_is_accepted_for_warehouses_and_s3():
    op = PeakRestFeedOperator(
        task_id="t",
        feed_name="orders",
        fetch_callable=noop,
        destinations=[
            SnowflakeDestination("ORDERS"),
            RedshiftDestination("public.orders", s3_bucket="stage"),
            S3Destination("lake"),
        ],
        load_type="truncate_insert",
    )
    assert op.load_type == "truncate_insert"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"load_type": "upsert"}, "load_type must be one of incremental, truncate_insert"),
        ({"fetch_script": "x = 1"}, "exactly one of fetch_callable and fetch_script"),
        ({"fetch_callable": None}, "exactly one of fetch_callable and fetch_script"),
        ({"fetch_callable": "fetch.py"}, "fetch_callable must be callable"),
        ({"destinations": []}, "at least one destination"),
        ({"destinations": ["orders"]}, "must be Destination objects"),
        ({"destinations": [S3Destination("b"), S3Destination("b")]}, "listed twice: s3:s3://b/peak_feeds"),
        ({"state_backend": "redis"}, "state_backend must be one of xcom, variable, state_store"),
        ({"state_backend": "task_state_store"}, "scoped to one task instance"),
        ({"fetch_callable": lambda output_stream: None, "requirements": ["x"]}, "plain function"),
    ],
)
def test_mistakes_fail_at_parse_time(kwargs, message):
    arguments = {
        "task_id": "t",
        "feed_name": "orders",
        "fetch_callable": noop,
        "destinations": [S3Destination("b")],
    }
    arguments.update(kwargs)
    with pytest.raises(PeakConfigError, match=message):
        PeakRestFeedOperator(**arguments)


def test_script_syntax_errors_and_missing_files_fail_at_parse_time(tmp_path):
    with pytest.raises(PeakConfigError, match="syntax error at line 2"):
        PeakRestFeedOperator(
            task_id="t", feed_name="f", fetch_script="x = 1\nfor\n", destinations=[S3Destination("b")]
        )
    with pytest.raises(PeakConfigError, match="no such file"):
        PeakRestFeedOperator(
            task_id="t",
            feed_name="f",
            fetch_script=str(tmp_path / "gone.py"),
            destinations=[S3Destination("b")],
        )


def test_preview_needs_no_destination():
    op = PeakRestFeedOperator(task_id="t", feed_name="orders", fetch_callable=noop, preview=True)
    assert op.destinations == []


def test_destination_arguments_are_checked():
    with pytest.raises(PeakConfigError, match="needs s3_bucket"):
        RedshiftDestination("orders")
    with pytest.raises(PeakConfigError, match=r"'table' or 'schema\.table'"):
        RedshiftDestination("db.public.orders", s3_bucket="b")
    with pytest.raises(PeakConfigError, match="not a valid table name"):
        SnowflakeDestination("db..orders")
    with pytest.raises(PeakConfigError, match="max_concurrency must be positive"):
        PeakTableDestination("orders", max_concurrency=0)
    with pytest.raises(PeakConfigError, match="max_concurrency must be an integer"):
        PeakTableDestination("orders", max_concurrency="8")


def test_feed_runs_one_at_a_time_and_claims_its_peak_requests_in_the_pool():
    from airflow_provider_peak.operators.ingest import PEAK_POOL

    feed = PeakRestFeedOperator(
        task_id="feed",
        feed_name="orders",
        fetch_callable=lambda output_stream: None,
        destinations=[PeakTableDestination("orders", max_concurrency=6), S3Destination("bucket")],
        pool=PEAK_POOL,
    )
    assert feed.max_active_tis_per_dag == 1
    assert feed.pool_slots == 6
    preview = PeakRestFeedOperator(
        task_id="preview", feed_name="orders", fetch_callable=lambda output_stream: None, preview=True
    )
    assert preview.max_active_tis_per_dag is None


def test_the_asset_state_store_is_accepted_from_airflow_3_3_and_refused_at_parse_time_before():
    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_peak.version_compat import HAS_ASSET_STATE_STORE

    with DAG("feeds", schedule=None):
        arguments = {"feed_name": "orders", "fetch_callable": noop, "destinations": [S3Destination("b")]}
        if HAS_ASSET_STATE_STORE:
            feed = PeakRestFeedOperator(task_id="t", state_backend="state_store", **arguments)
            assert [o.name for o in feed.outlets] == ["peak_rest_feed.feeds.t.orders"]
        else:  # Airflow 2.11
            with pytest.raises(
                PeakConfigError, match=r"needs Airflow 3\.3 or later; use 'xcom' or 'variable'"
            ):
                PeakRestFeedOperator(task_id="t", state_backend="state_store", **arguments)

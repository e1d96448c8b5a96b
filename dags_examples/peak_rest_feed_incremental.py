"""
### Orders from a REST API into Peak and S3, incrementally

A Peak REST API connector feed as a DAG. `load_orders` pages through an orders API, starting
after the last order id the previous run loaded (kept in `metadata`), and streams the records to
two destinations at once: the Peak table `rest_orders` (created from the records' types on the
first run) and gzipped JSON Lines files on S3. The new cursor is saved only after both destinations
have committed every record; a failed run saves nothing, so the next run (or the retry) starts
from the same place. `load_orders` runs in the `peak_api` pool (one slot per Peak request it may
have in flight). `preview_orders` first shows the records that run is about to fetch, as JSON
and as a table, and sends nothing.

**Connections**

- `orders_api` (type `peak_rest`, Custom Auth): host = the API's base URL, login / password = the
  client id / secret, extra
  `{"auth_type": "custom", "auth_url": "/_source/auth/token",
  "auth_body": {"client_id": "{login}", "client_secret": "{password}"}, "expires_in_path": "expires_in"}`.
  The Peak emulator serves such an API under `/_source/` (`python -m peak_emulator`).
- `peak_default` (the Peak tenant) and `aws_default` (the bucket in the `s3_bucket` param).

**Reset the feed**: delete the XComs `peak_feed_state` of `load_orders` (Browse > XComs, or
`airflow tasks clear` every run of it); the next run then starts from `{}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.feed import PeakTableDestination, S3Destination, XComStateBackend
from airflow_provider_peak.operators.ingest import PEAK_POOL
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator


def fetch_orders(output_stream: Any, metadata: Any, session: Any, orders_path: str, page_size: int) -> None:
    """Every order after the saved ``after_id``, page by page; the new cursor is saved at the end."""
    after = int(metadata.get("after_id", 0))
    pages = 0
    while True:
        reply = session.get(orders_path, params={"after_id": after, "limit": page_size})
        reply.raise_for_status()
        page = reply.json()
        output_stream.write_many(page["data"])
        pages += 1
        if page["data"]:
            after = page["data"][-1]["order_id"]
        if not page["has_more"]:
            break
    print(f"Read {pages} pages; the last order id is {after}")
    metadata.save({"after_id": after})


FEED = {
    "feed_name": "rest_orders",
    "fetch_callable": fetch_orders,
    "rest_conn_id": "orders_api",
    "op_kwargs": {"orders_path": "{{ params.orders_path }}", "page_size": "{{ params.page_size | int }}"},
}


@dag(
    dag_id="peak_rest_feed_incremental",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "rest-feed", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"orders_path": "/_source/custom/orders", "page_size": 50, "s3_bucket": "peak-feeds-demo"},
    render_template_as_native_obj=True,
    doc_md=__doc__,
)
def peak_rest_feed_incremental() -> None:
    preview = PeakRestFeedOperator(
        task_id="preview_orders",
        preview=True,
        # Start from the cursor load_orders saved, to show what its next run will fetch.
        state_backend=XComStateBackend(task_id="load_orders"),
        retries=0,
        **FEED,
    )
    load = PeakRestFeedOperator(
        task_id="load_orders",
        destinations=[
            PeakTableDestination("rest_orders"),
            S3Destination(bucket="{{ params.s3_bucket }}", prefix="raw/orders"),
        ],
        load_type="incremental",
        pool=PEAK_POOL,
        **FEED,
    )
    preview >> load


peak_rest_feed_incremental()

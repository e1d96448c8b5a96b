"""Fixtures of the REST feed tests: the emulator's orders source and connections to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_peak.emulator import PeakEmulator
    from airflow_provider_peak.emulator.source import SourceApi

SOURCE_USER, SOURCE_PASSWORD = "source-user", "source-password"
CLIENT_ID, CLIENT_SECRET = "source-client", "source-secret"
ORDERS = {
    "none": "/_source/none/orders",
    "basic": "/_source/basic/orders",
    "custom": "/_source/custom/orders",
}


@pytest.fixture
def source(emu: PeakEmulator) -> Iterator[SourceApi]:
    """The emulator's orders API with 60 orders, no tokens, faults or counters."""
    emu.source.reset(orders=60)
    yield emu.source
    emu.source.reset()


@pytest.fixture
def rest_conn(emu: PeakEmulator, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``rest_conn(auth="none"|"basic"|"custom", conn_id=..., **extra)`` -> a ``peak_rest`` connection id."""

    def install(auth: str = "none", conn_id: str = "orders_api", **extra: Any) -> str:
        fields: dict[str, Any] = {
            "conn_type": "peak_rest",
            "host": emu.url,
            "extra": {"auth_type": auth, **extra},
        }
        if auth == "basic":
            fields.update(login=SOURCE_USER, password=SOURCE_PASSWORD)
        elif auth == "custom":
            fields.update(login=CLIENT_ID, password=CLIENT_SECRET)
            fields["extra"] = {
                "auth_type": "custom",
                "auth_url": "/_source/auth/token",
                "auth_body": {"client_id": "{login}", "client_secret": "{password}"},
                "expires_in_path": "expires_in",
                **extra,
            }
        return set_conn(conn_id, **fields)

    return install


def fetch_orders(output_stream: Any, metadata: Any, session: Any, path: str, page_size: int = 25) -> None:
    """A typical incremental fetch: pages after the last saved id, saving the cursor at the end."""
    after = metadata.get("after_id", 0)
    while True:
        reply = session.get(path, params={"after_id": after, "limit": page_size})
        reply.raise_for_status()
        page = reply.json()
        output_stream.write_many(page["data"])
        if page["data"]:
            after = page["data"][-1]["order_id"]
        if not page["has_more"]:
            break
    metadata.save({"after_id": after})

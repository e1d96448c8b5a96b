"""Constants and builders shared by the Peaka tests."""

from __future__ import annotations

from typing import Any

PEAKA_KEY = "peaka-key-5d1e9a7c0b"
PROJECT = "proj-1"
CATALOG = "627249916703408649"
#: Fast back-off so retry tests take milliseconds.
FAST_RETRIES = {"backoff_initial": 0.01, "backoff_max": 0.02, "retry_after_floor": 0.01}


def table(name: str, **schedules: Any) -> dict[str, Any]:
    """A table spec in the ``payment`` schema of the test catalog."""
    return {"catalog_id": CATALOG, "schema_name": "payment", "table_name": name, **schedules}

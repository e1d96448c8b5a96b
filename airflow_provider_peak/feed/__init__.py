"""Peak's REST API connector in Airflow: fetch code, destinations, state and preview.

The public names are imported lazily: importing one destination does not import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Destination": "airflow_provider_peak.feed.destinations.base",
    "RunInfo": "airflow_provider_peak.feed.destinations.base",
    "StagedRecords": "airflow_provider_peak.feed.destinations.base",
    "PeakTableDestination": "airflow_provider_peak.feed.destinations.peak_table",
    "SnowflakeDestination": "airflow_provider_peak.feed.destinations.snowflake",
    "RedshiftDestination": "airflow_provider_peak.feed.destinations.redshift",
    "S3Destination": "airflow_provider_peak.feed.destinations.s3",
    "FeedRuntime": "airflow_provider_peak.feed.fanout",
    "RunResult": "airflow_provider_peak.feed.fanout",
    "Metadata": "airflow_provider_peak.feed.stream",
    "OutputStream": "airflow_provider_peak.feed.stream",
    "FeedAborted": "airflow_provider_peak.errors",
    "FeedKey": "airflow_provider_peak.feed.state",
    "StateBackend": "airflow_provider_peak.feed.state",
    "XComStateBackend": "airflow_provider_peak.feed.state",
    "VariableStateBackend": "airflow_provider_peak.feed.state",
    "AssetStateStoreBackend": "airflow_provider_peak.feed.state",
    "MemoryStateBackend": "airflow_provider_peak.feed.state",
    "FeedNameError": "airflow_provider_peak.feed.names",
    "check_feed_name": "airflow_provider_peak.feed.names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

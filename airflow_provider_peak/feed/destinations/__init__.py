"""Where a feed's records go. Each destination is a small class; see ``base.Destination``."""

from __future__ import annotations

from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords
from airflow_provider_peak.feed.destinations.peak import PeakTableDestination
from airflow_provider_peak.feed.destinations.redshift import RedshiftDestination
from airflow_provider_peak.feed.destinations.s3 import S3Destination
from airflow_provider_peak.feed.destinations.snowflake import SnowflakeDestination

__all__ = [
    "Destination",
    "PeakTableDestination",
    "RedshiftDestination",
    "RunInfo",
    "S3Destination",
    "SnowflakeDestination",
    "StagedRecords",
]

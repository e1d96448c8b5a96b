"""Peak and Peaka operators."""

from __future__ import annotations

from airflow_provider_peak.operators.ingest import PeakIngestOperator
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator
from airflow_provider_peak.operators.tables import PeakCreateTableOperator

__all__ = [
    "PeakCreateTableOperator",
    "PeakIngestOperator",
    "PeakRestFeedOperator",
    "PeakSolutionIngestOperator",
    "PeakaCacheRefreshOperator",
    "PeakaCreateBatchCacheOperator",
]

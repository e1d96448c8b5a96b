"""Peak and Peaka operators.

Imported lazily: a DAG file that uses one operator (and every mapped task that parses it) does not
import the others' modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_peak.operators.ingest import PeakIngestOperator
    from airflow_provider_peak.operators.peak_workflow import PeakRunWorkflowOperator
    from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
    from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
    from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator
    from airflow_provider_peak.operators.tables import PeakCreateTableOperator

_EXPORTS = {
    "PeakCreateTableOperator": "tables",
    "PeakIngestOperator": "ingest",
    "PeakRestFeedOperator": "rest_feed",
    "PeakRunWorkflowOperator": "peak_workflow",
    "PeakSolutionIngestOperator": "solution_ingest",
    "PeakaCacheRefreshOperator": "peaka",
    "PeakaCreateBatchCacheOperator": "peaka",
}

__all__ = [
    "PeakCreateTableOperator",
    "PeakIngestOperator",
    "PeakRestFeedOperator",
    "PeakRunWorkflowOperator",
    "PeakSolutionIngestOperator",
    "PeakaCacheRefreshOperator",
    "PeakaCreateBatchCacheOperator",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The request pacer moved to ``ingest.apis.pacing`` (v2's pacing); this keeps old imports working."""

from __future__ import annotations

from airflow_provider_peak.ingest.apis.pacing import PacerStats, RequestPacer

__all__ = ["PacerStats", "RequestPacer"]

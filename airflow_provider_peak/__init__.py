"""Apache Airflow provider for the Peak platform."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Entry point for Airflow's providers manager; imports nothing heavy."""
    from airflow_provider_peak.provider_info import get_provider_info as _info

    return _info()

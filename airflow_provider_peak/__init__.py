"""Apache Airflow provider for the Peak platform.

Airflow finds the provider through the ``apache_airflow_provider`` entry point,
``airflow_provider_peak.get_provider_info:get_provider_info``.
"""

from __future__ import annotations

__version__ = "0.2.0"

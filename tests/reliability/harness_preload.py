"""What the fork server of ``harness`` imports before it forks any try: Airflow, the provider,
and on Airflow 3 the in-process execution API, built once (building it takes most of a try's time
otherwise; the Task SDK's in-process supervisor is made to reuse it)."""

from __future__ import annotations

import airflow.models
from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401

import airflow_provider_peak.feed.destinations.peak_table
import airflow_provider_peak.feed.destinations.s3
import airflow_provider_peak.hooks.peak
import airflow_provider_peak.hooks.peak_v2
import airflow_provider_peak.operators  # noqa: F401
import tests.reliability.harness  # noqa: F401
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    import airflow.sdk.definitions.dag
    import airflow.sdk.execution_time.supervisor as supervisor
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI

    _API = InProcessExecutionAPI()
    _API.app._cadwyn_initialize()  # the versioned routes, generated once
    supervisor.in_process_api_server = lambda: _API
else:  # Airflow 2.11: a task instance's note refers to the users' table of the FAB auth manager
    import airflow.providers.fab.auth_manager.models  # noqa: F401

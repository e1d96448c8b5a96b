"""The one place that knows which Airflow is installed.

Everything else imports Airflow's task SDK names from here. ``common-compat`` resolves them to
``airflow.sdk`` on Airflow 3 and to the Airflow 2.11 locations otherwise.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import (
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    Variable,
    XComArg,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

try:
    from airflow.providers.common.compat.sdk import mask_secret
except ImportError:  # common-compat releases before mask_secret was added (Airflow 2.11 pins)
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]

try:
    from airflow.sdk import Context
except ImportError:  # Airflow 2.11
    from airflow.utils.context import Context  # type: ignore[no-redef, attr-defined]

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "Variable",
    "XComArg",
    "mask_secret",
]

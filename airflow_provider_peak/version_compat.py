"""The one place that knows which Airflow is installed.

Everything else imports Airflow's task SDK names from here. ``common-compat`` resolves them to
``airflow.sdk`` on Airflow 3 and to the Airflow 2.11 locations otherwise.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    PokeReturnValue,
    Variable,
    XComArg,
    conf,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

# Triggers still live in core on Airflow 3 (the task SDK has no trigger base class).
from airflow.triggers.base import BaseTrigger, TriggerEvent

try:
    from airflow.providers.common.compat.sdk import mask_secret
except ImportError:  # common-compat releases before mask_secret was added (Airflow 2.11 pins)
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]

try:
    from airflow.sdk import Context
except ImportError:  # Airflow 2.11
    from airflow.utils.context import Context  # type: ignore[no-redef, attr-defined]


def task_logger(operator: Any) -> logging.Logger:
    """An operator's task logger. On Airflow 3 it is the task SDK's structlog-backed logger, which
    offers the ``logging.Logger`` methods the provider calls (``info``, ``warning``, ``error``)."""
    return cast("logging.Logger", operator.log)


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "PokeReturnValue",
    "TriggerEvent",
    "Variable",
    "XComArg",
    "conf",
    "mask_secret",
    "task_logger",
]

"""The one place that knows which Airflow is installed.

Everything else imports Airflow's task SDK names from here. ``common-compat`` resolves them to
``airflow.sdk`` on Airflow 3 and to the Airflow 2.11 locations otherwise; the few names it does
not cover are branched on below. (``exceptions.py`` imports ``airflow.exceptions.AirflowException``
directly: it is the same class on every supported version, and the errors module stays light.)
"""

from __future__ import annotations

import logging
from typing import Any, cast

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    Asset,
    AssetAlias,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    ObjectStoragePath,
    PokeReturnValue,
    Variable,
    XCom,
    XComArg,
    conf,
)
from airflow.providers.common.compat.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_3_PLUS,
)

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

try:  # fails a task without its retries
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]


#: Airflow 3.3 added the asset state store (a run-independent key-value store per asset).
HAS_ASSET_STATE_STORE = AIRFLOW_V_3_3_PLUS

#: Airflow 3.1 shows plugins' pages (``external_views``) in its UI, served by their ``fastapi_apps``;
#: on older Airflow the Peak page is absent.
HAS_PLUGIN_PAGES = AIRFLOW_V_3_1_PLUS

#: Airflow 3 calls an extra link's ``get_link`` once, in the task's own process as the task ends,
#: and stores what it returns under the link's ``xcom_key`` for the UI; Airflow 2.11's webserver
#: calls it for every page view.
LINKS_RESOLVED_BY_THE_TASK = AIRFLOW_V_3_0_PLUS


def task_logger(operator: Any) -> logging.Logger:
    """An operator's task logger. On Airflow 3 it is the task SDK's structlog-backed logger, which
    offers the ``logging.Logger`` methods the provider calls (``info``, ``warning``, ``error``)."""
    return cast("logging.Logger", operator.log)


async def aget_connection(conn_id: str) -> Any:
    """A connection without blocking the event loop: ``aget_connection`` on Airflow 3, a thread on 2.11."""
    if AIRFLOW_V_3_0_PLUS:
        return await BaseHook.aget_connection(conn_id)  # type: ignore[attr-defined]
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


def openlineage_facets() -> Any:
    """OpenLineage's datasets and facets as the OpenLineage provider offers them on this Airflow;
    ``ImportError`` when the (optional) provider is not installed."""
    from airflow.providers.common.compat.openlineage import facet

    return facet


def dag_bag(dag_folder: str) -> Any:
    """A ``DagBag`` of ``dag_folder`` (it moved to ``airflow.dag_processing`` in Airflow 3)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=dag_folder)


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "HAS_ASSET_STATE_STORE",
    "HAS_PLUGIN_PAGES",
    "LINKS_RESOLVED_BY_THE_TASK",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "TriggerEvent",
    "Variable",
    "XCom",
    "XComArg",
    "aget_connection",
    "conf",
    "dag_bag",
    "mask_secret",
    "openlineage_facets",
    "task_logger",
]

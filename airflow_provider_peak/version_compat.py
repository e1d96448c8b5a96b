"""The one place that knows which Airflow is installed.

Everything else imports Airflow's task SDK names from here. ``common-compat`` resolves them to
``airflow.sdk`` on Airflow 3 and to the Airflow 2.11 locations otherwise; the few names it does
not cover are branched on below. (``exceptions.py`` imports ``airflow.exceptions.AirflowException``
directly: it is the same class on every supported version, and the errors module stays light.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
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
    AIRFLOW_V_3_2_PLUS,
    AIRFLOW_V_3_3_PLUS,
)

# Triggers still live in core on Airflow 3 (the task SDK has no trigger base class).
from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow_provider_peak.utils.task_run_store import TaskStateStore, VariableStore

if AIRFLOW_V_3_0_PLUS:  # event-driven scheduling (AssetWatcher) arrived in Airflow 3.0
    from airflow.triggers.base import BaseEventTrigger
else:  # Airflow 2.11: an event trigger can be defined, but no AssetWatcher can use it
    BaseEventTrigger = BaseTrigger  # type: ignore[misc, assignment]

#: Whether a trigger can schedule DAGs through an ``AssetWatcher`` (Airflow 3.0+).
HAS_EVENT_TRIGGERS = AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_3_PLUS:  # the task state store, kept by Airflow across a task run's tries
    from airflow.sdk import ResumableJobMixin
else:  # the same protocol over the task run's Airflow Variables (``task_run_store``)
    from airflow_provider_peak.utils.task_run import (  # type: ignore[assignment]
        RecordResumableJobMixin as ResumableJobMixin,
    )

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
#: Airflow 3.3 added the task state store (``context["task_state_store"]``): keys of one task
#: instance (its DAG, run, task and map index, shared by every try), kept by Airflow's API server.
HAS_TASK_STATE_STORE = AIRFLOW_V_3_3_PLUS

log = logging.getLogger(__name__)

#: Airflow 3.2 draws connection forms from the provider info's ``conn-fields``, in collapsible
#: sections; older Airflow from the hooks' ``get_connection_form_widgets``, one flat list (where the
#: ``peak_v2`` wire names are extras only: see ``ui.forms``).
CONNECTION_FORM_SECTIONS = AIRFLOW_V_3_2_PLUS

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


def task_state_cleared_on_success() -> bool:
    """Whether Airflow's API server clears a task instance's task state store in the same
    transaction that records its success (``[state_store] clear_on_success``, Airflow 3.3+)."""
    return HAS_TASK_STATE_STORE and conf.getboolean("state_store", "clear_on_success", fallback=False)


class _SuccessListener:
    """Runs callbacks once Airflow has recorded a task instance's success: an Airflow listener's
    ``on_task_instance_success``, which the task's own process calls after the state is stored
    (Airflow 3: after the supervisor's ``succeed`` call to the API server returned; 2.11: after the
    task instance was committed as SUCCESS). A task's ``on_success_callback`` runs *before* that
    commit on 2.11, so it cannot be used: a process killed between the two would lose what the
    callback removed while the task is retried."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str, int], dict[str, Callable[[], None]]] = {}
        self._registered = False

    def add(self, key: tuple[str, str, str, int], name: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._pending.setdefault(key, {})[name] = callback
            if self._registered:
                return
            self._registered = True
        _listener_manager().add_listener(self)

    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        map_index = getattr(task_instance, "map_index", -1)
        key = (
            task_instance.dag_id,
            task_instance.task_id,
            task_instance.run_id,
            -1 if map_index is None else int(map_index),
        )
        with self._lock:
            callbacks = self._pending.pop(key, {})
        for name, callback in callbacks.items():
            try:
                callback()
            except Exception:
                log.warning(
                    "After the success of %s: %s failed", ".".join(map(str, key)), name, exc_info=True
                )


def _listener_manager() -> Any:
    try:
        from airflow.providers.common.compat.sdk import get_listener_manager
    except ImportError:  # common-compat releases before it was added
        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk.listener import get_listener_manager  # type: ignore[no-redef]
        else:
            from airflow.listeners.listener import get_listener_manager  # type: ignore[no-redef, assignment]
    return get_listener_manager()


def _hookimpl() -> Any:
    try:
        from airflow.providers.common.compat.sdk import hookimpl
    except ImportError:  # common-compat releases before it was added
        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk._shared.listeners import hookimpl  # type: ignore[no-redef]
        else:
            from airflow.listeners import hookimpl  # type: ignore[no-redef]
    return hookimpl


_SuccessListener.on_task_instance_success = _hookimpl()(_SuccessListener.on_task_instance_success)  # type: ignore[method-assign]
_SUCCESS = _SuccessListener()


def after_success(key: tuple[str, str, str, int], name: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` in this process once Airflow has recorded the success of the task instance
    ``key`` (``(dag_id, task_id, run_id, map_index)``); never if the try fails or the process dies
    first. A later ``callback`` under the same ``name`` replaces an earlier one."""
    _SUCCESS.add(key, name, callback)


def task_run_store(context: Mapping[str, Any], *, namespace: str = "peak.") -> TaskStateStore | VariableStore:
    """Where the running task run keeps what survives its retries (``get``, ``set``, ``delete``;
    ``utils.task_run_store``): Airflow's task state store of the task instance, under keys
    ``<namespace><key>``, else Airflow Variables (Airflow 2.11 to 3.2).

    The branch is on the context, not the version number: Airflow puts the store in every task's
    context from 3.3 on, and a context made outside Airflow (a hook called with one) may have one
    or not on any version."""
    from airflow_provider_peak.utils.task_run import TaskRun
    from airflow_provider_peak.utils.task_run_store import TaskStateStore, VariableStore

    run = TaskRun.from_context(context)
    accessor = context.get("task_state_store")
    if accessor is not None:
        return TaskStateStore(accessor, run, namespace)
    return VariableStore(run)


def openlineage_facets() -> Any:
    """OpenLineage's datasets and facets as the OpenLineage provider offers them on this Airflow;
    ``ImportError`` when the (optional) provider is not installed."""
    from airflow.providers.common.compat.openlineage import facet

    return facet


def register_asset_alias(name: str) -> None:
    """Make sure the metadata database knows the asset alias ``name`` before a task emits through it.

    Airflow writes a DAG's outlet aliases to its database when it parses the DAG for the
    scheduler. Airflow 2.11's ``dag.test()`` and ``airflow dags test`` run a DAG without writing it
    there, and then fail the task that emitted through an alias (``FlushError: Can't flush None
    value found in collection DatasetModel.aliases``: Airflow links the event's dataset to an alias
    row that does not exist). On 2.11 a task's process can write to the metadata database, so the
    alias row is created here, as the DAG processor would have (a task that runs after the scheduler
    parsed its DAG finds it there already). Airflow 3 writes the DAG before ``dag.test()`` runs it,
    and its tasks have no database access: nothing to do.
    """
    if AIRFLOW_V_3_0_PLUS:
        return
    from airflow.models.dataset import DatasetAliasModel  # type: ignore[attr-defined]
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    try:
        with create_session() as session:
            if session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name)) is None:
                session.add(DatasetAliasModel(name=name))
    except IntegrityError:  # another task (a mapped one, say) registered it at the same moment
        pass
    except Exception as exc:  # no database access (2.11's internal API mode): the scheduler's parse did it
        logging.getLogger(__name__).warning("Could not register the asset alias %r: %s", name, exc)


def dag_bag(dag_folder: str) -> Any:
    """A ``DagBag`` of ``dag_folder`` (it moved to ``airflow.dag_processing`` in Airflow 3)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=dag_folder)


def dag_test(dag: Any, **kwargs: Any) -> Any:
    """``dag.test(**kwargs)`` with Airflow 3's argument names on every version: Airflow 2.11 calls
    the logical date ``execution_date`` and has no ``run_after`` (a run starts when it is created)."""
    if not AIRFLOW_V_3_0_PLUS:
        if "logical_date" in kwargs:
            kwargs["execution_date"] = kwargs.pop("logical_date")
        kwargs.pop("run_after", None)
        # Running a date again clears its earlier run, which loads the run's notes, whose user
        # column refers to the FAB auth manager's user table: its model must be loaded (the
        # ``airflow`` CLI loads it; a Python process calling ``dag.test()`` does not).
        with suppress(ImportError):
            import airflow.providers.fab.auth_manager.models  # noqa: F401
    return dag.test(**kwargs)


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "HAS_ASSET_STATE_STORE",
    "HAS_EVENT_TRIGGERS",
    "HAS_PLUGIN_PAGES",
    "HAS_TASK_STATE_STORE",
    "LINKS_RESOLVED_BY_THE_TASK",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "Asset",
    "AssetAlias",
    "BaseEventTrigger",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "ResumableJobMixin",
    "TriggerEvent",
    "Variable",
    "XCom",
    "XComArg",
    "after_success",
    "aget_connection",
    "conf",
    "dag_bag",
    "dag_test",
    "mask_secret",
    "openlineage_facets",
    "register_asset_alias",
    "task_logger",
    "task_run_store",
    "task_state_cleared_on_success",
]

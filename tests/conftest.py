"""Test-wide settings: an isolated AIRFLOW_HOME and dags folder, set before anything imports Airflow."""

from __future__ import annotations

import logging
import os
import sys
import tempfile

import pytest

_home = tempfile.mkdtemp(prefix="peak-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_home, "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

pytest_plugins = ["tests.fixtures"]


def _entry_points_of_installed_distributions() -> None:
    """Have Airflow list entry points (and so plugins) from the installed distributions only.

    The editable install's build leaves a copy of the provider's metadata in the checkout
    (``airflow_provider_peak.egg-info``, remade by every build), and the checkout is on
    ``sys.path`` while the tests run: Python would see the provider twice, and Airflow would load
    its plugin twice and warn. Airflow reads entry points once per process (cached; importing
    Airflow reads them): read them again now, without the checkout on the path.
    """
    try:
        from airflow._shared.module_loading import _get_grouped_entry_points
    except ImportError:  # Airflow 2.11
        try:
            from airflow.utils.entry_points import _get_grouped_entry_points  # type: ignore[no-redef]
        except ImportError:
            return
    checkout = {"", os.getcwd(), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    saved = sys.path[:]
    sys.path[:] = [entry for entry in saved if os.path.abspath(entry) not in checkout and entry]
    try:
        _get_grouped_entry_points.cache_clear()
        _get_grouped_entry_points()
    finally:
        sys.path[:] = saved


_entry_points_of_installed_distributions()


@pytest.fixture(autouse=True)
def _live_log_streams() -> None:
    """Point log handlers left holding a closed stream at the live one.

    Airflow configures its console handlers when a DAG first runs, bound to the stream pytest had
    installed for that test; pytest closes it afterwards, and later logging would fail.
    """
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stderr


@pytest.fixture(autouse=True)
def _fresh_task_state() -> None:
    """Every test starts with no task state (``make_context``'s stores are shared by task instance)."""
    from tests.fixtures import TaskStateStoreStub

    TaskStateStoreStub.reset()

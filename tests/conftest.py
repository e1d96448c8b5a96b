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

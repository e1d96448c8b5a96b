"""Test-wide settings: an isolated AIRFLOW_HOME and dags folder, set before anything imports Airflow."""

from __future__ import annotations

import os
import tempfile

_home = tempfile.mkdtemp(prefix="peak-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_home, "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

pytest_plugins = ["tests.peak_fixtures", "tests.airflow_dags"]

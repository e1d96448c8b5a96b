"""Fixtures that run real DAGs with ``dag.test()``: a migrated SQLite metadata DB and a dags folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "dags_examples"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session, in the test AIRFLOW_HOME."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[..., Any]:
    """``run_dag(dag_id, source)`` copies a DAG file into the dags folder and runs it with ``dag.test()``.

    ``source`` is an example file name from ``dags_examples/`` or the text of a DAG file.
    """
    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

    def run(dag_id: str, source: str, **test_kwargs: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        target = dags_folder / f"{dag_id}.py"
        if source.endswith(".py") and "\n" not in source:
            shutil.copy(EXAMPLES / source, target)
        else:
            target.write_text(source)
        bag = DagBag(str(target))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test(**test_kwargs)

    return run

"""Fixtures of the kill tests: tries of a real task instance (``harness``), one fork server per
test process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import Tries, fork_server


@pytest.fixture(scope="session")
def try_server(airflow_db: Path) -> Iterator[Any]:
    with fork_server() as server:
        yield server


@pytest.fixture
def task_tries(try_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., Tries]:
    """``task_tries(dag_id, source, task_id)``: the DAG file written to the dags folder, its run
    created (``run_id`` ``kill-test``), and its tries ready to start."""
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

    def make(dag_id: str, source: str, task_id: str) -> Tries:
        path = dags / f"{dag_id}.py"
        path.write_text(source)
        logs = tmp_path / "tries"
        logs.mkdir(exist_ok=True)
        tries = Tries(try_server, path, dag_id, task_id, "kill-test", logs)
        tries.create_run()
        request.node.user_properties.append(("tries", str(logs)))
        return tries

    return make

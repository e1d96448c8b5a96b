"""Tries of one task instance, run the way Airflow's scheduler and workers run them, to kill.

``Tries`` drives one task of one DAG file through a DAG run with a fixed ``run_id``:

* ``create_run()`` does the scheduler's part once: the DAG parsed and serialized to the metadata
  database, its DAG run created with its task instances.
* ``start(env)`` starts one try as a new process: the scheduler's part first (a try left running
  is one whose worker died: it is marked ``up_for_retry`` as the scheduler does when its heartbeat
  stops; the try is recorded and ``try_number`` goes up by one), then the worker's: on Airflow 3
  the task runs through the Task SDK's supervisor and execution API (in process, as
  ``dag.test()`` runs tasks: startup, ``execute``, XCom, the state sent to the API server,
  listeners), on Airflow 2.11 through ``TaskInstance._run_raw_task`` as ``airflow tasks run``
  does. ``env`` is the try's environment (its connections, its ``[peak] work_dir``: another
  worker's has none of the first try's files).
* A try can be killed with ``SIGKILL`` at a point the test chooses: DAG code calls
  ``reached(name)``, which tells the test and waits to be killed; or the test kills it when a
  loopback server it controls holds the replies it wanted to hold (``gate.Gate``).

Each try is a process forked from a fork server that imported Airflow once (Airflow's own
supervisor forks the task process the same way); on Airflow 3 the server also builds the
in-process execution API once, which otherwise takes most of a try's time. A try writes its log
to ``<log_dir>/try-<n>.log`` and its outcome (state, try number, XCom return value) beside it.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: The logical date and start of every DAG run the harness creates.
WHEN = datetime(2026, 1, 2, tzinfo=timezone.utc)

# The fork server's preloaded modules: everything a try imports before it runs anything.
PRELOAD = ["tests.reliability.harness_preload"]

_EVENTS: Any = None  # in a try: the connection ``reached`` writes to


def reached(name: str) -> None:
    """In a try: tell the test that the task reached ``name``, then wait to be killed."""
    if _EVENTS is None:
        return
    _EVENTS.send(name)
    while True:
        time.sleep(3600)


# ----------------------------------------------------------------------------- in the try's process
def _airflow_3() -> bool:
    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

    return bool(AIRFLOW_V_3_0_PLUS)


def _fresh_orm() -> None:
    """A forked process opens its own database connections."""
    from airflow import settings

    settings.dispose_orm()
    settings.configure_orm()


def _create_run(dag_file: str, dag_id: str, run_id: str) -> None:
    from airflow_provider_peak.version_compat import dag_bag

    _fresh_orm()
    dag = dag_bag(dag_file).get_dag(dag_id)
    if _airflow_3():
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
        from airflow.models.dagrun import get_or_create_dagrun
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.serialization.serialized_objects import DagSerialization
        from airflow.utils.session import create_session
        from airflow.utils.types import DagRunTriggeredByType

        with create_session() as session:
            manager = DagBundlesManager()
            manager.sync_bundles_to_db(session=session)
        bundle = manager.get_bundle("dags-folder")
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=dag_file, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)
        scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=WHEN)
        with create_session() as session:
            get_or_create_dagrun(
                dag=scheduler_dag,
                run_id=run_id,
                logical_date=WHEN,
                data_interval=interval,
                run_after=WHEN,
                conf=None,
                triggered_by=DagRunTriggeredByType.TEST,
                triggering_user_name="reliability tests",
                start_date=WHEN,
                session=session,
            )
        return
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    dag.sync_to_db()
    with create_session() as session:
        dag.create_dagrun(
            run_id=run_id,
            execution_date=WHEN,
            data_interval=(WHEN, WHEN),
            state=DagRunState.RUNNING,
            run_type=DagRunType.MANUAL,
            session=session,
        )


def _next_try(dag_id: str, task_id: str, run_id: str) -> None:
    """The scheduler: a try left running died with its worker; the next one is queued."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)
            .one()
        )
        if ti.state == TaskInstanceState.RUNNING:  # its heartbeat stopped: the try failed
            ti.state = TaskInstanceState.UP_FOR_RETRY
        if ti.try_number and hasattr(ti, "prepare_db_for_next_try"):  # Airflow 3: a new id per try
            ti.prepare_db_for_next_try(session)
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED if _airflow_3() else TaskInstanceState.QUEUED
        session.merge(ti)


def _run(dag_file: str, dag_id: str, task_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    from airflow_provider_peak.version_compat import dag_bag

    task = dag_bag(dag_file).get_dag(dag_id).get_task(task_id)
    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)
            .one()
        )
        if _airflow_3():
            from airflow.sdk.definitions.dag import _run_task

            _run_task(ti=ti, task=task)
        else:
            ti.task = task
            try:
                ti._run_raw_task(session=session)
            except BaseException as exc:  # the task failed: its state is recorded
                print(f"the try failed: {type(exc).__name__}: {exc}", flush=True)
    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)
            .one()
        )
        outcome = {"state": str(ti.state.value if hasattr(ti.state, "value") else ti.state)}
        outcome["try_number"] = ti.try_number
    outcome["xcom"] = _return_value(dag_id, task_id, run_id)
    return outcome


def _return_value(dag_id: str, task_id: str, run_id: str) -> Any:
    if _airflow_3():
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(
                XComModel.get_many(run_id=run_id, key="return_value", dag_ids=dag_id, task_ids=task_id)
            ).first()
            return None if row is None else XComModel.deserialize_value(row)
    from airflow.models.xcom import XCom

    return XCom.get_one(run_id=run_id, key="return_value", dag_id=dag_id, task_id=task_id)


def _child(job: str, args: tuple[Any, ...], env: Mapping[str, str], log: str, events: Any) -> None:
    global _EVENTS
    _EVENTS = events
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.clear()
    os.environ.update(env)
    _fresh_orm()
    if job == "create":
        _create_run(*args)
        return
    dag_file, dag_id, task_id, run_id, result = args
    _next_try(dag_id, task_id, run_id)
    outcome = _run(dag_file, dag_id, task_id, run_id)
    Path(result).write_text(json.dumps(outcome, default=str))


# ----------------------------------------------------------------------------- in the test
@dataclass
class Try:
    """One try in its own process."""

    number: int
    process: Any
    events: Any
    log: Path
    result: Path
    started: float = field(default_factory=time.monotonic)

    def wait_for(self, name: str, timeout: float = 120) -> None:
        """Block until the task ``reached(name)`` (``AssertionError`` if it ended or never did)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.events.poll(0.2):
                got = self.events.recv()
                assert got == name, f"try {self.number} reached {got!r}, not {name!r}"
                return
            if not self.process.is_alive():
                break
        raise AssertionError(f"try {self.number} never reached {name!r}:\n{self.tail()}")

    def kill(self) -> None:
        """``SIGKILL``: the worker dies at once, nothing of the task runs after it."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)

    def wait(self, timeout: float = 300) -> dict[str, Any]:
        """The try's outcome once its process ended: ``state``, ``try_number``, ``xcom``."""
        self.process.join(timeout)
        assert not self.process.is_alive(), f"try {self.number} still running:\n{self.tail()}"
        self.seconds = time.monotonic() - self.started
        assert self.result.exists(), f"try {self.number} ended without an outcome:\n{self.tail()}"
        return json.loads(self.result.read_text())

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Tries:
    """The tries of task ``task_id`` of ``dag_id`` (its file ``dag_file``) in run ``run_id``."""

    def __init__(self, server: Any, dag_file: Path, dag_id: str, task_id: str, run_id: str, log_dir: Path):
        self.server, self.dag_file, self.dag_id, self.task_id, self.run_id = (
            server,
            dag_file,
            dag_id,
            task_id,
            run_id,
        )
        self.log_dir = log_dir
        self.tries: list[Try] = []

    def create_run(self) -> None:
        log = self.log_dir / "create-run.log"
        process = self.server.Process(
            target=_child,
            args=("create", (str(self.dag_file), self.dag_id, self.run_id), dict(os.environ), str(log), None),
        )
        process.start()
        process.join(300)
        assert process.exitcode == 0, log.read_text(errors="replace")[-5000:]

    def start(self, env: Mapping[str, str]) -> Try:
        number = len(self.tries) + 1
        log = self.log_dir / f"try-{number}.log"
        result = self.log_dir / f"try-{number}.json"
        theirs, ours = self.server.Pipe(duplex=False)
        args = (str(self.dag_file), self.dag_id, self.task_id, self.run_id, str(result))
        process = self.server.Process(target=_child, args=("try", args, dict(env), str(log), ours))
        process.start()
        ours.close()
        attempt = Try(number, process, theirs, log, result)
        self.tries.append(attempt)
        return attempt


@contextmanager
def fork_server() -> Iterator[Any]:
    """A ``multiprocessing`` context whose processes fork from a server that imported Airflow once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    yield context


def worker_env(folder: Path, worker: str, **extra: str) -> dict[str, str]:
    """The environment of a try on ``worker``: the test process's (its Airflow home and database,
    its connections) with the worker's own private folder (``[peak] work_dir``) and ``extra``."""
    return {
        **os.environ,
        "AIRFLOW__PEAK__WORK_DIR": str(folder / f"worker-{worker}"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        **extra,
    }


__all__ = ["Tries", "Try", "fork_server", "reached", "worker_env"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("import this module from the reliability tests")

"""Where a feed's ``metadata`` lives between runs: pluggable state backends.

Every backend stores the same envelope, ``{"feed_name", "state", "committed_at", "run_id",
"map_index"}``, and is asked for it once at the start of a run (``load``) and once after every
destination has committed (``save``). A failed run never calls ``save``.

* ``xcom`` (default): an XCom ``peak_feed_state`` of this task in the run that committed it. The
  newest envelope of this task (by ``committed_at``) in this run or any earlier run is used, so
  manual runs without a logical date, retries and later runs all find it. Clearing a run deletes
  its XComs: that run then starts again from the state it started from the first time.
* ``variable``: the Airflow Variable ``peak_feed_state__<dag_id>__<task_id>__<feed_name>``; one
  global cursor, untouched by clearing runs.
* ``state_store`` (Airflow 3.3+): the asset state store of the asset
  ``peak_rest_feed.<dag_id>.<task_id>.<feed_name>``, which the operator adds to its outlets. (The
  *task* state store is scoped to one task instance and cleared on success, so it cannot carry a
  cursor to the next run; the asset state store is the run-independent one.)
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.utils.task_run import TaskRun

XCOM_KEY = "peak_feed_state"
VARIABLE_PREFIX = "peak_feed_state"
ASSET_PREFIX = "peak_rest_feed"
STATE_KEY = "state"
_MISSING = object()


@dataclass(frozen=True)
class FeedKey:
    """Identifies one feed's state: the task that runs it and its feed name."""

    dag_id: str
    task_id: str
    feed_name: str
    map_index: int = -1

    @classmethod
    def of(cls, run: TaskRun, feed_name: str) -> FeedKey:
        """The key of ``feed_name`` run by ``run``'s task (every run and try of it shares the state)."""
        return cls(run.dag_id, run.task_id, feed_name, run.map_index)


def envelope(key: FeedKey, state: Any, run: TaskRun) -> dict[str, Any]:
    """The stored form of a state: the value plus when and by which run it was committed."""
    return {
        "feed_name": key.feed_name,
        "state": state,
        "committed_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "run_id": run.run_id,
        "map_index": key.map_index,
    }


class StateBackend(ABC):
    """Loads and saves a feed's state. Subclass it to keep state elsewhere (a database table, S3...).

    ``load`` returns the envelope saved last (or ``None``); ``save`` stores a new one. Both run
    inside the task, with its context.
    """

    name = "custom"

    @abstractmethod
    def load(self, key: FeedKey, context: Any) -> dict[str, Any] | None:
        """The newest envelope saved for ``key``, or ``None`` before the first successful run."""

    @abstractmethod
    def save(self, key: FeedKey, value: dict[str, Any], context: Any) -> None:
        """Store ``value`` (an envelope) as the newest state of ``key``."""

    def location(self, key: FeedKey) -> str:
        """Where the state of ``key`` lives, in words (logged at the start of each run)."""
        return f"{type(self).__name__} for {key}"


def newest(candidates: Any, key: FeedKey) -> dict[str, Any] | None:
    """The envelope of ``key`` with the latest ``committed_at`` among ``candidates`` (one or a list)."""
    if candidates is None:
        return None
    items = candidates if isinstance(candidates, list) else [candidates]
    mine = [
        c
        for c in items
        if isinstance(c, dict)
        and c.get("feed_name") == key.feed_name
        and c.get("map_index", -1) == key.map_index
        and "committed_at" in c
    ]
    return max(mine, key=lambda c: str(c["committed_at"]), default=None)


class XComStateBackend(StateBackend):
    """State as this task's XCom ``peak_feed_state``, found again in any later run of the task.

    :param task_id: read the state another task of the DAG saved (with the same feed name), e.g. so
        that a preview task shows what that feed's next run will fetch. Saving always writes this
        task's own XCom, so a feed task should keep the default.
    """

    name = "xcom"

    def __init__(self, task_id: str | None = None) -> None:
        self.task_id = task_id

    def load(self, key: FeedKey, context: Any) -> dict[str, Any] | None:
        ti = context["ti"]
        task_id = self.task_id or key.task_id
        kwargs: dict[str, Any] = {"task_ids": task_id, "key": XCOM_KEY, "include_prior_dates": True}
        if key.map_index >= 0:
            kwargs["map_indexes"] = key.map_index
        # On Airflow 3 this returns every run's value (a list when there are several); on 2.11 the
        # one with the latest logical date. Either way the newest commit wins.
        return newest(ti.xcom_pull(**kwargs), key)

    def save(self, key: FeedKey, value: dict[str, Any], context: Any) -> None:
        context["ti"].xcom_push(key=XCOM_KEY, value=value)

    def location(self, key: FeedKey) -> str:
        task_id = self.task_id or key.task_id
        return f"XCom {XCOM_KEY!r} of task {key.dag_id}.{task_id} (newest run that committed)"


class VariableStateBackend(StateBackend):
    """State as one Airflow Variable per feed (JSON text)."""

    name = "variable"

    @staticmethod
    def variable_key(key: FeedKey) -> str:
        suffix = f"__{key.map_index}" if key.map_index >= 0 else ""
        return f"{VARIABLE_PREFIX}__{key.dag_id}__{key.task_id}__{key.feed_name}{suffix}"

    def load(self, key: FeedKey, context: Any) -> dict[str, Any] | None:
        from airflow_provider_peak.version_compat import Variable

        # The default goes positionally: it is ``default`` in the task SDK and ``default_var`` on 2.11.
        raw = Variable.get(self.variable_key(key), _MISSING)
        if raw is _MISSING or raw is None:
            return None
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise PeakConfigError(
                f"Variable {self.variable_key(key)!r} does not hold JSON; delete it to reset the feed"
            ) from None
        return value if isinstance(value, dict) else None

    def save(self, key: FeedKey, value: dict[str, Any], context: Any) -> None:
        from airflow_provider_peak.version_compat import Variable

        Variable.set(self.variable_key(key), json.dumps(value))

    def location(self, key: FeedKey) -> str:
        return f"Variable {self.variable_key(key)!r}"


class AssetStateStoreBackend(StateBackend):
    """State in Airflow 3.3's asset state store, on an asset the operator adds to its outlets."""

    name = "state_store"

    @staticmethod
    def asset_name(key: FeedKey) -> str:
        return f"{ASSET_PREFIX}.{key.dag_id}.{key.task_id}.{key.feed_name}"

    @staticmethod
    def state_key(key: FeedKey) -> str:
        return STATE_KEY if key.map_index < 0 else f"{STATE_KEY}_{key.map_index}"

    def _accessor(self, key: FeedKey, context: Any) -> Any:
        from airflow_provider_peak.version_compat import Asset

        stores = context.get("asset_state_store")
        if stores is None:
            raise PeakConfigError(
                "state_backend='state_store' needs Airflow 3.3+ and the feed asset among the task's outlets"
            )
        return stores[Asset(name=self.asset_name(key))]

    def load(self, key: FeedKey, context: Any) -> dict[str, Any] | None:
        value = self._accessor(key, context).get(self.state_key(key))
        return value if isinstance(value, dict) else None

    def save(self, key: FeedKey, value: dict[str, Any], context: Any) -> None:
        self._accessor(key, context).set(self.state_key(key), value)

    def location(self, key: FeedKey) -> str:
        return f"asset state store of asset {self.asset_name(key)!r}, key {self.state_key(key)!r}"


class MemoryStateBackend(StateBackend):
    """Keeps state in a dict (tests, previews, and code that runs feeds outside Airflow)."""

    name = "memory"

    def __init__(self) -> None:
        self.values: dict[FeedKey, dict[str, Any]] = {}

    def load(self, key: FeedKey, context: Any) -> dict[str, Any] | None:
        return self.values.get(key)

    def save(self, key: FeedKey, value: dict[str, Any], context: Any) -> None:
        self.values[key] = value

    def location(self, key: FeedKey) -> str:
        return "memory (lost when the process ends)"


BACKENDS: dict[str, type[StateBackend]] = {
    "xcom": XComStateBackend,
    "variable": VariableStateBackend,
    "state_store": AssetStateStoreBackend,
}


def resolve_backend(spec: str | StateBackend) -> StateBackend:
    """A backend from its name or an instance (checked when the DAG is parsed)."""
    if isinstance(spec, StateBackend):
        return spec
    if spec == "task_state_store":
        raise PeakConfigError(
            "state_backend='task_state_store' cannot hold a feed cursor: Airflow's task state store "
            "is scoped to one task instance (one run) and cleared on success. Use 'state_store' (the "
            "asset state store, Airflow 3.3+), 'variable' or 'xcom'."
        )
    if spec not in BACKENDS:
        raise PeakConfigError(
            f"state_backend must be one of {', '.join(BACKENDS)} or a StateBackend instance, got {spec!r}"
        )
    if spec == "state_store":
        from airflow_provider_peak.version_compat import HAS_ASSET_STATE_STORE

        if not HAS_ASSET_STATE_STORE:
            raise PeakConfigError(
                "state_backend='state_store' needs Airflow 3.3 or later; use 'xcom' or 'variable'"
            )
    return BACKENDS[spec]()

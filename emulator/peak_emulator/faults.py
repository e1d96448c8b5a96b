"""Fault injection: rules that make the emulator misbehave on purpose, for tests and the soak."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("status", "reset", "drop_after_apply", "status_after_apply", "latency")
ROUTES = (
    *("ingest", "create", "get", "list", "token", "v2_solutions", "v2_schema", "v2_ingest"),
    *("workflow_describe", "workflow_execute", "workflow_get", "workflow_list", "workflow_logs"),
    *("peaka_trigger", "any"),
)


@dataclass
class Fault:
    """Fires on the next ``count`` matching requests (``None``: until cleared), or on a ``rate``
    fraction of them with a seeded generator.

    :param action: ``status`` (reply ``status``; nothing applied), ``reset`` (close the socket with
        no reply; nothing applied), ``drop_after_apply`` (apply an ingest or start a workflow
        run, then close with no reply: the "reply lost" case), ``status_after_apply`` (start a
        workflow run or a Peaka cache run, then reply ``status``: a gateway's 5xx after the server
        acted), ``latency`` (sleep ``seconds``, then serve normally).
    """

    action: str
    count: int | None = 1
    status: int = 503
    retry_after: int | None = None
    seconds: float = 0.0
    route: str = "ingest"
    rate: float | None = None
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, got {self.route!r}")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._random = random.Random(self.seed)

    def fires(self, route: str) -> bool:
        """Whether this rule fires for a request on ``route`` (consumes one count when it does)."""
        if self.route not in ("any", route) or self.count == 0:
            return False
        if self.rate is not None and self._random.random() >= self.rate:
            return False
        if self.count is not None:
            self.count -= 1
        return True


class Faults:
    """The active rules; the first that fires wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.fired = 0

    def add(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, route: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.fires(route):
                    self.fired += 1
                    return rule
            self._rules = [r for r in self._rules if r.count != 0]
        return None

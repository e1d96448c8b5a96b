"""A minimal task context for calling ``operator.execute(context)`` without a scheduler.

Only what the operators read: the task instance's identity and ``xcom_push``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskInstanceStub:
    dag_id: str = "test_dag"
    task_id: str = "test_task"
    run_id: str = "manual__2026-01-01T00:00:00+00:00"
    map_index: int = -1
    try_number: int = 1
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def make_context(**ti: Any) -> dict[str, Any]:
    stub = TaskInstanceStub(**ti)
    return {"ti": stub, "task_instance": stub, "run_id": stub.run_id}

"""Task docs: the UI's task documentation panel shows what a Peak task will do, with its arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any

_MAX_CELL = 80


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def named(value: Any) -> str:
    """A name in a task doc's sentence: as code, or "templated" for a Jinja template (known only
    when the task runs: its value is on the Rendered Template tab)."""
    return "templated (see Rendered Template)" if _templated(value) else f"`{value}`"


def _describe(value: Any) -> str:
    upstream = getattr(getattr(value, "operator", None), "task_id", None)
    if upstream is not None:  # an XComArg
        return f"output of task `{upstream}`"
    if _templated(value):
        return "templated (see Rendered Template)"
    if isinstance(value, str):
        text = value if "\n" not in value else " ".join(value.split())
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    elif isinstance(value, Sized) and not isinstance(value, Mapping):
        text = f"{len(value):,} item{'' if len(value) == 1 else 's'}"
    elif callable(value):
        text = f"`{getattr(value, '__qualname__', type(value).__name__)}()`"
    else:
        text = type(value).__name__
    # Markdown would read a pipe as a cell border and underscores as emphasis (peak_default).
    text = text.replace("|", "\\|").replace("_", "\\_")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def task_doc(summary: str, arguments: Mapping[str, Any]) -> str:
    """Markdown for ``doc_md``: one sentence, then the arguments that were given, as a table.

    Templated arguments show as written (their rendered values are on the Rendered Template tab).
    """
    rows = "\n".join(f"| `{k}` | {_describe(v)} |" for k, v in arguments.items() if v is not None)
    return f"{summary}\n\n| argument | value |\n|---|---|\n{rows}\n"

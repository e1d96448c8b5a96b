"""Running user fetch code: a Python callable, or an unchanged Peak fetch script.

A callable receives only the arguments it names (like ``@task``): ``output_stream`` (also
``outputStream``), ``metadata``, ``session``, any key of the task context, and ``op_kwargs``;
with ``**kwargs`` it receives all of them.

A Peak script runs as ``__main__`` with ``from lib import outputStream, metadata`` working: its
``import`` statements go through an ``__import__`` that answers ``lib`` with an in-memory module
and defers everything else to Python. Nothing is added to ``sys.modules`` or ``sys.path``, so no
``lib`` leaks into the worker, and a real ``lib`` package elsewhere is left alone.

What the fetch prints goes to the task log the way any task's output does: Airflow captures the
task process's stdout and stderr (the virtualenv runner forwards its child's output line by line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.scriptexec import (  # re-exported: the fetch API in one place
    FETCH_ARGUMENTS,
    call_fetch,
    define_callable,
    make_lib,
    run_script,
    select_kwargs,
)

__all__ = [
    "FETCH_ARGUMENTS",
    "call_fetch",
    "check_script_syntax",
    "define_callable",
    "fetch_arguments",
    "load_script",
    "make_lib",
    "resolve_script",
    "run_script",
    "select_kwargs",
]

INLINE_SCRIPT_NAME = "<peak fetch script {feed}>"


def fetch_arguments(
    output_stream: Any, metadata: Any, session: Any, context: Mapping[str, Any], op_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything a fetch may ask for; the fetch objects beat ``op_kwargs``, which beat the context."""
    return {
        **context,
        **op_kwargs,
        "output_stream": output_stream,
        "outputStream": output_stream,
        "metadata": metadata,
        "session": session,
    }


# ---------------------------------------------------------------------------------- scripts
def looks_like_path(script: str) -> bool:
    text = script.strip()
    return "\n" not in text and text.endswith(".py")


def resolve_script(script: str, search_dirs: Sequence[str | Path] = ()) -> Path | None:
    """The file ``script`` names (absolute, or under one of ``search_dirs``), or ``None`` if inline text."""
    if not looks_like_path(script):
        return None
    path = Path(script.strip()).expanduser()
    candidates = [path] if path.is_absolute() else [Path(d) / path for d in search_dirs] + [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    where = ", ".join(str(d) for d in search_dirs) or "the working directory"
    raise PeakConfigError(
        f"fetch_script {script!r} looks like a file path, but there is no such file (searched {where})"
    )


def load_script(script: str, feed_name: str, search_dirs: Sequence[str | Path] = ()) -> tuple[str, str]:
    """``(source, filename)`` of a fetch script given as text or as a path."""
    path = resolve_script(script, search_dirs)
    if path is not None:
        return path.read_text(encoding="utf-8"), str(path)
    return script, INLINE_SCRIPT_NAME.format(feed=feed_name)


def check_script_syntax(source: str, filename: str) -> None:
    """Compile the script (when the DAG is parsed) so a syntax error is reported early."""
    try:
        compile(source, filename, "exec")
    except SyntaxError as exc:
        raise PeakConfigError(f"fetch_script has a syntax error at line {exc.lineno}: {exc.msg}") from None

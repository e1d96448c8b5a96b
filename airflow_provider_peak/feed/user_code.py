"""Run user fetch code: choose a callable's arguments, run a Peak script with its ``lib``.

Standard library only, no project imports: the virtualenv runner (``venv_child.py``) loads this file
by path inside a virtualenv where neither Airflow nor this provider is installed.
"""

from __future__ import annotations

import builtins
import inspect
import linecache
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: The names a fetch can ask for besides the context and ``op_kwargs``.
FETCH_ARGUMENTS = ("output_stream", "outputStream", "metadata", "session")


def select_kwargs(fn: Callable[..., Any], available: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``available`` that ``fn`` names (everything when it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(available)
    chosen: dict[str, Any] = {}
    missing: list[str] = []
    for p in params:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        if p.name in available:
            chosen[p.name] = available[p.name]
        elif p.default is inspect.Parameter.empty:
            missing.append(p.name)
    if missing:
        offered = ", ".join(FETCH_ARGUMENTS) + ", op_kwargs keys and context keys (ti, params, ...)"
        raise TypeError(f"the fetch callable needs {', '.join(missing)}, which is not one of: {offered}")
    return chosen


def call_fetch(fn: Callable[..., Any], available: Mapping[str, Any]) -> Any:
    """Call a fetch callable with the arguments it names."""
    return fn(**select_kwargs(fn, available))


def make_lib(**members: Any) -> types.ModuleType:
    """The ``lib`` module a Peak script imports: ``outputStream``, ``metadata`` and friends."""
    lib = types.ModuleType("lib", "Peak REST API connector objects, provided by airflow-provider-peak.")
    for name, value in members.items():
        setattr(lib, name, value)
    return lib


def run_script(source: str, filename: str, lib: types.ModuleType) -> None:
    """Execute a Peak fetch script as ``__main__`` with ``import lib`` answered by ``lib``.

    The script's imports go through its own ``__import__``: ``lib`` is never put in
    ``sys.modules`` or on ``sys.path``, so nothing leaks into the process, and a real ``lib``
    package installed elsewhere is left alone.
    """
    code = compile(source, filename, "exec")
    # Tracebacks of an inline script show its lines, like those of a file.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    real_import = builtins.__import__

    def peak_import(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> Any:
        if level == 0 and name == "lib":
            return lib
        if level == 0 and name.startswith("lib."):
            raise ImportError(
                f"Peak's lib has no submodule {name[4:]!r}; use 'from lib import outputStream, metadata'"
            )
        return real_import(name, globals, locals, fromlist, level)

    script_builtins = dict(vars(builtins))
    script_builtins["__import__"] = peak_import
    exec(code, {"__name__": "__main__", "__file__": filename, "__builtins__": script_builtins})


def define_callable(source: str, name: str, filename: str = "<peak fetch callable>") -> Callable[..., Any]:
    """Re-create a module-level function from its source (how a callable reaches a virtualenv)."""
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__peak_fetch__"}
    exec(code, namespace)
    return namespace[name]

"""The user's fetch, turned into ``fetch(stream)``: a Python callable or an unchanged Peak fetch
script, run in the worker or in a cached virtualenv.

A callable receives only the arguments it names (like ``@task``): ``output_stream`` (also
``outputStream``), ``metadata``, ``session``, any key of the task context, and ``op_kwargs``;
with ``**kwargs`` it receives all of them.

A Peak script runs as ``__main__`` with ``from lib import outputStream, metadata`` working (see
``user_code.run_script``): no ``lib`` module leaks into the worker, and a real ``lib`` package
elsewhere is left alone.

``FeedRuntime`` and ``collect_preview`` call the built function with an ``OutputStream``;
everything else the fetch needs (``metadata``, the session, the context, ``op_kwargs``) is bound
here. What the fetch prints goes to the task log the way any task's output does (the virtualenv
runner forwards its child's output line by line).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.stream import Fetch, Metadata, OutputStream
from airflow_provider_peak.feed.user_code import call_fetch, make_lib, run_script
from airflow_provider_peak.feed.venv import check_index_urls, ensure_venv, parse_requirements, run_in_venv

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
def is_script_path(script: str) -> bool:
    """A one-line ``.py`` name is a file to read; anything else is the script's text."""
    text = script.strip()
    return "\n" not in text and text.endswith(".py")


def resolve_script(script: str, search_dirs: Sequence[str | Path] = ()) -> Path | None:
    """The file ``script`` names (absolute, or under one of ``search_dirs``), or ``None`` if inline text."""
    if not is_script_path(script):
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


#: Context keys a fetch in a virtualenv receives (values made JSON: dates as ISO text).
VENV_CONTEXT_KEYS = (
    "ds",
    "ds_nodash",
    "ts",
    "run_id",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "params",
)


@dataclass
class FetchSpec:
    """What to run: exactly one of ``fetch_callable`` and ``fetch_script``.

    :param feed_name: the feed (names an inline script in tracebacks).
    :param fetch_callable: ``fn(output_stream, metadata, session, **context)``, arguments by name.
    :param fetch_script: a Peak fetch script, as text or a ``.py`` path.
    :param script_dirs: where a relative script path is looked up (the DAG's folder first).
    :param op_kwargs: extra keyword arguments for a callable (``op_kwargs`` in a script's ``lib``).
    :param requirements: run the fetch in a cached virtualenv with these packages (PEP 508
        requirements; pip options are refused).
    :param index_urls: the package index (the first) and extra indexes for ``requirements``;
        ``None``: the ``peak_rest`` connection's ``index_urls`` extra, else pip's own settings.
    :param venv_cache_path: where virtualenvs are cached.
    :param inherit_worker_packages: the virtualenv also sees the worker's packages.
    """

    feed_name: str
    fetch_callable: Callable[..., Any] | None = None
    fetch_script: str | None = None
    script_dirs: Sequence[str | Path] = ()
    op_kwargs: Mapping[str, Any] = field(default_factory=dict)
    requirements: Sequence[str] | None = None
    index_urls: Sequence[str] | None = None
    venv_cache_path: str | None = None
    inherit_worker_packages: bool = True

    def check(self) -> None:
        """Parse-time checks: one fetch, a script that compiles, a callable a virtualenv can re-create."""
        if (self.fetch_callable is None) == (self.fetch_script is None):
            raise PeakConfigError("pass exactly one of fetch_callable and fetch_script")
        if self.fetch_callable is not None and not callable(self.fetch_callable):
            raise PeakConfigError(
                f"fetch_callable must be callable, got {type(self.fetch_callable).__name__}"
            )
        if self.fetch_script is not None:
            check_script_syntax(*load_script(self.fetch_script, self.feed_name, self.script_dirs))
        if self.requirements is not None:
            if self.fetch_callable is not None:
                callable_source(self.fetch_callable)
            # Entries still holding a template are checked once rendered, before pip runs.
            parse_requirements([r for r in self.requirements if not _templated(r)])
        check_index_urls(self.index_urls)

    def build(
        self,
        metadata: Metadata,
        session: Any,
        context: Mapping[str, Any],
        logger: logging.Logger,
        *,
        hook: Any = None,
    ) -> Fetch:
        """The ``fetch(stream)`` function for one run (or preview)."""
        if self.requirements is not None:
            return self._venv_fetch(metadata, context, logger, hook)
        op_kwargs = dict(self.op_kwargs)
        if self.fetch_callable is not None:
            fn = self.fetch_callable

            def fetch_with_callable(stream: OutputStream) -> None:
                call_fetch(fn, fetch_arguments(stream, metadata, session, context, op_kwargs))

            return fetch_with_callable
        source, filename = load_script(self.fetch_script or "", self.feed_name, self.script_dirs)

        def fetch_with_script(stream: OutputStream) -> None:
            lib = make_lib(
                outputStream=stream, metadata=metadata, session=session, context=context, op_kwargs=op_kwargs
            )
            run_script(source, filename, lib)

        return fetch_with_script

    def _venv_fetch(
        self, metadata: Metadata, context: Mapping[str, Any], logger: logging.Logger, hook: Any
    ) -> Fetch:
        index_urls = self.index_urls
        if index_urls is None:
            index_urls = hook.settings.index_urls if hook is not None else ()
        python = ensure_venv(
            self.requirements or (),
            cache_path=self.venv_cache_path,
            inherit_worker_packages=self.inherit_worker_packages,
            index_urls=index_urls,
            logger=logger,
        )
        config: dict[str, Any] = {
            "state": metadata.value,
            "context": json_context(context),
            "op_kwargs": _json_or_fail(dict(self.op_kwargs), "op_kwargs"),
            "session": session_config(hook),
        }
        if self.fetch_callable is not None:
            source, name = callable_source(self.fetch_callable)
            config.update(kind="callable", source=source, name=name, filename=f"<fetch_callable {name}>")
        else:
            source, filename = load_script(self.fetch_script or "", self.feed_name, self.script_dirs)
            config.update(kind="script", source=source, filename=filename)
        refresh = None
        if hook is not None and hook.settings.auth_type == "custom":

            def refresh() -> Mapping[str, str]:
                hook.refresh_token()
                return hook.auth_headers()

        def fetch_in_venv(stream: OutputStream) -> None:
            run_in_venv(
                python, config, write=stream.write, save=metadata.save, refresh_headers=refresh, logger=logger
            )

        return fetch_in_venv


def _templated(entry: Any) -> bool:
    return isinstance(entry, str) and ("{{" in entry or "{%" in entry)


def callable_source(fn: Callable[..., Any]) -> tuple[str, str]:
    """``(source, name)`` of a module-level function, for re-creating it in a virtualenv."""
    name = getattr(fn, "__name__", "")
    if not inspect.isfunction(fn) or name == "<lambda>" or "<locals>" in getattr(fn, "__qualname__", ""):
        raise PeakConfigError(
            "with requirements=, fetch_callable must be a plain function defined at the top level of "
            "the DAG file (its source is run in the virtualenv); lambdas, closures and methods cannot be"
        )
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise PeakConfigError(f"cannot read the source of fetch_callable {name!r}: {exc}") from None
    # Decorators would run in the virtualenv without their imports; the function is enough.
    lines = source.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def ")))
    return "".join(lines[start:]), name


def session_config(hook: Any) -> dict[str, Any]:
    """How the virtualenv builds its session: the base URL, and the connection's headers for its
    origin (the child's session is the parent's, ``transport/session.py``)."""
    if hook is None:
        return {}
    s = hook.settings
    return {
        "base_url": s.base_url or None,
        "headers": hook.auth_headers(),
        "provider_headers": list(hook.provider_headers),
        "verify": s.verify,
        "timeout": s.timeout,
        "connect_timeout": s.connect_timeout,
        "max_reply_bytes": s.max_reply_bytes,
        "refreshable": s.auth_type == "custom",
    }


def json_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe part of the task context, for a fetch in another process."""
    out: dict[str, Any] = {}
    for key in VENV_CONTEXT_KEYS:
        value = context.get(key)
        if isinstance(value, (dt.datetime, dt.date)):
            value = value.isoformat()
        elif key == "params" and value is not None:
            value = {k: value[k] for k in value}
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    ti = context.get("ti")
    for attr in ("dag_id", "task_id", "map_index", "try_number"):
        if ti is not None and hasattr(ti, attr):
            out[attr] = getattr(ti, attr)
    return out


def _json_or_fail(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise PeakConfigError(
            f"{what} must be JSON-serializable to reach a virtualenv fetch: {exc}"
        ) from None

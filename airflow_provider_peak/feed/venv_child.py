"""The fetch side of ``PeakRestFeedOperator(requirements=[...])``, run by a virtualenv's Python.

Standard library only (plus ``requests`` for the session, when importable): neither Airflow nor
this provider is installed in the virtualenv. The provider's modules it needs are loaded by path:
the transport package (``PEAK_FEED_TRANSPORT``: the same session, origin rules, deadlines, bounded
reads and 401 refresh as the worker's), the user-code runner and the JSON form of the records. The
parent sends one JSON line on stdin (the code, the saved state, the session settings); this process
answers on the file descriptor named by ``PEAK_FEED_FD`` with one line per event:

* ``R<json>``: a record; ``M<json>``: ``metadata.save``; ``A<json>``: the API answered 401, send
  fresh auth headers (the parent replies with one JSON line on stdin);
* ``D{}``: the fetch finished; ``E<json>``: it raised (type, message, traceback).

The pipe is the back-pressure: when the parent's destinations are busy it stops reading, and the
next ``write`` here blocks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from typing import Any


class Channel:
    def __init__(self, fd: int) -> None:
        self.out = os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 16)
        # Decimals, datetimes, UUIDs... as the destinations write them, not as str() does.
        self.default = load_by_path("_peak_spool", "PEAK_FEED_SPOOL").json_default

    def send(self, kind: str, payload: Any, *, flush: bool = False) -> None:
        self.out.write(kind + json.dumps(payload, default=self.default, ensure_ascii=False) + "\n")
        if flush:
            self.out.flush()


class OutputStream:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.count = 0

    def write(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise TypeError(f"outputStream.write() takes one record (a dict), not {type(obj).__name__}")
        self.channel.send("R", obj)
        self.count += 1

    def write_many(self, objs: Any) -> None:
        for obj in objs:
            self.write(obj)


class Metadata(dict):
    def __init__(self, state: Any, channel: Channel) -> None:
        super().__init__(state if isinstance(state, dict) else {})
        self.value = state
        self.channel = channel

    def save(self, obj: Any) -> None:
        value = json.loads(json.dumps(obj, allow_nan=False))
        self.value = value
        self.clear()
        if isinstance(value, dict):
            self.update(value)
        self.channel.send("M", value, flush=True)


def load_by_path(name: str, variable: str) -> Any:
    """A module of the provider that the parent names by path (standard library only)."""
    spec = importlib.util.spec_from_file_location(name, os.environ[variable])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_transport() -> Any:
    """The provider's transport package, by path, as ``_peak_transport`` (its modules import each
    other relatively); its session module."""
    folder = os.environ["PEAK_FEED_TRANSPORT"]
    spec = importlib.util.spec_from_file_location(
        "_peak_transport", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["_peak_transport"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("_peak_transport.session")


def make_session(settings: dict[str, Any] | None, channel: Channel) -> Any:
    try:
        import requests  # noqa: F401 - the session needs it; without it, the fetch gets none
    except ImportError:
        return None
    transport = load_transport()
    config: dict[str, Any] = settings or {}
    base_url = config.get("base_url")
    headers = dict(config.get("headers") or {})

    class ParentAuth(transport.RefreshingAuth):  # type: ignore[name-defined, misc]
        """The connection's headers, for its origin only; on a 401 from it, fresh ones from the
        parent, once."""

        def sign(self, request: Any) -> None:
            request.headers.update(headers)

        def renew(self, refused: Any) -> None:
            channel.send("A", {}, flush=True)
            headers.update(json.loads(sys.stdin.readline()))

    bounds = {
        name: config[name] for name in ("timeout", "connect_timeout", "max_reply_bytes") if name in config
    }
    session = transport.RestSession(
        base_url, provider_headers=(*config.get("provider_headers", ()), *headers), **bounds
    )
    session.verify = config.get("verify", True)
    session.auth = (
        ParentAuth(base_url) if config.get("refreshable") else transport.HeadersAuth(base_url, headers)
    )
    return session


def main() -> int:
    channel = Channel(int(os.environ["PEAK_FEED_FD"]))
    try:
        config = json.loads(sys.stdin.readline())
        user_code = load_by_path("_peak_user_code", "PEAK_FEED_USER_CODE")
        stream = OutputStream(channel)
        metadata = Metadata(config.get("state"), channel)
        session = make_session(config.get("session"), channel)
        context, op_kwargs = config.get("context") or {}, config.get("op_kwargs") or {}
        if config["kind"] == "script":
            lib = user_code.make_lib(
                outputStream=stream, metadata=metadata, session=session, context=context, op_kwargs=op_kwargs
            )
            user_code.run_script(config["source"], config["filename"], lib)
        else:
            fn = user_code.define_callable(config["source"], config["name"], config["filename"])
            available = {**context, **op_kwargs, "output_stream": stream, "outputStream": stream}
            user_code.call_fetch(fn, {**available, "metadata": metadata, "session": session})
        channel.send("D", {"records": stream.count}, flush=True)
        return 0
    except BaseException as exc:
        channel.send(
            "E",
            {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()},
            flush=True,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

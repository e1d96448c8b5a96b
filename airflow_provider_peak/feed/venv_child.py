"""The fetch side of ``PeakRestFeedOperator(requirements=[...])``, run by a virtualenv's Python.

Standard library only (plus ``requests`` for the session, when importable): neither Airflow nor
this provider is installed in the virtualenv. The parent sends one JSON line on stdin (the code,
the saved state, the session settings); this process answers on the file descriptor named by
``PEAK_FEED_FD`` with one line per event:

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


def make_session(settings: dict[str, Any] | None, channel: Channel) -> Any:
    try:
        import requests
        from requests.auth import AuthBase
    except ImportError:
        return None
    urls = load_by_path("_peak_urls", "PEAK_FEED_URLS")  # the parent's origin rules, not a copy
    bounded = load_by_path("_peak_bounded", "PEAK_FEED_BOUNDED")  # and its deadlines and bounds
    config: dict[str, Any] = settings or {}
    timeout = config.get("timeout", 60)
    connect_timeout = config.get("connect_timeout", 10)
    base_url = config.get("base_url")
    headers = dict(config.get("headers") or {})
    provider_headers = [*config.get("provider_headers", ()), *headers, "Authorization"]

    def own(url: Any) -> bool:
        return bool(base_url) and urls.same_origin(str(url or ""), base_url)

    class ParentAuth(AuthBase):
        """The connection's headers for its origin only; on a 401 from it, fresh ones from the
        parent, once."""

        def __call__(self, request: Any) -> Any:
            if not own(request.url):
                return request
            request.headers.update(headers)
            if config.get("refreshable"):
                request.register_hook("response", self.on_401)
            return request

        def on_401(self, response: Any, **kwargs: Any) -> Any:
            request = response.request
            if (
                response.status_code != 401
                or getattr(request, "_peak_refreshed", False)
                or not own(request.url)
            ):
                return response
            channel.send("A", {}, flush=True)
            headers.update(json.loads(sys.stdin.readline()))
            retry = request.copy()
            retry.headers.update(headers)
            retry._peak_refreshed = True
            response.close()
            second = response.connection.send(retry, **kwargs)
            second.history.append(response)
            return second

    class Session(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            url = urls.join_url(base_url, url)
            if len(args) < 7 and timeout is not None:
                kwargs.setdefault("timeout", (connect_timeout, timeout))
            return super().request(method, url, *args, **kwargs)

        def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
            super().rebuild_auth(prepared_request, response)
            if base_url and not own(prepared_request.url):
                for name in provider_headers:
                    prepared_request.headers.pop(name, None)

    session = Session()
    adapter = bounded.BoundedAdapter(
        connect_timeout + (timeout or 60), config.get("max_reply_bytes", 64 * 1024 * 1024)
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept-Encoding"] = bounded.ACCEPT_ENCODING
    session.verify = config.get("verify", True)
    session.auth = ParentAuth()
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

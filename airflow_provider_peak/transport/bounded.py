"""Bounded exchanges: a deadline for the whole of a request, and replies decoded into a capped size.

One home for both, used by the JSON client (``client``: the sync hooks, and the async Peaka calls
of the triggerer) and by the ``session`` handed to fetch code, in the worker and in a
``requirements=`` virtualenv, which loads this package by path: so it imports only the standard
library, ``requests`` and ``urllib3``, and nothing of the provider.

* **Deadlines.** A per-read time-out does not bound a server that trickles a byte at a time. A
  ``_Deadline`` shuts the socket of its exchange down when it passes (one watchdog thread serves
  every pending deadline), which ends a blocked read.
* **Bounded decoding.** ``BoundedDecoder`` takes a reply's body as it arrives on the wire and
  decompresses it with a capped output: never more than the bytes still allowed, so a small
  compressed reply cannot inflate past the limit. One content coding at most (``gzip`` or
  ``deflate``): stacked codings (``gzip, gzip``) and unknown ones are refused before anything is
  decoded. ``read_body`` (``requests``) and ``aread_body`` (``httpx``) drive the same decoder.
* **User sessions.** ``BoundedAdapter`` gives each request of a ``requests.Session`` a total
  deadline (the call's connect plus read time-outs) and a reply bound, whether the body is read at
  once or streamed.
"""

from __future__ import annotations

import contextvars
import heapq
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: The content codings the provider reads, sent as ``Accept-Encoding`` by its clients.
ACCEPT_ENCODING = "gzip, deflate"
#: Bytes read from the wire at a time.
READ_SIZE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


# ----------------------------------------------------------------------------- deadlines
class _Deadline:
    """The deadline of one exchange: when it passes, the socket in use is shut down, which ends a
    read blocked on a trickling server (a per-read time-out alone never would)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.connection: HTTPConnection | None = None
        #: The socket of the exchange, kept: http.client drops the connection's reference to it
        #: once a ``Connection: close`` reply's headers are read, while the body still streams.
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.done = False

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sock = self.sock or getattr(self.connection, "sock", None)
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        with self._lock:
            self.done = True


class _Watchdog:
    """One thread that expires every pending deadline of the process, soonest first (a thread per
    request would cost more than many requests themselves)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._sequence = 0

    def watch(self, guard: _Deadline) -> None:
        with self._wake:
            self._sequence += 1
            heapq.heappush(self._heap, (guard.at, self._sequence, guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="peak-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is guard:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:  # finished in time: forget it
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait(timeout=60)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(timeout=wait)
                    continue
                _, _, guard = heapq.heappop(self._heap)
            guard.expire()


_WATCHDOG = _Watchdog()


_CURRENT_DEADLINE: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "peak_deadline", default=None
)


def _track(connection: HTTPConnection, send: Any, *args: Any, **kwargs: Any) -> None:
    deadline = _CURRENT_DEADLINE.get()
    if deadline is not None:
        deadline.connection = connection
    send(*args, **kwargs)
    if deadline is not None:
        deadline.sock = connection.sock


class _TrackedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _track(self, super().request, *args, **kwargs)


class _TrackedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _track(self, super().request, *args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections can be shut down by a request's deadline."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


@contextmanager
def deadline(seconds: float) -> Iterator[_Deadline]:
    """Requests sent inside this block on a ``DeadlineAdapter`` end after ``seconds``."""
    guard = _Deadline(seconds)
    token = _CURRENT_DEADLINE.set(guard)
    _WATCHDOG.watch(guard)
    try:
        yield guard
    finally:
        guard.stop()
        _CURRENT_DEADLINE.reset(token)


# ----------------------------------------------------------------------------- bounded decoding
class BoundedDecoder:
    """A reply's body decoded as it arrives, into at most ``limit`` bytes (no I/O of its own: the
    sync and async readers feed it what they read from the wire).

    ``ValueError`` for stacked or unknown content codings (at construction, before anything is
    read) and for a corrupt compressed body. ``decode`` returns the decoded bytes of each piece,
    and sets ``over`` (cutting its output there) once the body is longer than ``limit``.
    """

    def __init__(self, limit: int, content_encoding: str | None = None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise ValueError(
                f"the reply is compressed {len(codings)} times over (Content-Encoding: "
                f"{_shown(content_encoding)}); stacked content encodings are refused"
            )
        self.coding = codings[0] if codings else ""
        if self.coding not in ("", "gzip", "x-gzip", "deflate"):
            raise ValueError(
                f"the reply's Content-Encoding {_shown(self.coding)} is not one the provider reads "
                f"({ACCEPT_ENCODING})"
            )
        self.limit = limit
        self.size = 0
        self.over = False
        self._zlib = self._decompressor()
        self._started = False

    def _decompressor(self, raw_deflate: bool = False) -> Any:
        if self.coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.coding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
        return None

    def decode(self, data: bytes) -> bytes:
        """The decoded bytes of ``data`` (the next piece of the body on the wire)."""
        if self.over or not data:
            return b""
        if self._zlib is None:
            return self._keep(data)
        out: list[bytes] = []
        while data and not self.over:
            try:
                piece = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                if self.coding == "deflate" and not self._started:
                    # "deflate" should be zlib-wrapped; some servers send the raw stream.
                    self._zlib = self._decompressor(raw_deflate=True)
                    self._started = True
                    continue
                raise ValueError(f"the reply's {self.coding} body is corrupt") from None
            self._started = True
            out.append(self._keep(piece))
            data = self._zlib.unconsumed_tail
            if not data and self._zlib.eof:
                rest = self._zlib.unused_data
                if rest[:2] == _GZIP_MAGIC and self.coding != "deflate":  # another gzip member
                    self._zlib, data = self._decompressor(), rest
        return b"".join(out)

    def _keep(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            self.over = True
            return piece[: len(piece) - (self.size - self.limit)]
        return piece


def _shown(text: str | None) -> str:
    """A header value a server chose, safe for a message: printable ASCII, at most 60 characters."""
    value = "".join(ch if " " <= ch <= "~" else "?" for ch in (text or ""))
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _where(url: str | None) -> str:
    """``scheme://host[:port]/path`` of a URL: no credentials, no query (page tokens, keys)."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _wire(response: requests.Response) -> Iterator[bytes]:
    """A streamed reply's bytes as they came (not decoded), with urllib3's errors as ``requests``
    maps them when it reads a body itself."""
    try:
        yield from response.raw.stream(READ_SIZE, decode_content=False)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def read_body(response: requests.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a streamed reply, decoded (``BoundedDecoder``); ``(body,
    complete)``. ``ValueError`` for a content coding that is refused or corrupt."""
    decoder = BoundedDecoder(limit, response.headers.get("Content-Encoding"))
    chunks: list[bytes] = []
    for data in _wire(response):
        chunks.append(decoder.decode(data))
        if decoder.over:
            response.close()
            return b"".join(chunks), False
    return b"".join(chunks), True


async def aread_body(response: Any, limit: int) -> tuple[bytes, bool]:
    """``read_body`` for a streamed ``httpx`` reply: the raw bytes through the same decoder."""
    decoder = BoundedDecoder(limit, response.headers.get("Content-Encoding"))
    chunks: list[bytes] = []
    raw: AsyncIterator[bytes] = response.aiter_raw()
    async for data in raw:
        chunks.append(decoder.decode(data))
        if decoder.over:
            return b"".join(chunks), False
    return b"".join(chunks), True


# ----------------------------------------------------------------------------- user sessions
def total_seconds(timeout: Any) -> float | None:
    """The deadline a ``requests`` time-out implies: connect plus read; ``None`` for none."""
    if isinstance(timeout, tuple):
        parts = [t for t in timeout if t is not None]
        return float(sum(parts)) if len(parts) == len(timeout) else None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return 2.0 * timeout  # requests uses one number for the connect and the read time-out
    return None


class BoundedAdapter(DeadlineAdapter):
    """The adapter of a session handed to user code: every request (redirect hops included) ends
    within its connect plus read time-out in total, body included (``seconds`` when the call gives
    none), and its body decodes to at most ``max_bytes``, read at once or streamed.

    A request past its deadline raises ``requests.exceptions.ReadTimeout``; a body past the bound,
    ``requests.exceptions.ContentDecodingError``; so do refused content codings.
    """

    def __init__(self, seconds: float, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds
        self.max_bytes = max_bytes

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        seconds = total_seconds(timeout) or self.seconds
        guard = _Deadline(seconds)
        token = _CURRENT_DEADLINE.set(guard)
        _WATCHDOG.watch(guard)
        try:
            response = super().send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        except requests.exceptions.RequestException as exc:
            guard.stop()
            if guard.expired:
                raise _too_slow(f"{request.method} {_where(request.url)}", seconds) from exc
            raise
        except BaseException:
            guard.stop()
            raise
        finally:
            _CURRENT_DEADLINE.reset(token)
        try:
            decoder = BoundedDecoder(self.max_bytes, response.headers.get("Content-Encoding"))
        except ValueError as exc:
            guard.stop()
            response.close()
            raise requests.exceptions.ContentDecodingError(
                f"{exc}: {request.method} {_where(request.url)}", response=response
            ) from None
        response.raw = BoundedBody(response.raw, decoder, guard, f"{request.method} {_where(request.url)}")
        return response


def _too_slow(what: str, seconds: float) -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout(
        f"{what} did not finish within {seconds:g} s (the request's connect plus "
        "read time-out, body included)"
    )


class BoundedBody:
    """A reply's body for ``requests`` (``response.raw``): read from the wire, decoded through a
    ``BoundedDecoder``, under the request's deadline; other attributes are the urllib3 response's."""

    def __init__(self, raw: Any, decoder: BoundedDecoder, guard: _Deadline, what: str) -> None:
        self._raw = raw
        self._decoder = decoder
        self._guard = guard
        self._what = what
        self._buffer = b""
        self._done = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def _next(self, amount: int) -> bytes:
        """The next decoded bytes (``b""`` at the end), raising past the deadline or the bound."""
        while not self._done:
            try:
                data = self._raw.read(amount, decode_content=False)
            except Exception as exc:
                if self._guard.expired:
                    self._end()
                    raise _too_slow(self._what, self._guard.seconds) from exc
                raise
            if not data:
                self._end()
                if self._guard.expired:  # a shut-down socket reads as an early end
                    raise _too_slow(self._what, self._guard.seconds)
                return b""
            try:
                out = self._decoder.decode(data)
            except ValueError as exc:
                self.close()
                raise requests.exceptions.ContentDecodingError(f"{exc}: {self._what}") from None
            if self._decoder.over:
                self.close()
                raise requests.exceptions.ContentDecodingError(
                    f"the reply to {self._what} is larger than {self._decoder.limit:,} bytes (the "
                    "connection's max_reply_bytes); nothing more was read"
                )
            if out:
                return out
        return b""

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        if amt is None:
            chunks = [self._buffer]
            self._buffer = b""
            while piece := self._next(READ_SIZE):
                chunks.append(piece)
            return b"".join(chunks)
        while len(self._buffer) < amt and (piece := self._next(max(amt, READ_SIZE))):
            self._buffer += piece
        out, self._buffer = self._buffer[:amt], self._buffer[amt:]
        return out

    def stream(self, amt: int = READ_SIZE, decode_content: Any = None) -> Iterator[bytes]:
        while data := self.read(amt):
            yield data

    def _end(self) -> None:
        self._done = True
        self._guard.stop()

    def close(self) -> None:
        self._end()
        self._raw.close()

    def release_conn(self) -> None:
        self._raw.release_conn()

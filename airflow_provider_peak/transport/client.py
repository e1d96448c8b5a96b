"""The JSON-over-HTTP client of the Peak, Peak v2 and Peaka hooks: one exchange, sync and async.

* One pooled ``requests.Session`` per client (one ``httpx.AsyncClient`` on the async path), whose
  every exchange has a **deadline**: a server that trickles its reply never holds a request much
  past the connection's ``connect_timeout + timeout``.
* Replies are read **bounded** (``bounded``): an error body keeps at most ``ERROR_BODY_LIMIT``
  bytes, a success at most the connection's ``max_reply_bytes``, decompressed with a capped output.
* **No redirects**: a 3xx is an error naming its status and ``Location``; nothing (credentials,
  records) is ever sent to the other host.
* **One retry policy** (``retry``), and, when a request pacer is given (Peak v2), every attempt
  starts when the pacer allows; a 429 slows the pacer, a success speeds it up.
* Replies map to the typed errors of ``errors`` (``replies``), scrubbed of every secret.
* **Cancellation** (``Cancellation``, for a task that is ending: its ``execution_timeout`` passed,
  or it was killed): the connections of the exchanges in flight are shut down, and every later
  attempt, retry, back-off or pacer wait ends at once with ``PeakCancelledError``.

The sync and async paths share all of it but the I/O. No Airflow import: the hooks
(``hooks._transport.JsonApiHook``) hold a client and add the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests
import tenacity

from airflow_provider_peak import __version__
from airflow_provider_peak.errors import PeakCancelledError, PeakRateLimitError
from airflow_provider_peak.transport.bounded import (
    ACCEPT_ENCODING,
    DeadlineAdapter,
    aread_body,
    deadline,
    read_body,
)
from airflow_provider_peak.transport.replies import (
    ERROR_BODY_LIMIT,
    Reply,
    http_error,
    json_body,
    redirect_error,
    reply_error,
    too_slow,
    unreachable,
)
from airflow_provider_peak.transport.retry import RetryPolicy, RetrySettings
from airflow_provider_peak.transport.urls import same_origin
from airflow_provider_peak.utils.redaction import sanitize_url

log = logging.getLogger(__name__)

USER_AGENT = f"airflow-provider-peak/{__version__}"


class TransportSettings(RetrySettings, Protocol):
    """What the client reads from a connection's settings (``hooks._settings.ConnectionSettings``)."""

    # Read-only members, so that frozen dataclasses satisfy it.
    @property
    def base_url(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def verify(self) -> bool | str: ...

    @property
    def max_reply_bytes(self) -> int: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def url(self, path: str) -> str: ...


class Pacer(Protocol):
    """Paces request starts (``ingest.pacer.RequestPacer``)."""

    def acquire(self) -> float: ...

    def on_success(self, started: float | None = None) -> None: ...

    def on_rate_limited(self, retry_after: float | None = None, started: float | None = None) -> None: ...


class Counters:
    """Counts since a client was made: requests sent, retries, token refreshes, 429 replies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {"requests": 0, "retries": 0, "token_refreshes": 0, "rate_limited": 0}

    def add(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._values[key] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


class Cancellation:
    """The end of a task, for the exchanges of one client (and the waits of its pacer): once
    ``cancel`` is called, the exchanges in flight are abandoned (their deadlines expire at once,
    which shuts their connections down) and none starts again. Thread-safe; ``cancel`` may come
    from another thread (Airflow's ``on_kill``) or the thread that the deadline interrupted."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._guards: set[Any] = set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            guards = list(self._guards)
        for guard in guards:
            guard.expire()

    def pause(self, seconds: float) -> None:
        """Sleep (a back-off, a pacer's turn) at least ``seconds``, as ``time.sleep`` does; a
        ``cancel`` ends it at once."""
        end = time.monotonic() + seconds
        while not self._event.wait(max(0.0, end - time.monotonic())) and time.monotonic() < end:
            pass  # a lock's timed wait may wake a little early: a pacer's slot must not

    def refuse(self, service: str, method: str, path: str) -> None:
        """``PeakCancelledError`` once cancelled: nothing more is sent."""
        if self._event.is_set():
            raise PeakCancelledError(
                f"{service} request {method} {sanitize_url(path)} not sent: the task is ending (its "
                "execution_timeout passed, or it was killed)"
            )

    def track(self, guard: Any) -> None:
        """An exchange in flight under ``guard`` (a ``bounded.deadline``): expired by ``cancel``."""
        with self._lock:
            self._guards.add(guard)
        if self._event.is_set():  # cancelled between the caller's check and this registration
            guard.expire()

    def untrack(self, guard: Any) -> None:
        with self._lock:
            self._guards.discard(guard)


def new_session(settings: TransportSettings, pool_size: int = 10) -> requests.Session:
    """A session with the deadline adapter, the provider's User-Agent and the connection's TLS.

    The environment's proxies (``HTTPS_PROXY``, ``NO_PROXY``) and CA bundle (``REQUESTS_CA_BUNDLE``)
    are read once, for the base URL, instead of on every request as ``requests`` does by default:
    that lookup was a fifth of the client's CPU per ingest request.
    """
    session = requests.Session()
    adapter = DeadlineAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = settings.verify
    if settings.base_url:
        session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if settings.verify is True and bundle:
            session.verify = bundle
    session.trust_env = False  # settled above; also: no netrc lookup per request
    return session


class JsonClient:
    """One connection's exchanges (see the module docstring).

    :param settings: the connection's settings.
    :param auth: the ``requests`` auth of its credentials; on the async path it must offer
        ``headers_for(url)`` (``hooks._auth.ApiKeyAuth``).
    :param default_headers: headers sent to the base URL's origin (never to another host).
    :param service: named in log lines and error messages.
    :param pool_size: the session's connection pool.
    :param retry_args: ``tenacity`` arguments replacing the policy's (sync and async).
    :param pacer: paces every attempt's start (and makes a 429's retry wait for it alone).
    :param counters: where the counts go (the hook's, so they outlive a client).
    :param on_open: called when a session or async client is opened (the hook's TLS warning).
    :param cancellation: ends the client's exchanges when the task is ending (the hook's, so that
        its pacer shares it).
    """

    def __init__(
        self,
        settings: TransportSettings,
        *,
        auth: Any = None,
        default_headers: Mapping[str, str] | None = None,
        service: str = "Peak",
        pool_size: int = 10,
        retry_args: Mapping[str, Any] | None = None,
        pacer: Pacer | None = None,
        counters: Counters | None = None,
        on_open: Callable[[], None] | None = None,
        cancellation: Cancellation | None = None,
    ) -> None:
        self.settings = settings
        self.cancellation = cancellation or Cancellation()
        self.auth = auth
        self.default_headers = dict(default_headers or {})
        self.service = service
        self.pool_size = pool_size
        self.policy = RetryPolicy.of(settings, paced=pacer is not None)
        self.pacer = pacer
        self.counters = counters or Counters()
        self._retry_overrides = dict(retry_args or {})
        self._on_open = on_open
        self._session: requests.Session | None = None
        self._aclient: Any = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ retries
    def retry_args(self, *, idempotent: bool = True) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` or ``AsyncRetrying``; the caller's override wins
        (a request that must not be repeated keeps its predicate: see ``retry``)."""
        return self.policy.tenacity_args(
            before_sleep=self._before_sleep, overrides=self._retry_overrides, idempotent=idempotent
        )

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.counters.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s request failed (%s); retry %d of %d in %.2f s",
            self.service,
            exc,
            state.attempt_number,
            self.settings.max_retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    # ------------------------------------------------------------------ what is sent
    def _headers(self, url: str, body: bytes | None, headers: Mapping[str, str] | None) -> dict[str, str]:
        """The connection's default headers (its own origin only), ``Content-Type`` for a body,
        then the caller's."""
        sent: dict[str, str] = {}
        base_url = self.settings.base_url
        if base_url and same_origin(url, base_url):
            sent.update(self.default_headers)
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        return sent

    def _checked(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        headers: Mapping[str, str],
        content: bytes,
        complete: bool,
        unreadable: str | None,
    ) -> Reply:
        """The reply of one exchange, or its typed error (sync and async alike)."""
        s = self.settings
        if status == 429:
            self.counters.add("rate_limited")
        if 300 <= status < 400:
            raise redirect_error(status, headers.get("Location"), method, path, s.secrets)
        if status >= 400:
            raise http_error(status, reason, content, headers.get("Retry-After"), method, path, s.secrets)
        problem = reply_error(
            self.service, method, path, complete=complete, unreadable=unreadable, limit=s.max_reply_bytes
        )
        if problem is not None:
            raise problem
        return Reply(status, headers, content)

    def _paced(self, exchange: Callable[[], Reply]) -> Reply:
        """``exchange()`` started when the pacer allows; a 429 slows the pacer, a success speeds it."""
        if self.pacer is None:
            return exchange()
        started = self.pacer.acquire()
        try:
            reply = exchange()
        except PeakRateLimitError as exc:
            self.pacer.on_rate_limited(exc.retry_after, started)
            raise
        self.pacer.on_success(started)
        return reply

    # ------------------------------------------------------------------ sync
    def session(self) -> requests.Session:
        """The pooled session, created on first use."""
        with self._lock:
            if self._session is None:
                if self._on_open is not None:
                    self._on_open()
                self._session = new_session(self.settings, self.pool_size)
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def send_once(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One HTTP exchange (the auth may resend it once after a 401), mapped to typed errors."""
        return self._paced(lambda: self._exchange(method, path, body, params, authenticated, headers))

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        authenticated: bool,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        s = self.settings
        url = s.url(path)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", self.service, method, sanitize_url(url))
        cancellation = self.cancellation
        cancellation.refuse(self.service, method, path)
        with deadline(s.connect_timeout + s.timeout) as guard:
            cancellation.track(guard)
            try:
                session = self.session()
                # Prepared here, not by Session.request: its merging of session settings, cookies and
                # the environment costs more CPU than the rest of an ingest request.
                prepared = requests.Request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers={"User-Agent": USER_AGENT, **self._headers(url, body, headers)},
                    auth=self.auth if authenticated else None,
                ).prepare()
                response = session.send(
                    prepared,
                    timeout=(s.connect_timeout, s.timeout),
                    allow_redirects=False,
                    stream=True,
                    verify=session.verify,
                    proxies=session.proxies,
                )
                self.counters.add("requests", 1 + len(response.history))
                with response:
                    status = response.status_code
                    limit = ERROR_BODY_LIMIT if status >= 300 else s.max_reply_bytes
                    unreadable = None
                    try:
                        content, complete = read_body(response, limit)
                    except ValueError as exc:  # a refused or corrupt content coding
                        content, complete, unreadable = b"", True, str(exc)
            except requests.exceptions.RequestException as exc:
                cancellation.refuse(self.service, method, path)
                if guard.expired:
                    raise too_slow(self.service, method, path, guard.seconds) from exc
                raise unreachable(self.service, method, path, exc, s.secrets) from exc
            finally:
                cancellation.untrack(guard)
        if guard.expired:  # the shut-down socket may read as a short, "complete" body
            cancellation.refuse(self.service, method, path)
            raise too_slow(self.service, method, path, guard.seconds)
        return self._checked(
            method, path, status, response.reason or "", response.headers, content, complete, unreadable
        )

    def request(
        self, method: str, path: str, *, retry: bool = True, idempotent: bool = True, **options: Any
    ) -> Reply:
        """``send_once`` (its ``options``: body, params, authenticated, headers) with the retry
        policy (``retry=False``: one attempt; ``idempotent=False``: retried only when the server
        surely did not act on it, see ``retry``); the reply, or a typed error."""
        if not retry:
            return self.send_once(method, path, **options)
        # Back-offs end at once on ``cancel`` (a caller's own ``sleep`` wins); the error then ends it.
        for attempt in tenacity.Retrying(
            **{"sleep": self.cancellation.pause, **self.retry_args(idempotent=idempotent)}
        ):
            with attempt:
                return self.send_once(method, path, **options)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def json(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, **kwargs: Any
    ) -> Any:
        """Send ``payload`` as JSON (or a pre-encoded ``body``) and return the parsed reply."""
        if payload is not None:
            body = json.dumps(payload, separators=(",", ":")).encode()
        reply = self.request(method, path, body=body, **kwargs)
        return json_body(self.service, method, path, reply.body)

    # ------------------------------------------------------------------ async
    def _async_client(self) -> Any:
        import httpx

        if self._aclient is None:
            if self._on_open is not None:
                self._on_open()
            s = self.settings
            self._aclient = httpx.AsyncClient(
                verify=s.verify,
                timeout=httpx.Timeout(s.timeout, connect=s.connect_timeout),
                # Only what the bounded reader decodes (httpx would offer brotli and zstd too).
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
                follow_redirects=False,
            )
        return self._aclient

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    async def asend_once(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """``send_once`` without blocking the event loop (httpx): the same headers, origin rule,
        deadline, bounded read and errors. The auth must offer ``headers_for(url)``."""
        import httpx

        s = self.settings
        client = self._async_client()
        url = s.url(path)
        sent = self._headers(url, body, headers)
        if authenticated and self.auth is not None:
            # The sync path's auth and its origin check: credentials go to the base URL's origin only.
            sent.update(self.auth.headers_for(url))
        seconds = s.connect_timeout + s.timeout

        async def exchange() -> tuple[Any, bytes, bool, str | None]:
            request = client.build_request(method, url, params=params, content=body, headers=sent)
            response = await client.send(request, stream=True)
            self.counters.add("requests")
            try:
                limit = ERROR_BODY_LIMIT if response.status_code >= 300 else s.max_reply_bytes
                try:
                    content, complete = await aread_body(response, limit)
                except ValueError as exc:  # a refused or corrupt content coding
                    return response, b"", True, str(exc)
                return response, content, complete, None
            finally:
                await response.aclose()

        try:
            # The whole exchange within the deadline: a trickling server cannot hold the triggerer.
            response, content, complete, unreadable = await asyncio.wait_for(exchange(), seconds)
        except asyncio.TimeoutError as exc:
            raise too_slow(self.service, method, path, seconds) from exc
        except httpx.HTTPError as exc:
            raise unreachable(self.service, method, path, exc, s.secrets) from exc
        return self._checked(
            method,
            path,
            response.status_code,
            response.reason_phrase,
            response.headers,
            content,
            complete,
            unreadable,
        )

    async def arequest(self, method: str, path: str, *, idempotent: bool = True, **options: Any) -> Reply:
        """``request`` without blocking the event loop, with the same retry policy (no pacer)."""
        async for attempt in tenacity.AsyncRetrying(**self.retry_args(idempotent=idempotent)):
            with attempt:
                return await self.asend_once(method, path, **options)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def ajson(self, method: str, path: str, payload: Any = None, **kwargs: Any) -> Any:
        """``json`` without blocking the event loop."""
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else None
        reply = await self.arequest(method, path, body=body, **kwargs)
        return json_body(self.service, method, path, reply.body)

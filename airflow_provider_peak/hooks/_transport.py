"""The JSON-over-HTTP transport of the Peak and Peaka hooks, and the session every client shares.

* One pooled ``requests.Session`` per hook, whose adapter gives every request a **deadline**: a
  server that trickles its reply never holds a request much past the connection's time-out.
* Replies are read **bounded**: an error body keeps at most ``ERROR_BODY_LIMIT`` bytes, a success
  at most the connection's ``max_reply_bytes``.
* **No redirects**: a 3xx from Peak is an error naming its status and ``Location``; nothing
  (credentials, records) is ever sent to the other host.
* **One retry policy** (tenacity): 429/502/503/504 and transport failures, capped jittered
  back-off honouring ``Retry-After`` (seconds or an HTTP date; never 0, never unbounded). A token
  request is one attempt inside it, so a failing token endpoint is not retried twice over.
* Replies map to the typed errors of ``exceptions``; every string of every error (message, code,
  details) is scrubbed of every registered secret and truncated. The 401 refresh lives with the
  tokens (``_auth.TokenAuth``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import requests
import tenacity

from airflow_provider_peak import __version__
from airflow_provider_peak.exceptions import (
    PeakConnectionError,
    PeakError,
    PeakHTTPError,
    PeakRedirectError,
    error_class_for,
)
from airflow_provider_peak.hooks._bounded import (
    DeadlineAdapter,
    deadline,
    read_body,
)
from airflow_provider_peak.utils.redaction import neutral_value, safe_text, sanitize_url, scrub
from airflow_provider_peak.utils.urls import same_origin
from airflow_provider_peak.version_compat import BaseHook

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
#: Bytes of an error body kept for its message; the rest is never read.
ERROR_BODY_LIMIT = 64 * 1024
USER_AGENT = f"airflow-provider-peak/{__version__}"
#: What reading a server's JSON raises: ``ValueError`` for a body that is not JSON,
#: ``RecursionError`` for one nested too deeply (``[[[[...``) to parse or to walk.
UNREADABLE_JSON = (ValueError, RecursionError)


def should_retry(exc: BaseException) -> bool:
    """The retry predicate: 429/502/503/504 and transport failures, except TLS errors."""
    if isinstance(exc, PeakHTTPError):
        return exc.status in RETRYABLE_STATUS
    return isinstance(exc, PeakConnectionError) and not isinstance(
        exc.__cause__, requests.exceptions.SSLError
    )


class TransportSettings(Protocol):
    """What the transport reads from a connection's settings (``_connection.ConnectionSettings``)."""

    # Read-only members, so that frozen dataclasses satisfy it.
    @property
    def base_url(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def max_retries(self) -> int: ...

    @property
    def verify(self) -> bool | str: ...

    @property
    def backoff_initial(self) -> float: ...

    @property
    def backoff_max(self) -> float: ...

    @property
    def retry_after_floor(self) -> float: ...

    @property
    def retry_after_max(self) -> float: ...

    @property
    def max_reply_bytes(self) -> int: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def url(self, path: str) -> str: ...


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


# ----------------------------------------------------------------------------- errors
#: ``(code, message, details)`` read from an error reply's body.
ErrorFields = tuple[str | None, str | None, list[dict[str, Any]]]


def _detail(item: Any) -> dict[str, Any]:
    """One entry of a server's details, as ``{"record"?, "column"?, "reason"}``."""
    if isinstance(item, Mapping):
        if "msg" in item:  # FastAPI: {"loc": [...], "msg": "...", "type": "..."}
            location = item.get("loc")
            where = ".".join(str(part) for part in location) if isinstance(location, list) else None
            return {"column": where, "reason": str(item["msg"])}
        reason = item.get("reason", item.get("message", item.get("detail", "")))
        out = {
            "record": item.get("record"),
            "column": item.get("column", item.get("field")),
            "reason": reason,
        }
        return {k: v for k, v in out.items() if v is not None}
    return {"reason": str(item)}


def error_fields(payload: Any) -> ErrorFields:
    """The server's words from every error shape the Peak family sends: Peak's
    ``{"error": {"code", "message", "details"}}``, FastAPI's ``{"detail": str | list}``, a gateway's
    ``{"status", "error", "message"}``, ``{"message"}`` and ``{"errors": [...]}``."""
    code: str | None = None
    message: str | None = None
    details: list[dict[str, Any]] = []
    if isinstance(payload, list):
        return None, None, [_detail(item) for item in payload]
    if not isinstance(payload, Mapping):
        return None, str(payload) if payload not in (None, "") else None, []
    error = payload.get("error")
    if isinstance(error, Mapping):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = _text(error.get("message"))
        raw_details = error.get("details")
        if isinstance(raw_details, list):
            details = [_detail(item) for item in raw_details]
    elif isinstance(error, str) and error:
        code = error.upper().replace(" ", "_")
    if isinstance(payload.get("code"), str) and code is None:
        code = payload["code"]
    detail = payload.get("detail")
    if isinstance(detail, list):
        details = details or [_detail(item) for item in detail]
        message = message or "; ".join(str(d.get("reason", "")) for d in details[:5])
    elif detail is not None:
        message = message or _text(detail)
    message = message or _text(payload.get("message"))
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        details = details or [_detail(item) for item in errors]
        message = message or "; ".join(str(d.get("reason", "")) for d in details[:5])
    return code, message, details


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; ``None`` when absent,
    unreadable, NaN or negative."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def http_error(
    status: int,
    reason: str,
    body: bytes,
    retry_after_header: str | None,
    method: str,
    path: str,
    secrets: tuple[str, ...] = (),
) -> PeakHTTPError:
    """The typed error for an error reply (the sync and async transports alike)."""
    text = body.decode("utf-8", errors="replace")
    try:
        # Scrubbed before it is read: a secret holding a quote, a backslash or non-ASCII would no
        # longer match once ``_text`` re-encodes a structured message as (escaped) JSON.
        code, message, details = error_fields(scrub(json.loads(text), secrets))
    except UNREADABLE_JSON:
        code, message, details = None, text.strip() or None, []
    return error_class_for(status)(
        status,
        method,
        sanitize_url(path),
        safe_text(message or reason or "", secrets=secrets),
        code=safe_text(code, 80, secrets=secrets) if code else None,
        details=neutral_value(scrub(details[:100], secrets)),
        retry_after=parse_retry_after(retry_after_header),
    )


# ----------------------------------------------------------------------------- replies
@dataclass
class Reply:
    """A successful reply, read whole (bounded)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class JsonApiHook(BaseHook):
    """Base of the hooks that speak JSON over HTTP (see the module docstring).

    Subclasses supply ``settings`` (``TransportSettings``), ``auth`` (an ``_auth.OriginAuth``) and
    may add ``default_headers`` sent to the base URL's origin.

    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    #: Named in log lines and error messages.
    service_name = "Peak"

    @property
    def settings(self) -> TransportSettings:
        """The connection's settings (subclasses read them once, as a cached property)."""
        raise NotImplementedError

    @property
    def auth(self) -> Any:
        """The ``requests`` auth of the connection's credentials."""
        raise NotImplementedError

    @property
    def default_headers(self) -> Mapping[str, str]:
        return {}

    def __init__(self, *, api_retry_args: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tls_warned = False
        self._api_retry_args = dict(api_retry_args or {})
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._counters = {"requests": 0, "retries": 0, "token_refreshes": 0, "rate_limited": 0}

    @property
    def pool_size(self) -> int:
        return 10

    def _api_session(self) -> requests.Session:
        """The session the hook's own API calls use, created on first use."""
        with self._lock:
            if self._session is None:
                self.warn_if_unverified()
                self._session = new_session(self.settings, self.pool_size + 2)
            return self._session

    # ------------------------------------------------------------------ TLS
    #: What the log and ``test_connection`` say of a connection with ``verify=false``.
    UNVERIFIED_TLS = (
        "TLS certificates are NOT verified (the connection's verify extra is false): anyone on the "
        "network path can read and change the traffic, credentials included"
    )

    def warn_if_unverified(self) -> None:
        """A warning, once per hook, when the connection turns certificate verification off (every
        path that opens a session or client calls it: sync, async, the fetch session)."""
        if self.settings.verify is False and not self._tls_warned:
            self._tls_warned = True
            conn_id = getattr(self, str(getattr(self, "conn_name_attr", "")), None) or "(unnamed)"
            log.warning("%s connection %s: %s", self.service_name, conn_id, self.UNVERIFIED_TLS)

    def tested(self, success: bool, message: str) -> tuple[bool, str]:
        """A ``test_connection`` answer, saying so when certificates are not verified."""
        try:
            unverified = self.settings.verify is False
        except Exception:  # the connection itself could not be read: the message says why
            unverified = False
        return success, f"{message}. Warning: {self.UNVERIFIED_TLS}" if unverified else message

    def get_conn(self) -> requests.Session:
        """The hook's shared session, created on first use."""
        return self._api_session()

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    @property
    def stats(self) -> dict[str, int]:
        """Counts since the hook was created: requests sent, retries, token refreshes, 429 replies."""
        with self._lock:
            counters = dict(self._counters)
        counters["token_refreshes"] += getattr(self.__dict__.get("auth"), "refreshes", 0)
        return counters

    def _count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[key] += amount

    # ------------------------------------------------------------------ retry policy
    def _retry_args(self) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` or ``AsyncRetrying``; the caller's override wins."""
        args: dict[str, Any] = {
            "retry": tenacity.retry_if_exception(should_retry),
            "stop": tenacity.stop_after_attempt(self.settings.max_retries + 1),
            "wait": self._wait,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }
        args.update(self._api_retry_args)
        return args

    def _wait(self, state: tenacity.RetryCallState) -> float:
        s = self.settings
        exc = state.outcome.exception() if state.outcome else None
        hint = exc.retry_after if isinstance(exc, PeakHTTPError) else None
        if hint is not None:
            # Honour the server, but never spin: floor it, and cap absurd values.
            base = min(max(hint, s.retry_after_floor), s.retry_after_max)
            return base + random.uniform(0, s.retry_after_floor)
        ceiling = min(s.backoff_max, s.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self._count("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s request failed (%s); retry %d of %d in %.2f s",
            self.service_name,
            exc,
            state.attempt_number,
            self.settings.max_retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    # ------------------------------------------------------------------ transport
    def _send_once(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        authenticated: bool,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One HTTP exchange (the auth may resend it once after a 401), mapped to typed errors."""
        s = self.settings
        url = s.url(path)
        sent: dict[str, str] = {}
        if s.base_url and same_origin(url, s.base_url):
            sent.update(self.default_headers)
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", self.service_name, method, sanitize_url(url))
        with deadline(s.connect_timeout + s.timeout) as guard:
            try:
                session = self._api_session()
                # Prepared here, not by Session.request: its merging of session settings, cookies and
                # the environment costs more CPU than the rest of an ingest request.
                prepared = requests.Request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers={"User-Agent": USER_AGENT, **sent},
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
                self._count("requests", 1 + len(response.history))
                with response:
                    status = response.status_code
                    limit = ERROR_BODY_LIMIT if status >= 300 else s.max_reply_bytes
                    unreadable = None
                    try:
                        content, complete = read_body(response, limit)
                    except ValueError as exc:  # a refused or corrupt content coding
                        content, complete, unreadable = b"", True, str(exc)
            except requests.exceptions.RequestException as exc:
                if guard.expired:
                    raise self._too_slow(method, path, guard.seconds) from exc
                reason = safe_text(f"{type(exc).__name__}: {exc}", secrets=s.secrets)
                raise PeakConnectionError(
                    f"could not reach {self.service_name} for {method} {sanitize_url(path)}: {reason}"
                ) from exc
        if guard.expired:  # the shut-down socket may read as a short, "complete" body
            raise self._too_slow(method, path, guard.seconds)
        if status == 429:
            self._count("rate_limited")
        if 300 <= status < 400:
            location = sanitize_url(response.headers.get("Location", "") or "(no Location)")
            location = safe_text(location, 200, secrets=s.secrets)  # it may echo a credential
            raise PeakRedirectError(
                status,
                method,
                sanitize_url(path),
                f"redirected to {location}; the provider does not follow redirects "
                "(credentials and records stay with the connection's host): set the connection's "
                "Host to the address that answers",
            )
        if status >= 400:
            raise http_error(
                status,
                response.reason or "",
                content,
                response.headers.get("Retry-After"),
                method,
                path,
                s.secrets,
            )
        self._check_body(method, path, complete, unreadable)
        return Reply(status, response.headers, content)

    def _check_body(self, method: str, path: str, complete: bool, unreadable: str | None) -> None:
        """A successful reply's body was read whole (sync and async transports alike)."""
        if unreadable is not None:
            raise PeakError(
                f"{self.service_name} answered {method} {sanitize_url(path)} with a body the provider "
                f"does not read: {unreadable}"
            )
        if not complete:
            raise PeakError(
                f"{self.service_name} answered {method} {sanitize_url(path)} with more than "
                f"{self.settings.max_reply_bytes:,} bytes (the connection's max_reply_bytes); "
                "nothing was read"
            )

    def _too_slow(self, method: str, path: str, seconds: float) -> PeakConnectionError:
        return PeakConnectionError(
            f"{self.service_name} did not reply to {method} {sanitize_url(path)} within {seconds:g} s "
            "(the connection's connect_timeout + timeout)"
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        retry: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send a request with the retry policy (``retry=False``: one attempt); return the reply or
        raise a typed error. ``headers`` beat the defaults (``Content-Type: application/json``)."""
        kwargs: dict[str, Any] = {
            "body": body,
            "params": params,
            "authenticated": authenticated,
            "headers": headers,
        }
        if not retry:
            return self._send_once(method, path, **kwargs)
        for attempt in tenacity.Retrying(**self._retry_args()):
            with attempt:
                return self._send_once(method, path, **kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _json(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, **kwargs: Any
    ) -> Any:
        """Send ``payload`` as JSON (or a pre-encoded ``body``) and return the parsed reply."""
        if payload is not None:
            body = json.dumps(payload, separators=(",", ":")).encode()
        reply = self.request(method, path, body=body, **kwargs)
        if not reply.body.strip():
            return None
        try:
            return reply.json()
        except UNREADABLE_JSON:
            raise PeakError(
                f"{self.service_name} answered {method} {sanitize_url(path)} with a body that is not JSON"
            ) from None

    def _known_secrets(self) -> tuple[str, ...]:
        try:
            return self.settings.secrets
        except Exception:
            return ()

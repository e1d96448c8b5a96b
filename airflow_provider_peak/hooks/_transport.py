"""The JSON-over-HTTP transport shared by the Peak and Peaka hooks.

One pooled ``requests.Session`` per hook, a tenacity retry policy (429/502/503/504 and transport
errors, capped jittered back-off honouring ``Retry-After``), an OAuth refresh on 401, and replies
mapped to the typed errors of ``airflow_provider_peak.exceptions``. Subclasses supply ``settings``
(see ``TransportSettings``) and ``auth``, and may override ``_error_fields`` for another error shape.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import requests
import tenacity
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from airflow_provider_peak import __version__
from airflow_provider_peak.exceptions import (
    PeakConnectionError,
    PeakError,
    PeakHTTPError,
    PeakRateLimitError,
    error_class_for,
)
from airflow_provider_peak.hooks._auth import OAuthClientCredentials
from airflow_provider_peak.utils.redaction import sanitize_url, scrub, truncate
from airflow_provider_peak.version_compat import BaseHook

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

#: ``(code, message, details)`` read from an error reply's JSON body.
ErrorFields = tuple[str | None, str | None, list[dict[str, Any]]]


def should_retry(exc: BaseException) -> bool:
    """The retry predicate: 429/502/503/504 and transport failures, except TLS errors."""
    if isinstance(exc, PeakHTTPError):
        return exc.status in RETRYABLE_STATUS
    return isinstance(exc, PeakConnectionError) and not isinstance(
        exc.__cause__, requests.exceptions.SSLError
    )


class TransportSettings(Protocol):
    """What the transport reads from a hook's settings."""

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
    def max_in_flight(self) -> int: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...


def peak_error_fields(payload: Any) -> ErrorFields:
    """Peak's error shape: ``{"error": {"code", "message", "details"}}``."""
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    return error.get("code"), error.get("message"), error.get("details") or []


def http_error(
    status: int,
    reason: str,
    text: str,
    retry_after_header: str | None,
    method: str,
    path: str,
    secrets: tuple[str, ...],
    fields: Any = peak_error_fields,
) -> PeakHTTPError:
    """The typed error for an error reply (used by the sync and async transports alike)."""
    code: str | None = None
    details: list[dict[str, Any]] = []
    message = reason or ""
    try:
        code, parsed, details = fields(json.loads(text))
        message = str(parsed or message)
    except ValueError:
        message = text or message
    retry_after = None
    if status == 429:
        try:
            retry_after = float(retry_after_header or "")
        except ValueError:
            retry_after = None
    return error_class_for(status)(
        status,
        method,
        sanitize_url(path),
        truncate(scrub(message, secrets)),
        code=code,
        details=details,
        retry_after=retry_after,
    )


class JsonApiHook(BaseHook):
    """Base of the hooks that speak JSON over HTTP (see the module docstring).

    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    #: Named in log lines and error messages.
    service_name = "Peak"

    @property
    def settings(self) -> TransportSettings:
        """The connection's settings (subclasses read them once, as a cached property)."""
        raise NotImplementedError

    @property
    def auth(self) -> AuthBase:
        """The ``requests`` auth of the connection's credentials."""
        raise NotImplementedError

    def __init__(self, *, api_retry_args: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api_retry_args = dict(api_retry_args or {})
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._counters = {"requests": 0, "retries": 0, "token_refreshes": 0, "rate_limited": 0}

    def get_conn(self) -> requests.Session:
        """The hook's shared session, created on first use."""
        with self._lock:
            if self._session is None:
                session = requests.Session()
                pool = self.settings.max_in_flight + 2
                adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = f"airflow-provider-peak/{__version__}"
                session.verify = self.settings.verify
                self._session = session
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    @property
    def stats(self) -> dict[str, int]:
        """Counts since the hook was created: requests sent, retries, token refreshes, 429 replies."""
        with self._lock:
            return dict(self._counters)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counters[key] += 1

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

    def _retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(**self._retry_args())

    def _wait(self, state: tenacity.RetryCallState) -> float:
        s = self.settings
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, PeakRateLimitError) and exc.retry_after is not None:
            # Honour the server, but never spin: floor it, and cap absurd values.
            base = min(max(exc.retry_after, s.retry_after_floor), s.retry_after_max)
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
    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.settings.base_url}{path}"

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        authenticated: bool,
    ) -> requests.Response:
        """One HTTP exchange (plus one resend after a token refresh), mapped to typed errors."""
        session = self.get_conn()
        s = self.settings
        url = self._url(path)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        auth = self.auth if authenticated else None
        for refresh in (False, True):
            sent_token = auth.token() if isinstance(auth, OAuthClientCredentials) else None
            self._count("requests")
            log.debug("%s %s %s", self.service_name, method, sanitize_url(url))
            try:
                response = session.request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=headers,
                    auth=auth,
                    timeout=(s.connect_timeout, s.timeout),
                )
            except requests.exceptions.RequestException as exc:
                reason = scrub(f"{type(exc).__name__}: {exc}", s.secrets)
                raise PeakConnectionError(
                    f"could not reach {self.service_name} for {method} {sanitize_url(path)}: "
                    f"{truncate(reason)}"
                ) from exc
            if response.status_code == 401 and isinstance(auth, OAuthClientCredentials) and not refresh:
                # The token may have been revoked or expired early: refresh once, then give up.
                auth.invalidate(sent_token)
                self._count("token_refreshes")
                continue
            break
        if response.status_code == 429:
            self._count("rate_limited")
        if response.status_code >= 400:
            raise self._error(response, method, path)
        return response

    def _error_fields(self, payload: Any) -> ErrorFields:
        """``(code, message, details)`` of an error body; override for another API's shape."""
        return peak_error_fields(payload)

    def _error(self, response: requests.Response, method: str, path: str) -> PeakHTTPError:
        return http_error(
            response.status_code,
            response.reason or "",
            response.text,
            response.headers.get("Retry-After"),
            method,
            path,
            self.settings.secrets,
            self._error_fields,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
    ) -> requests.Response:
        """Send a request with the retry policy; return the successful response or raise a typed error."""
        for attempt in self._retrying():
            with attempt:
                return self._send_once(method, path, body=body, params=params, authenticated=authenticated)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _json(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, **kwargs: Any
    ) -> Any:
        """Send ``payload`` as JSON (or a pre-encoded ``body``) and return the parsed reply."""
        if payload is not None:
            body = json.dumps(payload, separators=(",", ":")).encode()
        response = self.request(method, path, body=body, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise PeakError(
                f"{self.service_name} answered {method} {path} with a body that is not JSON"
            ) from None

    def _known_secrets(self) -> tuple[str, ...]:
        try:
            return self.settings.secrets
        except Exception:
            return ()

"""``PeakRestHook``: the ``peak_rest`` connection of Peak's REST API connector.

Peak's connector authenticates a source API in one of three ways, each a value of the
``auth_type`` extra: ``none`` (No Auth), ``basic`` (login and password) and ``custom`` (a token
requested from ``auth_url`` with JSON ``auth_headers`` and ``auth_body``, read from the reply at
``token_path`` and sent as ``<token_header>: <token_prefix> <token>``).

The hook hands fetch code a ``requests.Session`` that is already authenticated. Credentials and
the ``headers`` extra are sent only to the connection's origin (scheme, host and port): not to an
absolute URL elsewhere, and not across a redirect to another origin, which also drops them. The
token is requested once per hook (one hook per task run) through the provider's transport
(retries, time-outs, bounded replies), refreshed ahead of a known expiry and once when the origin
answers 401. Every secret is registered with the masker.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import requests
from requests.auth import AuthBase

from airflow_provider_peak.exceptions import PeakError, PeakHTTPError, PeakRestAuthError
from airflow_provider_peak.hooks._auth import OriginAuth, TokenAuth
from airflow_provider_peak.hooks._connection import RestSettings, is_sensitive, read_connection
from airflow_provider_peak.hooks._transport import UNREADABLE_JSON, USER_AGENT, JsonApiHook
from airflow_provider_peak.transport.session import RestSession
from airflow_provider_peak.transport.urls import same_origin
from airflow_provider_peak.ui.forms import (
    PEAK_REST_CONN_FIELDS,
    PEAK_REST_UI_BEHAVIOUR,
    legacy_field_behaviour,
    legacy_form_widgets,
)
from airflow_provider_peak.utils.redaction import register_secret, safe_text, sanitize_url

__all__ = ["PeakRestHook", "RestSession", "dig", "is_sensitive"]

log = logging.getLogger(__name__)


def dig(payload: Any, path: str) -> Any:
    """Follow a dotted path (``data.token``, ``items.0.id``) into a JSON reply; ``None`` if absent."""
    current = payload
    for part in (p for p in path.split(".") if p):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return None
    return current


class BasicOriginAuth(OriginAuth):
    """HTTP Basic credentials for one origin. The header's value (``login:password`` in base64)
    is as good as the password: it is registered with the secrets masker too."""

    def __init__(self, login: str, password: str, base_url: str) -> None:
        super().__init__(base_url)
        encoded = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
        register_secret(encoded)
        self._value = "Basic " + encoded

    def apply(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return "BasicOriginAuth(password=***)"


class ConnectionAuth(AuthBase):
    """The connection's ``headers`` extra and credentials, applied to requests for its origin only."""

    def __init__(
        self, credentials: OriginAuth | None, base_url: str | None, headers: Mapping[str, str]
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url
        self.headers = dict(headers)

    def __repr__(self) -> str:
        return f"ConnectionAuth(base_url={self.base_url!r}, credentials={self.credentials!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self.base_url or not same_origin(request.url or "", self.base_url):
            return request
        for name, value in self.headers.items():
            request.headers.setdefault(name, value)
        return self.credentials(request) if self.credentials is not None else request


class PeakRestHook(JsonApiHook):
    """An authenticated ``requests.Session`` for a source REST API, as Peak's REST API connector has.

    :param rest_conn_id: the ``peak_rest`` connection: ``host`` is the base URL; extra ``auth_type``
        is ``none`` (default), ``basic`` (login/password) or ``custom`` (extras ``auth_url``,
        ``auth_method``, ``auth_headers``, ``auth_body``, ``token_path``, ``token_header``,
        ``token_prefix``, ``expires_in_path``). Other extras: ``headers``, ``timeout`` and
        ``connect_timeout`` (each request of the session ends within their sum, body included),
        ``max_reply_bytes`` (the largest body the session reads, after decompression), ``verify``,
        and ``index_urls`` (the package index of a feed's ``requirements``).
    :param timeout: default request time-out in seconds (beats the ``timeout`` extra).
    """

    conn_name_attr = "rest_conn_id"
    default_conn_name = "peak_rest_default"
    conn_type = RestSettings.conn_type
    hook_name = RestSettings.hook_name
    service_name = "the REST source"

    def __init__(
        self, rest_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.rest_conn_id = rest_conn_id
        self._overrides = {"timeout": timeout}
        self._user_session: RestSession | None = None
        self._user_lock = threading.Lock()

    @cached_property
    def settings(self) -> RestSettings:
        """The connection, read once; its secrets are registered with Airflow's masker."""
        return read_connection(RestSettings, self.get_connection(self.rest_conn_id), self._overrides)

    @cached_property
    def auth(self) -> OriginAuth | None:
        """The connection's credentials as a ``requests`` auth object (``None`` for No Auth)."""
        s = self.settings
        if s.auth_type == "basic":
            return BasicOriginAuth(s.login or "", s.password or "", s.base_url)
        if s.auth_type == "custom":
            prefix = f"{s.token_prefix} " if s.token_prefix else ""
            return TokenAuth(
                self.fetch_token, s.base_url, header=s.token_header, prefix=prefix, skew=s.refresh_skew
            )
        return None

    @property
    def provider_headers(self) -> tuple[str, ...]:
        """The names of every header the session adds for the connection's origin."""
        s = self.settings
        names = [str(name) for name in s.headers]
        if s.auth_type == "basic":
            names.append("Authorization")
        elif s.auth_type == "custom":
            names.append(s.token_header)
        return tuple(names)

    def get_conn(self) -> RestSession:
        """The hook's authenticated session for fetch code, created on first use (tokens are
        fetched lazily)."""
        with self._user_lock:
            if self._user_session is None:
                self.warn_if_unverified()
                s = self.settings
                session = RestSession(
                    s.base_url or None,
                    s.timeout,
                    self.provider_headers,
                    connect_timeout=s.connect_timeout,
                    max_reply_bytes=s.max_reply_bytes,
                    user_agent=USER_AGENT,
                )
                session.verify = s.verify
                session.auth = ConnectionAuth(self.auth, s.base_url or None, self._default_headers())
                self._user_session = session
            return self._user_session

    def close(self) -> None:
        with self._user_lock:
            if self._user_session is not None:
                self._user_session.close()
                self._user_session = None
        super().close()

    def _default_headers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.settings.headers.items()}

    def fetch_token(self) -> tuple[str, float | None]:
        """Request a Custom Auth token; returns ``(token, lifetime in seconds or None)``."""
        s = self.settings
        url = s.url(s.auth_url or "")
        shown = sanitize_url(url)
        headers = {str(k): str(v) for k, v in s.auth_headers.items()}
        form = "application/x-www-form-urlencoded" in {v.lower() for v in headers.values()}
        body: bytes | None = None
        if s.auth_body is not None:
            if form and isinstance(s.auth_body, Mapping):
                body = urlencode({str(k): str(v) for k, v in s.auth_body.items()}).encode()
            else:
                body = json.dumps(s.auth_body).encode()
                headers.setdefault("Content-Type", "application/json")
        log.info("Requesting a token: %s %s", s.auth_method.upper(), shown)
        try:
            reply = self.request(s.auth_method.upper(), url, body=body, headers=headers, authenticated=False)
        except PeakHTTPError as exc:
            raise PeakRestAuthError(f"the token request to {shown} answered {exc}") from None
        except PeakError as exc:
            raise PeakRestAuthError(f"the token request to {shown} failed: {exc}") from None
        payload: Any = None
        lifetime: float | None = None
        if not s.token_path.strip("."):
            token: Any = reply.body.decode("utf-8", errors="replace").strip()
        else:
            try:
                payload = reply.json()
            except UNREADABLE_JSON:
                raise PeakRestAuthError(f"the token reply of {shown} is not JSON") from None
            token = dig(payload, s.token_path)
            raw = dig(payload, s.expires_in_path) if s.expires_in_path else None
            try:
                lifetime = float(raw) if raw is not None else None
            except (TypeError, ValueError):
                lifetime = None
            if lifetime is not None and not 0 < lifetime < float("inf"):
                lifetime = None
        if isinstance(token, (int, float)) and not isinstance(token, bool):
            token = str(token)
        if not isinstance(token, str) or not token:
            keys = sorted(str(k) for k in payload)[:20] if isinstance(payload, Mapping) else []
            raise PeakRestAuthError(
                f"the token reply of {shown} has no token at {s.token_path!r} "
                f"(reply keys: {safe_text(str(keys), 300)}); set the token_path extra"
            )
        register_secret(token)
        return token, lifetime

    def auth_headers(self) -> dict[str, str]:
        """The headers the session adds for the connection's origin right now (fetching a token if
        needed). Used to authenticate a fetch that runs in another process (``requirements=``)."""
        s = self.settings
        if not s.base_url:
            return self._default_headers()
        probe = requests.Request("GET", s.base_url).prepare()
        probe.headers.clear()
        ConnectionAuth(self.auth, s.base_url, self._default_headers())(probe)
        return dict(probe.headers)

    def refresh_token(self, rejected: str | None = None) -> None:
        """Drop the cached token (if it is still ``rejected``, or unconditionally when ``None``)."""
        if isinstance(self.auth, TokenAuth):
            self.auth.invalidate(rejected)

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """Custom Auth: request a token. Otherwise: ``GET <test_path>`` must answer below 400."""
        try:
            s = self.settings
            if s.auth_type == "custom":
                self.fetch_token()
                return self.tested(True, "Connection successfully tested (a token was issued)")
            if not s.base_url:
                return False, "the connection has no Host (the source API's base URL)"
            response = self.get_conn().get(s.test_path, allow_redirects=False)
            if response.status_code >= 400:
                reason = safe_text(response.reason or "", 200)
                return self.tested(
                    False, f"GET {sanitize_url(s.test_path)} answered {response.status_code} {reason}"
                )
            shown = f"GET {sanitize_url(s.test_path)} answered {response.status_code}"
            return self.tested(True, f"Connection successfully tested ({shown})")
        except Exception as exc:
            return self.failed_test(exc)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``)."""
        return legacy_form_widgets(PEAK_REST_CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAK_REST_UI_BEHAVIOUR)

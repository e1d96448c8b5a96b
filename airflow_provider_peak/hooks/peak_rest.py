"""``PeakRestHook``: the ``peak_rest`` connection of Peak's REST API connector.

Peak's connector authenticates a source API in one of three ways, each a value of the
``auth_type`` extra: ``none`` (No Auth), ``basic`` (login and password) and ``custom`` (a token
requested from ``auth_url`` with JSON ``auth_headers`` and ``auth_body``, read from the reply at
``token_path`` and sent as ``<token_header>: <token_prefix> <token>``).

The hook hands fetch code a ``requests.Session`` that is already authenticated. The token is
requested once per hook (one hook per task run) and refreshed once when the API answers 401 (and
ahead of expiry when ``expires_in_path`` is set). Credentials are only attached to requests for
the connection's host, and every secret is registered with Airflow's masker.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from airflow_provider_peak import __version__
from airflow_provider_peak.exceptions import PeakConfigError, PeakRestAuthError
from airflow_provider_peak.hooks._auth import TokenCache
from airflow_provider_peak.hooks._connection import base_url_from, coerce_extra, settings_from_connection
from airflow_provider_peak.ui.forms import (
    AUTH_TYPES,
    PEAK_REST_CONN_FIELDS,
    PEAK_REST_UI_BEHAVIOUR,
    legacy_field_behaviour,
    legacy_form_widgets,
)
from airflow_provider_peak.utils.redaction import sanitize_url, scrub, truncate
from airflow_provider_peak.version_compat import BaseHook, mask_secret

log = logging.getLogger(__name__)

#: Keys whose values are secrets wherever they appear (auth body, auth headers, default headers).
SENSITIVE_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "key",
    "auth",
    "credential",
    "signature",
    "cookie",
)
_JSON_EXTRAS = ("auth_headers", "auth_body", "headers")


def is_sensitive(name: object) -> bool:
    """Whether a header or body key names a secret (``client_secret``, ``X-Api-Key``, ``Authorization``)."""
    return isinstance(name, str) and any(word in name.lower() for word in SENSITIVE_WORDS)


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


def _substitute(value: Any, login: str | None, password: str | None) -> Any:
    """Replace ``{login}`` / ``{password}`` in every string of a JSON value.

    Not ``str.format``: JSON text has braces of its own.
    """
    if isinstance(value, str):
        return value.replace("{login}", login or "").replace("{password}", password or "")
    if isinstance(value, Mapping):
        return {k: _substitute(v, login, password) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, login, password) for v in value]
    return value


def _secret_leaves(value: Any, name: str | None = None) -> list[str]:
    """String values under sensitive keys, at any depth."""
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _secret_leaves(v, k if is_sensitive(k) else name)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_leaves(v, name)]
    return [str(value)] if name is not None and value not in (None, "") else []


@dataclass(frozen=True, repr=False)
class RestSettings:
    """Everything the hook reads from a ``peak_rest`` connection. ``repr`` shows no secret."""

    base_url: str | None = None
    auth_type: str = "none"
    login: str | None = None
    password: str | None = None
    auth_url: str | None = None
    auth_method: str = "POST"
    auth_headers: Mapping[str, Any] = field(default_factory=dict)
    auth_body: Any = None
    token_path: str = "access_token"
    token_header: str = "Authorization"
    token_prefix: str = "Bearer"
    expires_in_path: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    verify: bool | str = True
    test_path: str = "/"
    #: Refresh a token with a known lifetime this many seconds before it expires.
    refresh_skew: float = 60.0

    def __repr__(self) -> str:
        return f"RestSettings(base_url={self.base_url!r}, auth_type={self.auth_type!r}, secrets=***)"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this connection holds (for masking and scrubbing)."""
        found = [self.password or ""]
        for value in (self.auth_headers, self.auth_body, self.headers):
            found.extend(_secret_leaves(value))
        return tuple(s for s in found if s)

    def absolute(self, url: str) -> str:
        if url.startswith(("http://", "https://")) or not self.base_url:
            return url
        return f"{self.base_url.rstrip('/')}/{url.lstrip('/')}"

    @classmethod
    def from_connection(
        cls,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None = None,
        port: int | None = None,
        extra: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> RestSettings:
        """Read a connection; ``overrides`` (hook arguments) beat the extras."""
        extra = {k.removeprefix("extra__peak_rest__"): v for k, v in dict(extra or {}).items()}
        extra.update({k: v for k, v in (overrides or {}).items() if v is not None})
        known = set(cls.__dataclass_fields__) - {"base_url", "login", "password"}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise PeakConfigError(f"unknown extras on the peak_rest connection: {', '.join(unknown)}")
        values: dict[str, Any] = {k: v for k, v in extra.items() if v not in (None, "")}
        for name in _JSON_EXTRAS:
            if isinstance(values.get(name), str):
                try:
                    values[name] = json.loads(values[name])
                except ValueError as exc:
                    raise PeakConfigError(f"extra {name!r} is not valid JSON ({exc.args[0]})") from None
        for name in ("auth_headers", "headers"):
            if not isinstance(values.get(name, {}), Mapping):
                raise PeakConfigError(f"extra {name!r} must be a JSON object of header names to values")
        auth_type = str(values.pop("auth_type", "none")).lower()
        if auth_type not in AUTH_TYPES:
            raise PeakConfigError(f"auth_type must be one of {', '.join(AUTH_TYPES)}; got {auth_type!r}")
        if auth_type == "basic" and not login:
            raise PeakConfigError("auth_type 'basic' needs the connection's login (and password)")
        if auth_type == "custom" and not values.get("auth_url"):
            raise PeakConfigError(
                "auth_type 'custom' needs the auth_url extra (where the token is requested)"
            )
        for name in ("timeout", "refresh_skew"):
            if name in values:
                try:
                    values[name] = float(values[name])
                except (TypeError, ValueError):
                    raise PeakConfigError(f"extra {name!r} must be a number, got {values[name]!r}") from None
        if "verify" in values:
            values["verify"] = coerce_extra("verify", values["verify"], "bool | str")
        # Placeholders keep secrets in the password field instead of the (visible) extras.
        for name in _JSON_EXTRAS:
            if name in values:
                values[name] = _substitute(values[name], login, password)
        return cls(
            base_url=base_url_from(host, schema, port, default=None),
            auth_type=auth_type,
            login=login or None,
            password=password or None,
            **values,
        )


class RestTokenAuth(AuthBase):
    """Custom Auth: a token fetched on first use, refreshed once on a 401 and ahead of a known expiry.

    Thread-safe: concurrent requests share one token and only one of them refreshes it.

    :param fetch: requests a new token; returns ``(token, lifetime seconds or None)``.
    :param header: the header that carries the token.
    :param prefix: text before the token (``Bearer``); empty for none.
    :param skew: refresh this many seconds before a known expiry.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float | None]],
        *,
        header: str = "Authorization",
        prefix: str = "Bearer",
        skew: float = 60.0,
    ) -> None:
        self.header = header
        self.prefix = prefix
        self.tokens = TokenCache(fetch, skew=skew)

    def __repr__(self) -> str:
        return f"RestTokenAuth(header={self.header!r}, token=***)"

    def token(self) -> str:
        return self.tokens.get()

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` unless another thread already replaced it."""
        self.tokens.invalidate(token)

    def header_value(self, token: str) -> str:
        return f"{self.prefix} {token}" if self.prefix else token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token()
        request.headers[self.header] = self.header_value(token)
        request._peak_token = token  # type: ignore[attr-defined]
        request.register_hook("response", self._handle_401)
        return request

    def _handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, "_peak_refreshed", False):
            return response
        # The token was revoked or expired early: refresh it once and resend this request once.
        self.invalidate(getattr(request, "_peak_token", None))
        token = self.token()
        log.info("The source API answered 401; sending the request again with a new token")
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = request.copy()
        retry.headers[self.header] = self.header_value(token)
        retry._peak_refreshed = True  # type: ignore[attr-defined]
        retry._peak_token = token  # type: ignore[attr-defined]
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


class ScopedAuth(AuthBase):
    """Applies credentials and default headers only to requests for one host (``None``: every host),
    so a fetch script calling a third-party URL with the same session does not leak them."""

    def __init__(self, inner: AuthBase | None, netloc: str | None, headers: Mapping[str, str]) -> None:
        self.inner = inner
        self.netloc = netloc
        self.headers = dict(headers)

    def __repr__(self) -> str:
        return f"ScopedAuth(netloc={self.netloc!r}, inner={self.inner!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.netloc is not None and urlsplit(request.url or "").netloc.lower() != self.netloc:
            return request
        for name, value in self.headers.items():
            request.headers.setdefault(name, value)
        return self.inner(request) if self.inner is not None else request


class RestSession(requests.Session):
    """A ``requests.Session`` that resolves relative URLs against the base URL and always has a time-out.

    :param base_url: the connection's base URL; ``session.get("/items")`` requests ``<base_url>/items``.
    :param timeout: used when a call passes no ``timeout``.
    """

    def __init__(self, base_url: str | None = None, timeout: float | None = 60.0) -> None:
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        self.headers["User-Agent"] = f"airflow-provider-peak/{__version__}"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        if self.base_url and "://" not in url:
            url = f"{self.base_url.rstrip('/')}/{url.lstrip('/')}"
        if len(args) < 7:  # ``timeout`` is the 7th positional argument after the URL
            kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class PeakRestHook(BaseHook):
    """An authenticated ``requests.Session`` for a source REST API, as Peak's REST API connector has.

    :param rest_conn_id: the ``peak_rest`` connection: ``host`` is the base URL; extra ``auth_type``
        is ``none`` (default), ``basic`` (login/password) or ``custom`` (extras ``auth_url``,
        ``auth_method``, ``auth_headers``, ``auth_body``, ``token_path``, ``token_header``,
        ``token_prefix``, ``expires_in_path``). Other extras: ``headers``, ``timeout``, ``verify``.
    :param timeout: default request time-out in seconds (beats the ``timeout`` extra).
    """

    conn_name_attr = "rest_conn_id"
    default_conn_name = "peak_rest_default"
    conn_type = "peak_rest"
    hook_name = "Peak REST API source"

    def __init__(
        self, rest_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.rest_conn_id = rest_conn_id
        self._overrides = {"timeout": timeout}
        self._session: RestSession | None = None
        self._lock = threading.Lock()

    @cached_property
    def settings(self) -> RestSettings:
        """The connection, read once; its secrets are registered with Airflow's masker."""
        return settings_from_connection(RestSettings, self.get_connection(self.rest_conn_id), self._overrides)

    @cached_property
    def auth(self) -> AuthBase | None:
        """The connection's credentials as a ``requests`` auth object (``None`` for No Auth)."""
        s = self.settings
        if s.auth_type == "basic":
            return HTTPBasicAuth(s.login or "", s.password or "")
        if s.auth_type == "custom":
            return RestTokenAuth(
                self.fetch_token, header=s.token_header, prefix=s.token_prefix, skew=s.refresh_skew
            )
        return None

    def get_conn(self) -> RestSession:
        """The hook's authenticated session, created on first use (tokens are fetched lazily)."""
        with self._lock:
            if self._session is None:
                s = self.settings
                session = RestSession(s.base_url, s.timeout)
                session.verify = s.verify
                netloc = urlsplit(s.base_url).netloc.lower() if s.base_url else None
                session.auth = ScopedAuth(self.auth, netloc, {k: str(v) for k, v in s.headers.items()})
                self._session = session
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def fetch_token(self) -> tuple[str, float | None]:
        """Request a Custom Auth token; returns ``(token, lifetime in seconds or None)``."""
        s = self.settings
        url = s.absolute(s.auth_url or "")
        headers = {str(k): str(v) for k, v in s.auth_headers.items()}
        form = "application/x-www-form-urlencoded" in {v.lower() for v in headers.values()}
        body = s.auth_body
        request: dict[str, Any] = {}
        if body is not None:
            request["data" if form and isinstance(body, Mapping) else "json"] = body
        shown = sanitize_url(url)
        log.info("Requesting a token: %s %s", s.auth_method.upper(), shown)
        try:
            response = requests.request(
                s.auth_method.upper(), url, headers=headers, timeout=s.timeout, verify=s.verify, **request
            )
        except requests.RequestException as exc:
            reason = truncate(scrub(f"{type(exc).__name__}: {exc}", s.secrets), 300)
            raise PeakRestAuthError(f"the token request to {shown} failed: {reason}") from None
        if response.status_code >= 400:
            text = truncate(scrub(response.text, s.secrets), 300)
            raise PeakRestAuthError(
                f"the token request to {shown} answered {response.status_code} {response.reason}: {text}"
            )
        if not s.token_path.strip("."):
            token: Any = response.text.strip()
            lifetime = None
        else:
            try:
                payload = response.json()
            except ValueError:
                raise PeakRestAuthError(f"the token reply of {shown} is not JSON") from None
            token = dig(payload, s.token_path)
            raw = dig(payload, s.expires_in_path) if s.expires_in_path else None
            try:
                lifetime = float(raw) if raw is not None else None
            except (TypeError, ValueError):
                lifetime = None
        if isinstance(token, (int, float)) and not isinstance(token, bool):
            token = str(token)
        if not isinstance(token, str) or not token:
            keys = sorted(payload) if s.token_path.strip(".") and isinstance(payload, Mapping) else []
            raise PeakRestAuthError(
                f"the token reply of {shown} has no token at {s.token_path!r} (reply keys: {keys}); "
                "set the token_path extra"
            )
        mask_secret(token)
        return token, lifetime

    def auth_headers(self) -> dict[str, str]:
        """The headers the session adds for the connection's host right now (fetching a token if needed).

        Used to authenticate a fetch that runs in another process (``requirements=``).
        """
        s = self.settings
        probe = requests.Request("GET", s.base_url or "http://source.invalid/").prepare()
        probe.headers.clear()
        ScopedAuth(self.auth, None, {k: str(v) for k, v in s.headers.items()})(probe)
        return dict(probe.headers)

    def refresh_token(self, rejected: str | None = None) -> None:
        """Drop the cached token (if it is still ``rejected``, or unconditionally when ``None``)."""
        if isinstance(self.auth, RestTokenAuth):
            self.auth.invalidate(rejected if rejected is not None else self.auth.tokens.current)

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """Custom Auth: request a token. Otherwise: ``GET <test_path>`` must answer below 400."""
        try:
            s = self.settings
            if s.auth_type == "custom":
                self.fetch_token()
                return True, "Connection successfully tested (a token was issued)"
            response = self.get_conn().get(s.test_path)
            if response.status_code >= 400:
                return (
                    False,
                    f"GET {sanitize_url(s.test_path)} answered {response.status_code} {response.reason}",
                )
            return True, f"Connection successfully tested (GET {s.test_path} answered {response.status_code})"
        except Exception as exc:
            try:
                secrets = self.settings.secrets
            except Exception:
                secrets = ()
            return False, scrub(str(exc), secrets)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``)."""
        return legacy_form_widgets(PEAK_REST_CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAK_REST_UI_BEHAVIOUR)

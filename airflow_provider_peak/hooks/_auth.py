"""``requests`` auth objects: a raw API-key header, and tokens (OAuth client credentials, a REST
source's Custom Auth) that are cached, refreshed ahead of expiry and once on a 401.

Every auth object is bound to one origin (scheme, host and port: ``transport.session.OriginAuth``):
it adds nothing to a request for any other URL, and only a 401 from its own origin triggers the one
refresh (``transport.session.RefreshingAuth``, which the REST feed's virtualenv uses too). A token
is registered with the masker and the scrubber the moment it is obtained. No ``repr`` shows a
secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from airflow_provider_peak.errors import PeakError
from airflow_provider_peak.transport.session import OriginAuth, RefreshingAuth
from airflow_provider_peak.utils.redaction import register_secret

__all__ = ["ApiKeyAuth", "OAuthClientCredentials", "OriginAuth", "TokenAuth", "TokenCache"]

#: Fetches a token: returns ``(token, lifetime in seconds or None when unknown)``.
TokenFetcher = Callable[[], tuple[str, float | None]]


class ApiKeyAuth(OriginAuth):
    """Sends the tenant API key as ``<header>: <prefix><key>`` (raw ``Authorization: <key>`` by default)."""

    def __init__(self, api_key: str, base_url: str, header: str = "Authorization", prefix: str = "") -> None:
        super().__init__(base_url)
        self._api_key = api_key
        self.header = header
        self.prefix = prefix

    def apply(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self._value()
        return request

    def headers_for(self, url: str | None) -> dict[str, str]:
        """The key's header for ``url``, for clients other than ``requests`` (the async one): none
        unless ``url`` is on the base URL's origin."""
        return {self.header: self._value()} if self.applies_to(url) else {}

    def _value(self) -> str:
        return f"{self.prefix}{self._api_key}"

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self.header!r}, api_key=***)"


class TokenCache:
    """One token shared by threads: fetched on first use, refreshed ``skew`` seconds before a known
    expiry, and dropped by ``invalidate`` when a server refuses it. Only one thread fetches at a time.

    :param fetch: returns ``(token, lifetime in seconds or None when unknown)``.
    """

    def __init__(self, fetch: TokenFetcher, *, skew: float = 60.0) -> None:
        self._fetch = fetch
        self.skew = skew
        self._lock = threading.Lock()
        self.current: str | None = None
        self.expires_at: float | None = None
        self.fetched = 0

    def get(self) -> str:
        """The cached token, or a new one when there is none or it is about to expire."""
        with self._lock:
            stale = self.expires_at is not None and time.monotonic() >= self.expires_at
            if self.current is None or stale:
                token, lifetime = self._fetch()
                register_secret(token)
                self.current = token
                # A token shorter-lived than twice the skew is refreshed at half its life instead.
                self.expires_at = (
                    None if lifetime is None else time.monotonic() + max(lifetime - self.skew, lifetime / 2)
                )
                self.fetched += 1
            return self.current

    def invalidate(self, token: str | None = None) -> None:
        """Forget ``token`` if it is still the cached one (another thread may have refreshed it);
        with no ``token``, forget whatever is cached."""
        with self._lock:
            if token is None or token == self.current:
                self.current = None


class TokenAuth(RefreshingAuth):
    """A cached token sent as ``<header>: <prefix><token>`` to one origin; when that origin answers
    401, the token is refreshed once and the request sent again with the new one.

    Thread-safe: concurrent requests share one token, and only one of them fetches a new one.

    :param fetch: requests a new token; returns ``(token, lifetime seconds or None)``.
    :param base_url: the origin the token belongs to.
    :param header: the header that carries the token.
    :param prefix: text before the token, separator included (``"Bearer "``); empty for none.
    :param skew: refresh this many seconds before a known expiry.
    """

    def __init__(
        self,
        fetch: TokenFetcher,
        base_url: str,
        *,
        header: str = "Authorization",
        prefix: str = "Bearer ",
        skew: float = 60.0,
    ) -> None:
        super().__init__(base_url)
        self.header = header
        self.prefix = prefix
        self.tokens = TokenCache(fetch, skew=skew)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(header={self.header!r}, token=***)"

    def token(self) -> str:
        return self.tokens.get()

    def invalidate(self, token: str | None = None) -> None:
        """Forget ``token`` unless another thread already replaced it (any token when ``None``)."""
        self.tokens.invalidate(token)

    def header_value(self, token: str) -> str:
        return f"{self.prefix}{token}"

    def sign(self, request: requests.PreparedRequest) -> None:
        token = self.token()
        request.headers[self.header] = self.header_value(token)
        request._peak_token = token  # type: ignore[attr-defined]

    def renew(self, refused: requests.PreparedRequest) -> None:
        # Revoked or expired early: drop it, unless another thread already replaced it.
        self.invalidate(getattr(refused, "_peak_token", None))


class OAuthClientCredentials(TokenAuth):
    """OAuth client-credentials grant with a cached token, refreshed ``skew`` seconds before expiry.

    The token endpoint is an assumed part of the contract, so the request body and the reply's
    reading are small overridable methods.

    :param post: posts the token request body and returns the parsed reply (the hook supplies it,
        so the token call shares the hook's session, time-outs and retries).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        post: Callable[[dict[str, Any]], Mapping[str, Any]],
        base_url: str,
        *,
        audience: str | None = None,
        skew: float = 60.0,
        default_ttl: float = 86400.0,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self.default_ttl = default_ttl
        self._post = post
        super().__init__(
            lambda: self.parse_token(self._post(self.build_token_request())), base_url, skew=skew
        )

    def build_token_request(self) -> dict[str, Any]:
        """The JSON body of the token request; override for a differently shaped endpoint."""
        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.audience:
            body["audience"] = self.audience
        return body

    def parse_token(self, payload: Mapping[str, Any]) -> tuple[str, float]:
        """Return ``(access_token, lifetime_seconds)`` from the token reply."""
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise PeakError("the OAuth token reply has no access_token")
        expires_in = payload.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in is not None else self.default_ttl
        except (TypeError, ValueError):
            lifetime = self.default_ttl
        if not 0 < lifetime < float("inf"):
            lifetime = self.default_ttl
        return token, lifetime

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(client_id={self.client_id!r}, client_secret=***)"

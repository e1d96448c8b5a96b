"""``requests`` auth objects for Peak: a raw API-key header and cached OAuth client credentials.

Neither object's ``repr`` shows its secret. The OAuth token endpoint is an assumed part of the
contract, so the request and reply handling are small overridable methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.auth import AuthBase

#: Fetches a token: receives the JSON request body, returns the parsed JSON reply.
TokenFetcher = Callable[[dict[str, Any]], Mapping[str, Any]]


class ApiKeyAuth(AuthBase):
    """Sends the tenant API key as ``<header>: <prefix><key>`` (raw ``Authorization: <key>`` by default)."""

    def __init__(self, api_key: str, header: str = "Authorization", prefix: str = "") -> None:
        self._api_key = api_key
        self.header = header
        self.prefix = prefix

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = f"{self.prefix}{self._api_key}"
        return request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self.header!r}, api_key=***)"


class TokenCache:
    """One token shared by threads: fetched on first use, refreshed ``skew`` seconds before a known
    expiry, and dropped by ``invalidate`` when a server refuses it. Only one thread fetches at a time.

    :param fetch: returns ``(token, lifetime in seconds or None when unknown)``.
    :param on_token: called with each new token (the hooks register it with Airflow's masker).
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float | None]],
        *,
        skew: float = 60.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.skew = skew
        self._on_token = on_token
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
                if self._on_token:
                    self._on_token(token)
                self.current = token
                # A token shorter-lived than twice the skew is refreshed at half its life instead.
                self.expires_at = (
                    None if lifetime is None else time.monotonic() + max(lifetime - self.skew, lifetime / 2)
                )
                self.fetched += 1
            return self.current

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` if it is still the cached one (another thread may have refreshed it)."""
        with self._lock:
            if token is not None and token == self.current:
                self.current = None


class OAuthClientCredentials(AuthBase):
    """OAuth client-credentials grant with a cached token, refreshed ``skew`` seconds before expiry.

    Thread-safe: concurrent senders share one token, and only one of them fetches a new one.
    ``invalidate`` drops a token the server refused so that the next call fetches a fresh one.

    :param fetch: posts the token request body and returns the reply (the hook supplies it, so the
        token call shares the hook's session, time-outs and retries).
    :param on_token: called with each new access token (the hook registers it with the masker).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        fetch: TokenFetcher,
        *,
        audience: str | None = None,
        skew: float = 60.0,
        default_ttl: float = 86400.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self.skew = skew
        self.default_ttl = default_ttl
        self._fetch = fetch
        self.tokens = TokenCache(
            lambda: self.parse_token(self._fetch(self.build_token_request())), skew=skew, on_token=on_token
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
            raise ValueError("the token reply has no access_token")
        expires_in = payload.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in is not None else self.default_ttl
        except (TypeError, ValueError):
            lifetime = self.default_ttl
        return token, lifetime

    def token(self) -> str:
        """The current token, fetching a new one when none is cached or it is about to expire."""
        return self.tokens.get()

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` if it is still the cached one (another thread may have refreshed it)."""
        self.tokens.invalidate(token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(client_id={self.client_id!r}, client_secret=***)"

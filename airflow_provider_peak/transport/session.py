"""The ``requests.Session`` handed to fetch code, credentials bound to one origin, and the one 401
refresh of every token the provider sends.

Standard library, ``requests`` and ``urllib3`` only, and relative imports within this package: a
REST feed's fetch in a ``requirements=`` virtualenv loads the package by path (see
``feed/venv_child.py``) and builds its session from this module, as the worker does
(``hooks.peak_rest``), so both apply the same origin rules, deadlines, bounds and refresh.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.auth import AuthBase

from .bounded import ACCEPT_ENCODING, BoundedAdapter
from .urls import join_url, same_origin

log = logging.getLogger(__name__)


class OriginAuth(AuthBase):
    """Credentials for one origin: ``apply`` is called only for requests to ``base_url``'s origin
    (scheme, host and port), never for an absolute URL elsewhere."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url

    def applies_to(self, url: str | None) -> bool:
        return bool(url) and bool(self.base_url) and same_origin(url or "", self.base_url or "")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self.apply(request) if self.applies_to(request.url) else request

    def apply(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        raise NotImplementedError


class HeadersAuth(OriginAuth):
    """Fixed headers for one origin."""

    def __init__(self, base_url: str | None, headers: dict[str, str]) -> None:
        super().__init__(base_url)
        self.headers = headers

    def apply(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.headers)
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, headers=***)"


class RefreshingAuth(OriginAuth):
    """Credentials for one origin that can be renewed: when that origin answers 401, they are
    renewed once and the request is sent again once with the new ones; a second 401 is the answer.

    The refused reply is closed, not drained: the connection is dropped rather than reading an
    unbounded body. Subclasses say how a request is signed and how credentials are renewed.
    """

    def __init__(self, base_url: str | None) -> None:
        super().__init__(base_url)
        self.refreshes = 0

    def sign(self, request: requests.PreparedRequest) -> None:
        """Put the current credentials on ``request``."""
        raise NotImplementedError

    def renew(self, refused: requests.PreparedRequest) -> None:
        """New credentials, after the origin refused those ``refused`` carried."""
        raise NotImplementedError

    def apply(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.sign(request)
        request.register_hook("response", self._refresh_once)
        return request

    def _refresh_once(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if (
            response.status_code != 401
            or getattr(request, "_peak_refreshed", False)
            or not self.applies_to(request.url)
        ):
            return response
        self.renew(request)
        self.refreshes += 1
        log.info("The API answered 401; sending the request again with new credentials")
        retry = request.copy()
        self.sign(retry)
        retry._peak_refreshed = True  # type: ignore[attr-defined]
        response.close()
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


class RestSession(requests.Session):
    """A ``requests.Session`` that resolves relative URLs against the base URL, always has a
    time-out, bounds every exchange, and drops the headers the provider added when a redirect leaves
    the base URL's origin.

    Every request ends within its connect plus read time-out in total, body included (a source
    that trickles its reply cannot hold the task: ``requests.exceptions.ReadTimeout``), and its
    body decodes to at most ``max_reply_bytes`` (a small compressed reply cannot inflate into a huge
    one: ``requests.exceptions.ContentDecodingError``), whether it is read at once or streamed. Only
    ``gzip`` and ``deflate`` are asked for and read; stacked encodings are refused.

    :param base_url: the connection's base URL; ``session.get("/items")`` requests ``<base_url>/items``.
    :param timeout: the read time-out used when a call passes no ``timeout``.
    :param provider_headers: the names of the headers the provider adds (credentials, the
        ``headers`` extra), removed from a redirected request to another origin.
    :param connect_timeout: the connect time-out used when a call passes no ``timeout``.
    :param max_reply_bytes: the largest reply body read, after decompression.
    :param user_agent: the ``User-Agent`` sent (``requests``' own when ``None``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | None = 60.0,
        provider_headers: tuple[str, ...] = (),
        *,
        connect_timeout: float = 10.0,
        max_reply_bytes: int = 64 * 1024 * 1024,
        user_agent: str | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_reply_bytes = max_reply_bytes
        self.provider_headers = tuple(provider_headers)
        if user_agent is not None:
            self.headers["User-Agent"] = user_agent
        self.headers["Accept-Encoding"] = ACCEPT_ENCODING
        adapter = BoundedAdapter(connect_timeout + (timeout or 60.0), max_reply_bytes)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        url = join_url(self.base_url, url)
        if len(args) < 7 and self.timeout is not None:  # ``timeout``: the 7th positional after the URL
            kwargs.setdefault("timeout", (self.connect_timeout, self.timeout))
        return super().request(method, url, *args, **kwargs)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)  # drops Authorization on a host change
        if self.base_url and not same_origin(prepared_request.url or "", self.base_url):
            for name in (*self.provider_headers, "Authorization"):
                prepared_request.headers.pop(name, None)

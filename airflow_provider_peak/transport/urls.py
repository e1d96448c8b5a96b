"""URLs: one joiner and one notion of "the same origin", for every HTTP client of the provider.

Standard library only, no project imports: the REST feed's virtualenv child process loads this
package by path, so that its session applies exactly the parent's rules.

Credentials and the headers the provider adds travel only to the origin (scheme, host and port)
of the connection they belong to: ``same_origin`` is the one check every client makes, for
absolute URLs, redirects and 401 refreshes alike.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Longer URLs are parsed each time rather than cached: a server's page tokens ride in the query,
#: and a cache keyed by such URLs would keep every one of them.
_CACHED_URL_CHARS = 512


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port filled in."""
    return _parse_origin(url) if len(url) > _CACHED_URL_CHARS else _cached_origin(url)


def _parse_origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: an origin nothing else shares
        return scheme, parts.netloc.lower(), -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


_cached_origin = lru_cache(maxsize=256)(_parse_origin)  # the same few URLs, on every request of a load


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on ``base_url``'s origin (scheme, host and port)."""
    return origin(url) == origin(base_url)


def is_absolute(url: str) -> bool:
    return "://" in url.split("?", 1)[0]


def join_url(base_url: str | None, path: str) -> str:
    """``path`` under ``base_url`` (exactly one ``/`` between them); an absolute ``path`` as it is."""
    if is_absolute(path) or not base_url:
        return path
    if not path:
        return base_url
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"

"""Keep secrets out of logs, exception messages and reprs, and servers' words in their place.

Every secret the provider learns (a connection's password and secret extras, each access token the
moment it is obtained, current and earlier ones, the credentials of a URL it is given) is
registered here and with Airflow's secrets masker. ``scrub`` removes every registered secret from
any text or JSON value, however deeply nested, so an error built from a server's reply (message,
code, details) never carries one. ``neutral`` writes a server's control and invisible formatting
characters as escapes, so its text stays on one line and cannot forge a log line.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

_SECRET_QUERY = re.compile(
    r"((?:api[_-]?key|token|access_token|client_secret|password|secret|key|signature|sig)=)[^&#\s]+",
    re.IGNORECASE,
)
#: ``user:password@`` (or ``token@``) after a URL's scheme, anywhere in a text.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
MAX_BODY_CHARS = 500
#: Shorter strings are not scrubbed: replacing "a" or "12" everywhere would garble messages.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_known: set[str] = set()
_ordered: tuple[str, ...] = ()


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` for every later ``scrub`` in this process and mask it in Airflow's logs."""
    global _ordered
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret in _known:
            return
        _known.add(secret)
        # Longest first, so a secret that contains another is removed whole.
        _ordered = tuple(sorted(_known, key=len, reverse=True))
    try:
        from airflow_provider_peak.version_compat import mask_secret

        mask_secret(secret)
    except ImportError:  # pragma: no cover - benchmarks may run without Airflow
        pass


def scrub(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """``value`` with every registered secret (and every one of ``secrets``) replaced by ``***``.

    Strings, and the strings inside lists, tuples and mappings (keys too), at any depth.
    """
    extra = tuple(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
    known = _ordered
    if extra:
        known = tuple(sorted({*known, *extra}, key=len, reverse=True))
    return _scrub(value, known) if known else value


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v, secrets) for v in value)
    return value


def _mask_query(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", text)


def mask_url_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it (``user:password@``, ``token@``) and
    secret-looking query values replaced by ``***``: for texts that hold URLs, such as a pip
    requirement (``pkg @ https://user:token@host/pkg.whl``) or a command line."""
    return _mask_query(_URL_USERINFO.sub(r"\1***@", text))


def without_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part (for what is shown or published, such as a link
    or a lineage namespace)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _URL_USERINFO.sub(r"\1", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_credentials(url: str) -> list[str]:
    """The secrets in a URL's ``user:password@`` part: the password, or a user name that stands
    alone (``https://<token>@host``), as written and percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    raw = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if not raw:
        return []
    user, _, password = raw.partition(":")
    secret = password or user
    return [s for s in dict.fromkeys((secret, unquote(secret))) if s]


def sanitize_url(url: str) -> str:
    """A URL safe to log: ``user:password@`` becomes ``***@`` and secret-looking query values ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _mask_query(url)
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        url = urlunsplit(parts._replace(netloc=f"***@{host}"))
    return _mask_query(url)


def neutral(text: str) -> str:
    """Text a server chose, made safe for a log line or a message: one line, every control,
    invisible formatting or separator character written as its escape (``\\n``, ``\\x1b``,
    ``\\u202e``), so it can neither forge a log line nor hide what it says."""
    if text.isprintable():
        return text
    # repr() escapes exactly the characters that are not printable.
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def neutral_value(value: Any) -> Any:
    """``neutral`` on every string of a JSON value (keys too), at any depth."""
    if isinstance(value, str):
        return neutral(value)
    if isinstance(value, Mapping):
        return {neutral_value(k): neutral_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [neutral_value(v) for v in value]
    return value


def truncate(text: str, limit: int = MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def safe_text(text: str, limit: int = MAX_BODY_CHARS, secrets: Iterable[str | None] = ()) -> str:
    """Scrubbed, URL credentials and secret-looking query values masked, made one line
    (``neutral``), then truncated: what a log line or an error message may carry of a server's
    words or a transport failure's (urllib3 names the URL it failed on)."""
    return truncate(neutral(mask_url_credentials(scrub(text, secrets))), limit)

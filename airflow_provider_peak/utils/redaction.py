"""Keep secrets out of logs, exception messages and reprs."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SECRET_QUERY = re.compile(
    r"((?:api[_-]?key|token|access_token|client_secret|password|secret|key)=)[^&#\s]+", re.IGNORECASE
)
MAX_BODY_CHARS = 500


def sanitize_url(url: str) -> str:
    """Mask secret-looking query values (``?api_key=***``)."""
    return _SECRET_QUERY.sub(r"\1***", url)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret in ``text`` with ``***`` (longest first, so prefixes stay hidden)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def truncate(text: str, limit: int = MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"

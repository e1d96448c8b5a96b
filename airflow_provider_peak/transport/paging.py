"""Next-page tokens, followed safely: one home for every listing paged by a server's token
(Peak's tables, a workflow step's logs).

A server's token is untrusted input the client keeps and sends back: it is bounded in length,
and a token seen before ends the listing (a server that loops would otherwise hold the task for
ever). Only digests of the tokens seen are kept. No Airflow import.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.errors import PeakError

log = logging.getLogger(__name__)

#: The longest next-page token accepted: a listing keeps one (and sends it back) per page, so a
#: server's token may not cost the client more than this.
MAX_PAGE_TOKEN_CHARS = 4096


class PageTokens:
    """The tokens of one listing: ``next(page)`` is the token of the page after ``page``, or
    ``None`` when there is none, or it repeats one seen before (the listing ends there).

    :param keys: the reply keys that may hold the token, the first one present wins.
    :param what: what is listed, named in errors and log lines (``Peak's list of tables``).
    """

    def __init__(self, keys: Sequence[str], what: str) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self.what = what
        self._seen: set[bytes] = set()  # 32-byte digests, not the tokens themselves

    def next(self, page: Mapping[str, Any]) -> str | None:
        key = next((k for k in self.keys if page.get(k)), None)
        found = page.get(key) if key else None
        token = found if isinstance(found, str) and found else None
        if token is None:
            return None
        if len(token) > MAX_PAGE_TOKEN_CHARS:
            raise PeakError(
                f"{self.what} holds a next-page token of {len(token):,} characters at {key!r} "
                f"(the provider refuses more than {MAX_PAGE_TOKEN_CHARS:,})"
            )
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        if digest in self._seen:
            log.warning("%s sent the same next-page token twice; stopping the listing there", self.what)
            return None
        self._seen.add(digest)
        return token

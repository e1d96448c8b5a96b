"""Peak's feed-name rules, checked when the DAG is parsed.

Peak documents four rules for a feed name: only letters, digits and underscores; starts with a
letter; does not end with an underscore; at most 50 characters. The error names the rule that
failed, so a DAG author can fix the name without looking the rules up.
"""

from __future__ import annotations

import re

from airflow_provider_peak.exceptions import FeedNameError

MAX_FEED_NAME_LENGTH = 50
_ALLOWED = re.compile(r"[A-Za-z0-9_]+")


def check_feed_name(name: object) -> str:
    """Return ``name`` if Peak accepts it as a feed name; else raise ``FeedNameError`` naming the rule."""
    if not isinstance(name, str) or not name:
        raise FeedNameError(name, "empty", "a feed name must be a non-empty string")
    if not _ALLOWED.fullmatch(name):
        bad = sorted({ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch == "_"))})
        raise FeedNameError(
            name,
            "characters",
            f"only letters, digits and underscores are allowed (found {''.join(bad)!r})",
        )
    if not name[0].isalpha():
        raise FeedNameError(name, "start", "must start with a letter")
    if name.endswith("_"):
        raise FeedNameError(name, "end", "must not end with an underscore")
    if len(name) > MAX_FEED_NAME_LENGTH:
        raise FeedNameError(
            name, "length", f"is {len(name)} characters long; at most {MAX_FEED_NAME_LENGTH} are allowed"
        )
    return name

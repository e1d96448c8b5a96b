"""What every emulated API answers with, and what the server needs of an API to mount it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Reply:
    """One HTTP answer: JSON unless ``headers`` names another ``Content-Type`` and ``body`` is set.

    ``drop`` is ``"reset"`` (close with a TCP reset) or ``"close"`` (close quietly): the
    connection ends with no reply at all, as a fault wants.
    """

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: str | None = None
    body: bytes | None = None

    def encode(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps(self.payload, default=str).encode()


class Api(Protocol):
    """An API the server mounts: it claims paths, and answers the requests for them.

    ``admin`` (optional) answers ``/_emulator/<name>/...``, the test and inspection routes that
    the server guards with its admin key.
    """

    def owns(self, path: str) -> bool: ...

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, body: bytes
    ) -> Reply: ...

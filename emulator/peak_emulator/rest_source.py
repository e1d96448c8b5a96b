"""A paginated "orders" REST API under ``/_source/``, the kind of source a Peak REST feed reads.

It lets REST feeds be tried and tested without a third-party API: the same orders are served behind
each of the three authentication types of Peak's REST API connector.

* ``GET /_source/{none|basic|custom}/orders?after_id=N&limit=M``: orders with ``order_id > N`` in
  id order, at most ``limit`` (default 25, at most 500) per page, as
  ``{"data": [...], "has_more": bool, "next_after_id": int | null}``. ``basic`` needs
  ``Authorization: Basic <username:password>``; ``custom`` needs ``Authorization: Bearer <token>``.
* ``POST /_source/auth/token`` with JSON ``{"client_id", "client_secret"}``: ``{"access_token",
  "token_type": "Bearer", "expires_in"}``.
* ``POST /_source/admin/orders`` with ``{"count": n}`` adds ``n`` orders; ``GET
  /_source/admin/stats`` returns request counters; ``POST /_source/admin/revoke`` revokes every
  token (the next request with one gets a 401).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from peak_emulator.replies import Reply

PREFIX = "/_source"
AUTH_MODES = ("none", "basic", "custom")
MAX_PAGE = 500
_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_STATUSES = ("placed", "paid", "shipped", "delivered")


def make_order(order_id: int) -> dict[str, Any]:
    """The order with this id: the same values every time."""
    return {
        "order_id": order_id,
        "customer": f"customer-{order_id * 7 % 101:03d}",
        "amount": round(5 + (order_id * 37 % 1000) / 4, 2),
        "currency": "GBP" if order_id % 3 else "EUR",
        "status": _STATUSES[order_id % len(_STATUSES)],
        "express": order_id % 5 == 0,
        "created_at": (_EPOCH + timedelta(minutes=order_id)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [{"sku": f"SKU-{order_id % 17:02d}", "qty": 1 + order_id % 4}],
    }


class SourceApi:
    """The orders source; see the module docstring. Thread-safe.

    :param orders: orders that exist from the start (ids ``1..orders``).
    :param username: Basic Auth user name.
    :param password: Basic Auth password.
    :param client_id: Custom Auth client id (token request body).
    :param client_secret: Custom Auth client secret (token request body).
    :param token_ttl: seconds a token lives (``expires_in``).
    """

    def __init__(
        self,
        *,
        orders: int = 0,
        username: str = "source-user",
        password: str = "source-password",
        client_id: str = "source-client",
        client_secret: str = "source-secret",
        token_ttl: float = 3600.0,
    ) -> None:
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._count = orders
        self._tokens: dict[str, float] = {}
        self._failures: list[tuple[int, int]] = []
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ controls
    @property
    def order_count(self) -> int:
        with self._lock:
            return self._count

    def add_orders(self, count: int) -> int:
        """Add ``count`` orders; returns the newest order id."""
        with self._lock:
            self._count += max(count, 0)
            return self._count

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def fail_page(self, after_id: int, status: int = 503) -> None:
        """The next request for the page starting after ``after_id`` answers ``status`` (once)."""
        with self._lock:
            self._failures.append((after_id, status))

    def reset(self, orders: int = 0) -> None:
        """Back to ``orders`` orders, no tokens, faults or counters."""
        with self._lock:
            self._count = orders
            self._tokens.clear()
            self._failures.clear()
            self.stats.clear()

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    # ------------------------------------------------------------------ requests
    def owns(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, raw: bytes
    ) -> Reply:
        """Answer one request for ``path`` (which starts with ``/_source``)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = path[len(PREFIX) :].strip("/").split("/")
        route = "/".join(parts)
        with self._lock:
            self.stats[f"{method} {route}"] += 1
        if method == "POST" and parts == ["auth", "token"]:
            return self._token(body)
        if parts[0] == "admin":
            return self._admin(method, parts[1:], body)
        if len(parts) == 2 and parts[0] in AUTH_MODES and parts[1] == "orders" and method == "GET":
            denied = self._check_auth(parts[0], headers.get("Authorization"))
            if denied is not None:
                return denied
            return self._orders(query)
        return _error(404, "no such source endpoint")

    def _check_auth(self, mode: str, header: str | None) -> Reply | None:
        if mode == "none":
            return None
        scheme, _, value = (header or "").partition(" ")
        if mode == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if scheme.lower() == "basic" and secrets.compare_digest(value, expected):
                return None
            return _error(401, "basic credentials required", {"WWW-Authenticate": 'Basic realm="source"'})
        with self._lock:
            expires = self._tokens.get(value) if scheme.lower() == "bearer" else None
        if expires is None or time.monotonic() >= expires:
            return _error(401, "a valid bearer token is required")
        return None

    def _token(self, body: Any) -> Reply:
        if not isinstance(body, Mapping):
            return _error(400, "the token request needs a JSON object body")
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return _error(401, "invalid client credentials")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
            self.stats["tokens_issued"] += 1
        reply = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        return Reply(200, reply, {})

    def _orders(self, query: Mapping[str, list[str]]) -> Reply:
        try:
            after = int((query.get("after_id") or ["0"])[0])
            limit = int((query.get("limit") or ["25"])[0])
        except ValueError:
            return _error(400, "after_id and limit must be integers")
        if not 1 <= limit <= MAX_PAGE:
            return _error(400, f"limit must be 1..{MAX_PAGE}")
        with self._lock:
            failure = next((f for f in self._failures if f[0] == after), None)
            if failure is not None:
                self._failures.remove(failure)
            total = self._count
        if failure is not None:
            return _error(failure[1], "the source is unavailable (injected)")
        ids = range(max(after, 0) + 1, min(after + limit, total) + 1)
        data = [make_order(i) for i in ids]
        more = bool(data) and data[-1]["order_id"] < total
        with self._lock:
            self.stats["records_served"] += len(data)
        reply = {"data": data, "has_more": more, "next_after_id": data[-1]["order_id"] if more else None}
        return Reply(200, reply, {})

    def _admin(self, method: str, parts: list[str], body: Any) -> Reply:
        if method == "POST" and parts == ["orders"]:
            count = body.get("count") if isinstance(body, Mapping) else None
            if not isinstance(count, int) or count < 0:
                return _error(400, 'body must be {"count": <non-negative integer>}')
            return Reply(201, {"orders": self.add_orders(count)}, {})
        if method == "POST" and parts == ["revoke"]:
            self.revoke_tokens()
            return Reply(200, {"ok": True}, {})
        if method == "GET" and parts == ["stats"]:
            with self._lock:
                return Reply(200, {"orders": self._count, **self.stats}, {})
        return _error(404, "no such source admin endpoint")


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"error": message}, dict(headers or {}))

"""Tables and their rows in SQLite (a file, or memory).

Each accepted ingest is stored as its request body in one insert, so it is all-or-nothing and
numbers come back exactly as sent.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from peak_emulator.peak_tables import TableDef

SCHEMA_SQL = """
create table if not exists tables (
    seq integer primary key autoincrement,
    name text not null,
    name_key text not null unique,
    definition text not null,
    created_at text not null
);
create table if not exists batches (
    id integer primary key autoincrement,
    table_key text not null,
    body text not null,
    records integer not null
);
create index if not exists batches_by_table on batches (table_key, id);
"""


class TableExists(Exception):
    pass


class Store:
    """Thread-safe: one connection behind a lock (SQLite writes are serial anyway)."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA_SQL)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, definition: TableDef) -> dict[str, Any]:
        created = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        table = {**definition.to_dict(), "createdAt": created}
        with self._lock:
            try:
                self._db.execute(
                    "insert into tables (name, name_key, definition, created_at) values (?, ?, ?, ?)",
                    (definition.name, definition.name.lower(), json.dumps(table), created),
                )
            except sqlite3.IntegrityError:
                raise TableExists(definition.name) from None
        return table

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "select definition from tables where name_key = ?", (name.lower(),)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def page(self, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; the token is the opaque sequence number to continue below."""
        below = decode_token(token) if token else None
        with self._lock:
            found = self._db.execute(
                "select seq, definition from tables where (? is null or seq < ?) order by seq desc limit ?",
                (below, below, limit + 1),
            ).fetchall()
        items = [json.loads(d) for _, d in found[:limit]]
        next_token = encode_token(found[limit - 1][0]) if len(found) > limit else None
        return items, next_token

    def insert(self, name: str, body: str, count: int) -> None:
        with self._lock:
            self._db.execute(
                "insert into batches (table_key, body, records) values (?, ?, ?)", (name.lower(), body, count)
            )

    def rows(self, name: str, *, exact: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's records in ingest order (numbers as ``Decimal`` with ``exact``)."""
        with self._lock:
            bodies = self._db.execute(
                "select body from batches where table_key = ? order by id", (name.lower(),)
            ).fetchall()
        parse_float = Decimal if exact else float
        out: list[dict[str, Any]] = []
        for (body,) in bodies:
            out.extend(json.loads(body, parse_float=parse_float))
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    def tables(self) -> list[dict[str, Any]]:
        with self._lock:
            found = self._db.execute(
                "select t.definition, (select coalesce(sum(b.records), 0) from batches b "
                "where b.table_key = t.name_key) "
                "from tables t order by seq desc"
            ).fetchall()
        return [{**json.loads(d), "rows": count} for d, count in found]


def encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    """``ValueError`` for a token this server did not issue."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "seq":
            raise ValueError(token)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid nextToken {token[:40]!r}") from None

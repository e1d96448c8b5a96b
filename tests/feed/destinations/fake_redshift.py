"""A stand-in for Redshift: a DB-API connection that runs the destination's SQL on DuckDB.

``COPY <table> FROM 's3://bucket/manifest' ... MANIFEST FORMAT AS JSON 'auto ignorecase' GZIP``
is carried out as Redshift would: every file the manifest lists is read from S3 (the moto server),
and each JSON line becomes a row, keys matched to columns ignoring case. Every statement is kept in
``statements`` so tests can assert on what Redshift was sent.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import duckdb

# The source is a SQL string literal: quotes inside it are doubled.
_COPY = re.compile(r"COPY (\S+) FROM 's3://([^/']+)/((?:[^']|'')+)' (.*) MANIFEST (.*)", re.S)
_LIKE = re.compile(r"CREATE TEMP TABLE (\S+) \(LIKE (\S+)\)")


class FakeRedshift:
    """One shared database; ``connect()`` returns a connection with psycopg-style transactions."""

    def __init__(self, s3: Any) -> None:
        self.db = duckdb.connect(":memory:")
        self.db.execute("CREATE SCHEMA public")  # Redshift's default schema
        self.s3 = s3
        self.statements: list[str] = []

    def connect(self) -> FakeConnection:
        return FakeConnection(self)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.db.execute(sql).fetchall()


class FakeConnection:
    def __init__(self, server: FakeRedshift) -> None:
        self.server = server
        self.db = server.db.cursor()
        self.in_transaction = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def _begin(self) -> None:
        if not self.in_transaction:
            self.db.execute("BEGIN")
            self.in_transaction = True

    def commit(self) -> None:
        if self.in_transaction:
            self.db.execute("COMMIT")
            self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.db.execute("ROLLBACK")
            self.in_transaction = False

    def close(self) -> None:
        self.rollback()
        self.db.close()


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.rowcount = -1
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, parameters: Any = None) -> FakeCursor:
        self.conn.server.statements.append(sql)
        self.conn._begin()
        db = self.conn.db
        copy = _COPY.fullmatch(sql.strip())
        if copy:
            key = copy.group(3).replace("''", "'")
            self.rowcount = self._copy(copy.group(1), copy.group(2), key, copy.group(5))
            return self
        like = _LIKE.fullmatch(sql.strip())
        if like:
            sql = f"CREATE TEMP TABLE {like.group(1)} AS SELECT * FROM {like.group(2)} LIMIT 0"
        sql = sql.replace("%s", "?").replace(" SUPER", " JSON").replace("DOUBLE PRECISION", "DOUBLE")
        result = db.execute(sql, parameters) if parameters is not None else db.execute(sql)
        self._rows = result.fetchall() if result.description else []
        if sql.lstrip().upper().startswith(("INSERT", "DELETE")) and self._rows:
            self.rowcount = self._rows[0][0]
        return self

    def _copy(self, table: str, bucket: str, manifest_key: str, options: str) -> int:
        assert "FORMAT AS JSON 'auto ignorecase'" in options and "GZIP" in options, options
        s3 = self.conn.server.s3
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        columns = [row[0] for row in self.conn.db.execute(f"DESCRIBE {table}").fetchall()]
        by_lower = {c.lower(): c for c in columns}
        count = 0
        for entry in manifest["entries"]:
            entry_bucket, _, key = entry["url"].removeprefix("s3://").partition("/")
            body = gzip.decompress(s3.get_object(Bucket=entry_bucket, Key=key)["Body"].read())
            for line in body.decode().splitlines():
                record = json.loads(line)
                values = {by_lower[k.lower()]: v for k, v in record.items() if k.lower() in by_lower}
                names = ", ".join('"' + c.replace('"', '""') + '"' for c in values)
                marks = ", ".join("?" for _ in values)
                row = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in values.values()]
                self.conn.db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", row)
                count += 1
        return count

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        pass

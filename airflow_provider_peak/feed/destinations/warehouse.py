"""What the Snowflake and Redshift destinations share: identifiers, column types, staging to parts.

Both stage the run's records as gzipped JSON Lines parts (``spool.PartWriter``) while tracking
every key (``infer.SchemaTracker``), load them into a session-scoped staging table with the
target's column types before the commit gate (so a value the table cannot hold fails the run while
nothing is committed), and move them into the target table in one transaction after it.

Record keys come from a source, so they are checked before they can reshape a table: a key with a
control, invisible formatting (bidi, zero-width) or surrogate character, an empty or over-long key,
and more than ``max_new_columns`` new keys in one run each fail the run naming the record and the
key (escaped). The table itself changes only after the commit gate: the staging table gets the new
columns, and the target's ``CREATE TABLE`` / ``ALTER TABLE ... ADD COLUMN`` run after the gate (in
the gated transaction on Redshift, whose DDL is transactional; just before it on Snowflake, whose
DDL commits on its own), so an aborted run changes no table. ``truncate_insert``
is ``DELETE`` + ``INSERT`` in that transaction: ``TRUNCATE`` (both), ``SWAP`` (Snowflake) and
``RENAME`` in Snowflake commit implicitly, and a rename drops grants and breaks views, so a delete
in the same transaction is what keeps readers from ever seeing an empty or half-loaded table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError, RecordValidationError
from airflow_provider_peak.feed.destinations.base import StagedRecords
from airflow_provider_peak.feed.destinations.spool import PartWriter
from airflow_provider_peak.feed.infer_schema import SchemaTracker
from airflow_provider_peak.ingest.record_errors import RecordError, short_repr
from airflow_provider_peak.ingest.schema import Column, ColumnType, SchemaError
from airflow_provider_peak.ingest.types import type_of

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: New columns one run may add to a table (``max_new_columns``): a source cannot widen it at will.
DEFAULT_MAX_NEW_COLUMNS = 100
#: Unicode categories no column name may hold: controls (C0 and C1), invisible formatting (bidi
#: overrides, zero-width characters), surrogates, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

#: A part of a table name that needs no quotes (the warehouse folds its case).
_PLAIN_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
#: A quoted part: anything but control characters, quotes doubled.
_QUOTED_PART = re.compile(r'"(?:[^"\x00-\x1f\x7f]|"")+"')


@dataclass(frozen=True)
class Dialect:
    """How a warehouse names things: unquoted names fold to ``fold`` case (quoted ones do not,
    except where the warehouse folds them too), at most ``max_identifier`` characters (or UTF-8
    bytes, with ``limit_in_bytes``)."""

    name: str
    fold: str  # "upper" (Snowflake) or "lower" (Redshift)
    max_identifier: int
    limit_in_bytes: bool = False

    def fold_case(self, text: str) -> str:
        return text.upper() if self.fold == "upper" else text.lower()

    def length(self, text: str) -> int:
        return len(text.encode("utf-8", "surrogatepass")) if self.limit_in_bytes else len(text)


SNOWFLAKE = Dialect("Snowflake", "upper", 255)  # 255 characters
REDSHIFT = Dialect("Redshift", "lower", 127, limit_in_bytes=True)  # 127 bytes of UTF-8


def split_name(name: object) -> list[str]:
    """``db.schema."Mixed.Case"`` -> ``['db', 'schema', '"Mixed.Case"']``: each dotted part a plain
    identifier or a correctly quoted one; anything else (``orders; DROP TABLE users``) is refused
    before any SQL is built from it."""
    if not isinstance(name, str) or not name.strip():
        raise PeakConfigError(f"a warehouse table name must be non-empty text, got {name!r}")
    parts: list[str] = []
    current = ""
    quoted = False
    for ch in name.strip():
        if ch == '"':
            quoted = not quoted
        if ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    for part in parts:
        if not (_PLAIN_PART.fullmatch(part) or _QUOTED_PART.fullmatch(part)):
            raise PeakConfigError(
                f"{name!r} is not a valid table name: each dotted part must be a plain identifier "
                '(letters, digits, _ and $, not starting with a digit) or a double-quoted one ("My Table")'
            )
    return parts


def table_reference(name: object) -> str:
    """The table as SQL, once every part of it was checked (``split_name``)."""
    return ".".join(split_name(name))


def quote(identifier: str) -> str:
    """An identifier quoted exactly as written (for names read back from the database)."""
    return '"' + identifier.replace('"', '""') + '"'


def column_identifier(key: str, dialect: Dialect) -> str:
    """The quoted identifier of a new column for record key ``key``.

    Always quoted, so keys such as ``order``, ``select`` or ``Total Amount`` land as columns. A
    plain key (letters, digits, underscores) is quoted in the warehouse's folded case, so the column
    behaves exactly as if it had been created unquoted (``order_id`` is ``ORDER_ID`` in Snowflake and
    ``order_id`` in Redshift); any other key keeps its spelling. ``PeakConfigError`` for an empty,
    whitespace-only or over-long key.
    """
    if not isinstance(key, str) or not key.strip():
        raise PeakConfigError(f"a record key must be a non-empty name to become a column, got {key!r}")
    refused = sorted({ch for ch in key if unicodedata.category(ch) in _REFUSED_CATEGORIES})
    if refused:
        # repr() escapes exactly these characters (they are not printable), so the message shows them.
        shown = ", ".join(repr(ch) for ch in refused)
        raise PeakConfigError(
            f"record key {repr(key)[:120]} holds control or invisible formatting characters ({shown}); "
            "it cannot name a column"
        )
    if dialect.length(key) > dialect.max_identifier:
        unit = "bytes of UTF-8" if dialect.limit_in_bytes else "characters"
        raise PeakConfigError(
            f"record key {key[:40]!r}... is {dialect.length(key)} {unit}; {dialect.name} names hold at "
            f"most {dialect.max_identifier}"
        )
    return quote(dialect.fold_case(key) if _PLAIN.fullmatch(key) else key)


def sql_literal(value: str, what: str) -> str:
    """``value`` as a single-quoted SQL string literal (quotes doubled); ``PeakConfigError`` naming
    ``what`` for a backslash or a control character, which no bucket, prefix, role or key holds."""
    if not isinstance(value, str):
        raise PeakConfigError(f"{what} must be text, got {type(value).__name__}")
    bad = sorted({ch for ch in value if ch == "\\" or ord(ch) < 32 or ord(ch) == 127})
    if bad:
        raise PeakConfigError(f"{what} holds characters that cannot go into SQL: {''.join(bad)!r}")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class WarehouseColumn:
    """A column to create in a warehouse: any name (quoted when needed) and a Peak column type."""

    name: str
    type: ColumnType
    precision: int | None = None
    scale: int | None = None
    format: str | None = None

    @classmethod
    def of(cls, column: Column) -> WarehouseColumn:
        return cls(column.name, column.type, column.precision, column.scale, column.format)

    def sql_type(self, warehouse: str) -> str:
        """The column's SQL type in ``warehouse`` (``snowflake`` or ``redshift``): its type's
        (``types.PeakType.sql_type``)."""
        return type_of(self.type).sql_type(
            warehouse, precision=self.precision, scale=self.scale, fmt=self.format
        )


def declared_columns(columns: Sequence[Mapping[str, Any] | Column] | None) -> list[WarehouseColumn] | None:
    """Check declared columns when the DAG is parsed (the same definitions as a Peak table's)."""
    if columns is None:
        return None
    try:
        return [WarehouseColumn.of(Column.from_dict(c)) for c in columns]
    except SchemaError as exc:
        raise PeakConfigError(str(exc)) from None


def inferred_columns(tracker: SchemaTracker, keys: Sequence[str]) -> list[WarehouseColumn]:
    """Columns for ``keys`` with the types seen in the records."""
    kinds = {c["name"]: c["type"] for c in tracker.columns()}
    return [WarehouseColumn(key, ColumnType.parse(kinds.get(key, "string"))) for key in keys]


def match_keys(keys: Sequence[str], columns: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map record keys to existing column names (exact, else ignoring case); also the unmatched keys."""
    exact = set(columns)
    folded = {c.lower(): c for c in columns}
    matched: dict[str, str] = {}
    missing: list[str] = []
    for key in keys:
        if key in exact:
            matched[key] = key
        elif key.lower() in folded:
            matched[key] = folded[key.lower()]
        else:
            missing.append(key)
    return matched, missing


def stage_to_parts(
    records: StagedRecords,
    writer: PartWriter,
    tracker: SchemaTracker,
    dialect: Dialect,
    *,
    columns: Sequence[str] = (),
    max_new_columns: int = DEFAULT_MAX_NEW_COLUMNS,
) -> int:
    """Write every record of the run to parts, tracking keys and types; returns the record count.

    A key that cannot name a column (empty, whitespace, control or formatting characters, too long)
    or the key beyond ``max_new_columns`` keys matching none of ``columns`` (the table's, or those
    it will be created with) fails the run here, naming the record and the key, before anything
    reaches the warehouse.
    """
    observe, write = tracker.observe, writer.write
    known = 0
    index = 0
    by_case: dict[str, str] = {}  # key.lower() -> the first key spelled so
    existing = {c.lower() for c in columns}
    new = 0
    for chunk in records:
        for record in chunk:
            observe(record)
            if len(tracker) != known:  # a key seen for the first time
                for key in tracker.keys[known:]:
                    try:
                        column_identifier(key, dialect)
                        # Keys matched to columns ignoring case (and folded by the warehouse) would
                        # both name one column: refuse them here, not as a database error later.
                        first = by_case.setdefault(str(key).lower(), key)
                        if first != key:
                            raise PeakConfigError(
                                f"it differs from key {first!r} only in case, and both would name one "
                                f"{dialect.name} column"
                            )
                        if str(key).lower() not in existing:
                            new += 1
                            if new > max_new_columns:
                                raise PeakConfigError(
                                    f"it would be new column {new:,} of this run; a run adds at most "
                                    f"{max_new_columns:,} (max_new_columns), and nothing was changed"
                                )
                    except PeakConfigError as exc:
                        raise RecordValidationError(
                            [
                                RecordError(
                                    index, str(key), short_repr(record.get(key)), f"unusable key: {exc}"
                                )
                            ],
                            1,
                        ) from None
                known = len(tracker)
            write(record)
            index += 1
    writer.close()
    return writer.records


@dataclass(frozen=True)
class TablePlan:
    """What the target table needs for this run's records, applied only after the commit gate:
    ``create`` (its columns) when it does not exist, then ``add`` (new columns for new keys)."""

    create: list[WarehouseColumn] | None
    add: list[WarehouseColumn]

    @property
    def changes(self) -> bool:
        return bool(self.create) or bool(self.add)


def plan_table(
    table: str,
    columns: Sequence[str] | None,
    declared: Sequence[WarehouseColumn] | None,
    tracker: SchemaTracker,
    *,
    add_new_columns: bool,
) -> TablePlan:
    """The plan for ``table`` whose columns are ``columns`` (``None``: it does not exist), from the
    ``declared`` columns and the keys seen; ``PeakConfigError`` for new keys with
    ``add_new_columns=False``."""
    create: list[WarehouseColumn] | None = None
    if columns is None:
        create = list(declared or inferred_columns(tracker, tracker.keys))
        columns = [c.name for c in create]
    if not columns:
        return TablePlan(None, [])
    _, missing = match_keys(tracker.keys, columns)
    if missing and not add_new_columns:
        raise PeakConfigError(
            f"records have keys with no column in {table}: {', '.join(missing)} (add_new_columns=False)"
        )
    return TablePlan(create, inferred_columns(tracker, missing))


def move_staged(
    run_sql: Callable[[str], Any], table: str, staged: str, load_type: str, columns: Sequence[str] = ()
) -> tuple[int, int | None]:
    """After the commit gate, in the caller's transaction: ``DELETE`` the table's rows for
    ``truncate_insert``, then insert the typed staging table's rows (``columns``, else all); no
    conversion is left to fail. Returns the rows deleted and inserted (``None``: not reported)."""
    deleted = 0
    if load_type == "truncate_insert":
        deleted = max(run_sql(f"DELETE FROM {table}").rowcount or 0, 0)
    names = ", ".join(columns)
    into, selected = (f"{table} ({names})", names) if columns else (table, "*")
    inserted = run_sql(f"INSERT INTO {into} SELECT {selected} FROM {staged}").rowcount
    return deleted, inserted if inserted is not None and inserted >= 0 else None

"""``SnowflakeDestination``: a feed's records into a Snowflake table through a stage, not row by row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.exceptions import StagedConversionError
from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords
from airflow_provider_peak.feed.destinations.spool import (
    DEFAULT_PART_BYTES,
    DEFAULT_PART_RECORDS,
    Part,
    PartWriter,
)
from airflow_provider_peak.feed.destinations.warehouse import (
    DEFAULT_MAX_NEW_COLUMNS,
    SNOWFLAKE,
    WarehouseColumn,
    column_identifier,
    declared_columns,
    match_keys,
    move_staged,
    plan_table,
    quote,
    split_name,
    sql_literal,
    stage_to_parts,
)
from airflow_provider_peak.feed.infer_schema import SchemaTracker
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.ingest.validation import short_repr
from airflow_provider_peak.utils.checks import check_count
from airflow_provider_peak.utils.extras import require

#: ``cursor.description`` type codes (``snowflake.connector.constants.FIELD_TYPES``) -> cast target.
_CASTS = {
    0: None,  # FIXED: NUMBER(precision, scale), filled in below
    1: "FLOAT",
    2: "VARCHAR",
    3: "DATE",
    4: "TIMESTAMP",
    6: "TIMESTAMP_LTZ",
    7: "TIMESTAMP_TZ",
    8: "TIMESTAMP_NTZ",
    9: "OBJECT",
    10: "ARRAY",
    11: "BINARY",
    12: "TIME",
    13: "BOOLEAN",
}
_OBJECT_MISSING = 2003  # Snowflake errno: object does not exist or not authorized
#: Casts ``TRY_CAST`` can try on a value's text, to find a record that does not convert.
_SCALAR_CASTS = ("NUMBER", "FLOAT", "DATE", "TIME", "BOOLEAN")


class SnowflakeDestination(Destination):
    """Load a feed into a Snowflake table with the bulk path: ``PUT`` + ``COPY INTO``.

    Records are written as gzipped JSON Lines parts, ``PUT`` to the table stage of a temporary
    staging table (one ``VARIANT`` column), loaded with ``COPY INTO`` and converted (a cast per
    column) into a second temporary table ``LIKE`` the target (with the run's new columns), all
    before the commit gate: a value the table cannot hold fails the run while nothing is committed.
    After it, one transaction moves the typed rows into the target table, deleting the table's rows
    first for ``truncate_insert``. Readers never see a partial load. A missing table is created from
    ``columns`` or from the records' types, and keys without a column get one (``ALTER TABLE ADD
    COLUMN``) unless ``add_new_columns=False``: both only after the commit gate (Snowflake commits
    DDL on its own), so an aborted run changes no table. Record keys match columns exactly or,
    failing that, ignoring case (Snowflake folds unquoted names to upper case); at most
    ``max_new_columns`` new keys per run.

    :param table: the target table, optionally qualified (``DB.SCHEMA.TABLE``) (templated).
    :param snowflake_conn_id: the Snowflake connection.
    :param columns: column definitions (Peak style: ``{"name", "type", "precision"?, ...}``) used to
        create a missing table.
    :param database: overrides the connection's database.
    :param schema: overrides the connection's schema.
    :param warehouse: overrides the connection's warehouse.
    :param role: overrides the connection's role.
    :param add_new_columns: add a column for a record key the table does not have (else fail).
    :param max_new_columns: the most columns one run may add (more new keys fail the run).
    :param part_records: records per staged file.
    :param part_bytes: uncompressed bytes per staged file.
    """

    kind = "snowflake"
    commit_order = 50
    template_fields: Sequence[str] = ("table",)

    def __init__(
        self,
        table: str,
        snowflake_conn_id: str = "snowflake_default",
        *,
        columns: Sequence[Mapping[str, Any] | Column] | None = None,
        database: str | None = None,
        schema: str | None = None,
        warehouse: str | None = None,
        role: str | None = None,
        add_new_columns: bool = True,
        max_new_columns: int = DEFAULT_MAX_NEW_COLUMNS,
        part_records: int = DEFAULT_PART_RECORDS,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        require("snowflake", "SnowflakeDestination")  # when the DAG is parsed
        if "{{" not in table:
            split_name(table)
        check_count("max_new_columns", max_new_columns, minimum=0)
        self.table = table
        self.snowflake_conn_id = snowflake_conn_id
        self.columns = declared_columns(columns)
        self.database = database
        self.schema = schema
        self.warehouse = warehouse
        self.role = role
        self.add_new_columns = add_new_columns
        self.max_new_columns = max_new_columns
        self.part_records = part_records
        self.part_bytes = part_bytes

    @property
    def target(self) -> str:
        return self.table

    def get_hook(self) -> Any:
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        return SnowflakeHook(
            snowflake_conn_id=self.snowflake_conn_id,
            database=self.database,
            schema=self.schema,
            warehouse=self.warehouse,
            role=self.role,
        )

    def lineage_output(self, facets: Any, counts: dict[str, Any]) -> Any:
        from airflow_provider_peak.utils import openlineage

        return openlineage.sql_table(facets, self.get_hook(), self.table, rows=counts.get("rows_inserted"))

    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        # The name as rendered (a template or a Variable may have produced it), checked before any SQL.
        parts = split_name(self.table)
        table = ".".join(parts)
        stage = ".".join([*parts[:-1], f"PEAK_FEED_STAGE_{run.run_token}".upper()])
        stage_ref = "@" + ".".join([*parts[:-1], f"%PEAK_FEED_STAGE_{run.run_token}".upper()])
        typed = ".".join([*parts[:-1], f"PEAK_FEED_TYPED_{run.run_token}".upper()])
        conn = self.get_hook().get_conn()
        cursor = conn.cursor()

        def run_sql(sql: str) -> Any:
            run.logger.info("Snowflake: %s", sql)
            return cursor.execute(sql)

        def put(part: Part) -> None:
            source = sql_literal(f"file://{part.path}", "the staged file")
            run_sql(f"PUT {source} {stage_ref} AUTO_COMPRESS = FALSE")

        tracker = SchemaTracker()
        writer = PartWriter(
            put,
            max_records=self.part_records,
            max_bytes=self.part_bytes,
        )
        try:
            run_sql(f"CREATE TEMPORARY TABLE {stage} (REC VARIANT)")
            described = _describe(cursor, run_sql, table)
            known = [name for name, _ in described] if described is not None else None
            count = stage_to_parts(
                records,
                writer,
                tracker,
                SNOWFLAKE,
                columns=known if known is not None else [c.name for c in self.columns or ()],
                max_new_columns=self.max_new_columns,
            )
            if writer.parts:
                run_sql(f"COPY INTO {stage} FROM {stage_ref} FILE_FORMAT = (TYPE = JSON) PURGE = TRUE")
            plan = plan_table(table, known, self.columns, tracker, add_new_columns=self.add_new_columns)
            matched: dict[str, str] = {}
            if count and (known or plan.create):
                # The typed copy has the columns the table will have: the table is not touched yet.
                if plan.create is not None:
                    run_sql(f"CREATE TEMPORARY TABLE {typed} ({_definitions(plan.create)})")
                else:
                    run_sql(f"CREATE TEMPORARY TABLE {typed} LIKE {table}")
                for column in plan.add:
                    run_sql(f"ALTER TABLE {typed} ADD COLUMN {_definition(column)}")
                columns = _describe(cursor, run_sql, typed) or []
                matched, _ = match_keys(tracker.keys, [name for name, _ in columns])
                _convert(run_sql, table, stage, typed, matched, dict(columns))
            records.wait_for_commit()
            # After the gate: the table's new shape (DDL, which Snowflake commits on its own), then
            # one transaction for its rows.
            if plan.create is not None:
                run_sql(f"CREATE TABLE IF NOT EXISTS {table} ({_definitions(plan.create)})")
            for column in plan.add:
                run_sql(f"ALTER TABLE {table} ADD COLUMN {_definition(column)}")
            result = {"records": count, "table": table, "files": len(writer.parts), "rows_deleted": 0}
            if count == 0:
                if run.load_type == "truncate_insert":
                    run.logger.warning(
                        "No records: %s is left as it is (truncate_insert needs records)", table
                    )
                return {**result, "rows_inserted": 0}
            targets = [quote(column) for column in matched.values()]
            run_sql("BEGIN")
            try:
                result["rows_deleted"], inserted = move_staged(run_sql, table, typed, run.load_type, targets)
                run_sql("COMMIT")
            except BaseException:
                run_sql("ROLLBACK")
                raise
            return {**result, "rows_inserted": inserted if inserted is not None else count}
        finally:
            writer.discard()
            try:
                run_sql(f"DROP TABLE IF EXISTS {stage}")
                run_sql(f"DROP TABLE IF EXISTS {typed}")
            finally:
                cursor.close()
                conn.close()


def _definitions(columns: list[WarehouseColumn]) -> str:
    return ", ".join(_definition(c) for c in columns)


def _definition(column: WarehouseColumn) -> str:
    sql_type = column.sql_type("snowflake")
    return f"{column_identifier(column.name, SNOWFLAKE)} {sql_type}"


def _describe(cursor: Any, run_sql: Any, table: str) -> list[tuple[str, str | None]] | None:
    """``(name, cast)`` of each column of ``table``, or ``None`` if it does not exist."""
    from snowflake.connector.errors import ProgrammingError

    try:
        run_sql(f"SELECT * FROM {table} WHERE 1 = 0")
    except ProgrammingError as exc:
        if exc.errno == _OBJECT_MISSING:
            return None
        raise
    described = []
    for column in cursor.description:
        cast = _CASTS.get(column.type_code)
        if column.type_code == 0:
            cast = f"NUMBER({column.precision if column.precision is not None else 38},{column.scale or 0})"
        described.append((column.name, cast))
    return described


def _convert(
    run_sql: Any,
    table: str,
    stage: str,
    typed: str,
    matched: Mapping[str, str],
    casts: Mapping[str, str | None],
) -> None:
    """Before the commit gate: cast the ``VARIANT`` stage into ``typed`` (the columns the table will
    have), so every conversion the table needs has run; ``StagedConversionError`` names what did not
    fit."""
    from snowflake.connector.errors import DatabaseError

    targets = ", ".join(quote(column) for column in matched.values())
    values = ", ".join(_select(key, casts[column]) for key, column in matched.items())
    try:
        run_sql(f"INSERT INTO {typed} ({targets}) SELECT {values} FROM {stage}")
    except DatabaseError as exc:
        column, record = _refused(run_sql, stage, matched, casts)
        raise StagedConversionError(SNOWFLAKE.name, table, exc, column, record) from exc


def _refused(
    run_sql: Any, stage: str, matched: Mapping[str, str], casts: Mapping[str, str | None]
) -> tuple[str | None, str | None]:
    """After a failed conversion: the first column whose cast fails (``COLUMN (TYPE)``) and, for a
    scalar type, one record it fails on. Only on failure, one scan per column; ``None`` when not found."""
    from snowflake.connector.errors import DatabaseError

    for key, column in matched.items():
        cast = casts[column]
        if cast is None:
            continue
        try:
            run_sql(f"SELECT COUNT({_select(key, cast)}) FROM {stage}")
            continue
        except DatabaseError:
            pass
        record = None
        if cast.startswith(_SCALAR_CASTS):
            text = f"{_select(key, None)}::VARCHAR"
            try:
                rows = run_sql(
                    f"SELECT REC FROM {stage} WHERE {text} IS NOT NULL "
                    f"AND TRY_CAST({text} AS {cast}) IS NULL LIMIT 1"
                ).fetchall()
                record = short_repr(rows[0][0], 200) if rows else None
            except DatabaseError:  # the probe is a courtesy: the column is named either way
                pass
        return f"{column} ({cast})", record
    return None, None


def _select(key: str, cast: str | None) -> str:
    path = f'REC:"{key.replace(chr(34), chr(34) * 2)}"'
    return f"{path}::{cast}" if cast else path

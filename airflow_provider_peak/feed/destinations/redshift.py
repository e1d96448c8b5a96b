"""``RedshiftDestination``: JSON Lines to S3, then ``COPY ... FORMAT AS JSON`` into Redshift."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords
from airflow_provider_peak.feed.destinations.spool import (
    DEFAULT_PART_BYTES,
    DEFAULT_PART_RECORDS,
    Part,
    PartWriter,
)
from airflow_provider_peak.feed.destinations.warehouse import (
    DEFAULT_MAX_NEW_COLUMNS,
    REDSHIFT,
    WarehouseColumn,
    column_identifier,
    declared_columns,
    move_staged,
    plan_table,
    quote,
    split_name,
    sql_literal,
    stage_to_parts,
)
from airflow_provider_peak.feed.infer_schema import SchemaTracker
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.utils.checks import check_count
from airflow_provider_peak.utils.extras import require

#: S3 bucket names (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IAM_ROLE = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
DEFAULT_COPY_OPTIONS = "FORMAT AS JSON 'auto ignorecase' GZIP TIMEFORMAT 'auto' DATEFORMAT 'auto'"


class RedshiftDestination(Destination):
    """Load a feed into a Redshift table: gzipped JSON Lines on S3, a manifest, one ``COPY``.

    Parts are uploaded to ``s3://<s3_bucket>/<s3_prefix>/<feed>/<run>/`` as they fill. Before the
    commit gate a temporary table ``(LIKE <table>)`` with the run's new columns is loaded with
    ``COPY ... MANIFEST FORMAT AS JSON 'auto ignorecase'`` (so bad data fails the run before any
    destination commits); after it, one transaction creates a missing table, adds the new columns,
    and inserts the staged rows, deleting the table's rows first for ``truncate_insert``: an aborted
    run changes no table. At most ``max_new_columns`` new keys per run. The staged S3 objects are
    deleted afterwards unless ``keep_staged_files``.

    ``COPY`` authenticates with ``iam_role`` when given, else with the credentials of
    ``aws_conn_id`` (masked in the logs).

    :param table: the target table, optionally ``schema.table`` (templated).
    :param redshift_conn_id: the Redshift connection (``RedshiftSQLHook``).
    :param s3_bucket: the staging bucket (templated).
    :param s3_prefix: the staging key prefix (templated).
    :param aws_conn_id: the AWS connection that uploads the parts (and signs ``COPY`` without ``iam_role``).
    :param columns: column definitions (Peak style) used to create a missing table.
    :param iam_role: ARN of an IAM role Redshift assumes to read the bucket.
    :param copy_options: the ``COPY`` data format options.
    :param add_new_columns: add a column for a record key the table does not have (else fail).
    :param max_new_columns: the most columns one run may add (more new keys fail the run).
    :param keep_staged_files: keep the S3 parts and manifest after loading.
    :param part_records: records per staged file.
    :param part_bytes: uncompressed bytes per staged file.
    """

    kind = "redshift"
    commit_order = 50
    template_fields: Sequence[str] = ("table", "s3_bucket", "s3_prefix")

    def __init__(
        self,
        table: str,
        redshift_conn_id: str = "redshift_default",
        s3_bucket: str | None = None,
        s3_prefix: str = "peak_feeds",
        aws_conn_id: str | None = "aws_default",
        *,
        columns: Sequence[Mapping[str, Any] | Column] | None = None,
        iam_role: str | None = None,
        copy_options: str = DEFAULT_COPY_OPTIONS,
        add_new_columns: bool = True,
        max_new_columns: int = DEFAULT_MAX_NEW_COLUMNS,
        keep_staged_files: bool = False,
        part_records: int = DEFAULT_PART_RECORDS,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        check_count("max_new_columns", max_new_columns, minimum=0)
        require("amazon", "RedshiftDestination")  # when the DAG is parsed
        if not s3_bucket:
            raise PeakConfigError("RedshiftDestination needs s3_bucket: Redshift loads JSON through S3")
        if "{{" not in table and len(split_name(table)) > 2:
            raise PeakConfigError(f"Redshift table {table!r} must be 'table' or 'schema.table'")
        self.table = table
        self.redshift_conn_id = redshift_conn_id
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.aws_conn_id = aws_conn_id
        self.columns = declared_columns(columns)
        self.iam_role = iam_role
        self.copy_options = copy_options
        self.add_new_columns = add_new_columns
        self.max_new_columns = max_new_columns
        self.keep_staged_files = keep_staged_files
        self.part_records = part_records
        self.part_bytes = part_bytes

    @property
    def target(self) -> str:
        return self.table

    def get_sql_hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        return RedshiftSQLHook(redshift_conn_id=self.redshift_conn_id)

    def get_s3_hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id)

    def _authorization(self, s3: Any) -> tuple[str, str]:
        """The ``COPY`` authorization clause, and the same clause as logged."""
        if self.iam_role:
            clause = f"IAM_ROLE {sql_literal(self.iam_role, 'iam_role')}"
            return clause, clause
        from airflow.providers.amazon.aws.utils.redshift import build_credentials_block

        from airflow_provider_peak.version_compat import mask_secret

        credentials = s3.get_credentials()
        for secret in (credentials.secret_key, credentials.token):
            if secret:
                mask_secret(secret)
        return (
            f"CREDENTIALS {sql_literal(build_credentials_block(credentials), 'the AWS credentials')}",
            "CREDENTIALS '***'",
        )

    def lineage_output(self, facets: Any, counts: dict[str, Any]) -> Any:
        from airflow_provider_peak.utils import openlineage

        return openlineage.sql_table(
            facets, self.get_sql_hook(), self.table, rows=counts.get("rows_inserted")
        )

    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        # Everything that reaches SQL, checked as rendered (templates and Variables may produce it).
        parts = split_name(self.table)
        if len(parts) > 2:
            raise PeakConfigError(f"Redshift table {self.table!r} must be 'table' or 'schema.table'")
        table = ".".join(parts)
        if not _BUCKET.fullmatch(self.s3_bucket or ""):
            raise PeakConfigError(f"s3_bucket {self.s3_bucket!r} is not an S3 bucket name")
        sql_literal(self.s3_prefix, "s3_prefix")
        if self.iam_role and not _IAM_ROLE.fullmatch(self.iam_role):
            raise PeakConfigError(
                f"iam_role {self.iam_role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            )
        s3 = self.get_s3_hook()
        base = "/".join(p for p in (self.s3_prefix.strip("/"), run.feed_name, run.run_token) if p)
        uploaded: list[str] = []

        def upload(part: Part) -> None:
            key = f"{base}/{part.name}"
            s3.load_file(filename=str(part.path), key=key, bucket_name=self.s3_bucket, replace=True)
            uploaded.append(key)

        tracker = SchemaTracker()
        writer = PartWriter(upload, max_records=self.part_records, max_bytes=self.part_bytes)
        conn = None
        try:
            conn = self.get_sql_hook().get_conn()
            cursor = conn.cursor()

            def run_sql(sql: str, parameters: Any = None, shown: str | None = None) -> Any:
                run.logger.info("Redshift: %s", shown or sql)
                return cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)

            existing = _columns(cursor, run_sql, table)
            conn.commit()  # a read: no transaction is held open while the records stage
            known = existing or None
            count = stage_to_parts(
                records,
                writer,
                tracker,
                REDSHIFT,
                columns=existing or [c.name for c in self.columns or ()],
                max_new_columns=self.max_new_columns,
            )
            plan = plan_table(table, known, self.columns, tracker, add_new_columns=self.add_new_columns)
            stage = f"peak_feed_stage_{run.run_token}".lower()
            staged_columns: list[str] = []
            if count and (known or plan.create):
                manifest = f"{base}/manifest.json"
                entries = [{"url": f"s3://{self.s3_bucket}/{key}", "mandatory": True} for key in uploaded]
                s3.load_string(
                    json.dumps({"entries": entries}), key=manifest, bucket_name=self.s3_bucket, replace=True
                )
                uploaded.append(manifest)
                # The staging table has the columns the table will have: the table is not touched yet.
                if plan.create is not None:
                    run_sql(f"CREATE TEMP TABLE {stage} ({_definitions(plan.create)})")
                    staged_columns = [column_identifier(c.name, REDSHIFT) for c in plan.create]
                else:
                    run_sql(f"CREATE TEMP TABLE {stage} (LIKE {table})")
                    staged_columns = [quote(name) for name in existing]
                for column in plan.add:
                    run_sql(f"ALTER TABLE {stage} ADD COLUMN {_definition(column)}")
                    staged_columns.append(column_identifier(column.name, REDSHIFT))
                self._copy(run_sql, s3, stage, f"s3://{self.s3_bucket}/{manifest}")
                conn.commit()
            records.wait_for_commit()
            # After the gate, one transaction: the table's new shape and its rows (Redshift's DDL is
            # transactional, so a failure here leaves the table as it was).
            if plan.create is not None:
                run_sql(f"CREATE TABLE IF NOT EXISTS {table} ({_definitions(plan.create)})")
            for column in plan.add:
                run_sql(f"ALTER TABLE {table} ADD COLUMN {_definition(column)}")
            result = {"records": count, "table": table, "files": len(writer.parts), "rows_deleted": 0}
            if count == 0:
                conn.commit()
                if run.load_type == "truncate_insert":
                    run.logger.warning(
                        "No records: %s is left as it is (truncate_insert needs records)", table
                    )
                return {**result, "rows_inserted": 0}
            result["rows_deleted"], inserted = move_staged(
                run_sql, table, stage, run.load_type, staged_columns
            )
            conn.commit()
            return {**result, "rows_inserted": inserted if inserted is not None else count}
        except BaseException:
            if conn is not None:
                conn.rollback()
            raise
        finally:
            writer.discard()
            if conn is not None:
                conn.close()
            if uploaded and not self.keep_staged_files:
                s3.delete_objects(bucket=self.s3_bucket, keys=uploaded)

    def _copy(self, run_sql: Any, s3: Any, stage: str, manifest_url: str) -> None:
        """``COPY`` the manifest's parts into ``stage``. Composed from checked parts, never with
        ``str.format`` over them: braces in a prefix are data, and the credentials only ever go
        into their own clause (the logged statement shows ``***`` there)."""
        auth, auth_shown = self._authorization(s3)
        source = sql_literal(manifest_url, "the manifest's S3 URL")
        head = f"COPY {stage} FROM {source} "
        tail = f" MANIFEST {self.copy_options}"
        run_sql(head + auth + tail, shown=head + auth_shown + tail)


def _definitions(columns: list[WarehouseColumn]) -> str:
    return ", ".join(_definition(c) for c in columns)


def _definition(column: WarehouseColumn) -> str:
    sql_type = column.sql_type("redshift")
    return f"{column_identifier(column.name, REDSHIFT)} {sql_type}"


def _columns(cursor: Any, run_sql: Any, table: str) -> list[str]:
    """Column names of ``table`` (empty when it does not exist)."""
    parts = split_name(table)
    schema, name = (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])
    plain = [p[1:-1].replace('""', '"') if p.startswith('"') else p.lower() for p in (schema, name)]
    run_sql(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        plain,
    )
    return [row[0] for row in cursor.fetchall()]

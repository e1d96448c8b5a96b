"""``PeakIngestOperator``: push any task's output to a Peak table in compliant, validated batches."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from airflow_provider_peak.assets.peak import add_table_alias, emit_table_event
from airflow_provider_peak.feed.user_code import select_kwargs
from airflow_provider_peak.hooks._checkpoint import warn_checkpoint_dir
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.limits import DEFAULT_MAX_CONCURRENCY
from airflow_provider_peak.ingest.pipeline import IngestOptions
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.ingest.sources import record_source
from airflow_provider_peak.ui.labels import MappedLabel, source_label
from airflow_provider_peak.ui.links import PeakDeadLettersLink, PeakTableLink, dead_letter_figures
from airflow_provider_peak.ui.rendered import RenderedRecordsMixin
from airflow_provider_peak.ui.task_docs import named, task_doc
from airflow_provider_peak.utils import openlineage
from airflow_provider_peak.utils.task_run import PEAK_POOL, claim_pool_slots
from airflow_provider_peak.version_compat import BaseOperator, Context, task_logger

__all__ = ["PEAK_POOL", "CallableRecords", "PeakIngestOperator"]


class CallableRecords:
    """``records=`` given as a callable: called once when the task runs, with nothing, or with the
    task context (``context``, or the context keys it names, as ``@task`` functions receive them).

    Airflow 3 calls a callable held in a template field itself, as ``fn(context=, jinja_env=)``;
    this wrapper is what the template field holds instead, and Airflow resolves it with the context.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def resolve(self, context: Mapping[str, Any], **_: Any) -> Any:
        try:
            wanted = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):  # a builtin without a signature: call it plainly
            return self.fn()
        if not wanted:
            return self.fn()
        return self.fn(**select_kwargs(self.fn, {"context": context, **context}))

    def __repr__(self) -> str:
        return f"{getattr(self.fn, '__qualname__', type(self.fn).__name__)}()"


def _wrap_callable(records: Any) -> Any:
    if callable(records) and not isinstance(records, type) and not hasattr(records, "resolve"):
        return CallableRecords(records)
    return records


class PeakIngestOperator(MappedLabel, RenderedRecordsMixin, BaseOperator):
    """Validate records against a Peak table's schema and ingest them in compliant batches.

    Every batch holds at most ``max_records`` records and ``max_bytes`` bytes, and at most
    ``max_concurrency`` requests are in flight; the ``peak`` connection's limits are the ceiling.
    With ``on_invalid="fail"`` the whole input is validated first and nothing is sent if any
    record is invalid (the error lists the first 20, naming record, column and reason). Each batch
    Peak acknowledges is recorded for the task run in Airflow before its request counts as done, so
    a retry on any worker resumes after it: after a killed try, at most the ``max_concurrency``
    batches in flight may be in Peak twice, each whole (see ``docs/reliability.md``). A deadline
    (``execution_timeout``) or a kill abandons the requests in flight and starts no other. Returns a
    summary dict (XCom).

    :param table_name: the Peak table (templated).
    :param records: a list of dicts, an iterable or generator, a callable returning one (called with
        no argument, or with the context it asks for), an XComArg, a pandas or polars DataFrame, a
        pyarrow Table, RecordBatch or reader, or the path or ``ObjectStoragePath`` of a JSON, JSONL,
        Parquet or CSV file (``s3://...`` read with ``source_conn_id``) (templated).
    :param sql: instead of ``records``: a query run on ``sql_conn_id`` (any DB-API connection, e.g.
        Snowflake), read in chunks of ``sql_chunk_size`` (templated).
    :param sql_conn_id: the connection ``sql`` runs on.
    :param sql_parameters: query parameters (templated).
    :param source_conn_id: connection for object-storage paths (e.g. ``aws_default``).
    :param peak_conn_id: the ``peak`` connection.
    :param max_records: records per request (default and ceiling: the connection's, 500).
    :param max_bytes: bytes per request body (default and ceiling: the connection's, 1,000,000).
    :param max_concurrency: requests in flight (default 8; ceiling: the connection's, 30).
    :param on_invalid: ``fail`` (send nothing), ``skip`` (drop and count) or ``dead_letter`` (write
        invalid records with their errors as JSONL to ``dead_letter_path``).
    :param dead_letter_path: local path or object-storage URL (templated). On workers that are
        not one machine, use object storage (``s3://...``): a worker's local file cannot be opened
        from the UI and goes with the worker; the task then links to it ("Dead letters").
    :param dead_letter_conn_id: the connection of an object-storage ``dead_letter_path`` (e.g. an
        ``aws`` connection for ``s3://``) (templated).
    :param create_table_columns: create the table with these columns if it does not exist (templated).
    :param batch_id_column: a string column stamped with a deterministic batch id, so a batch
        sent twice (in flight when a try died, or its reply lost) can be found and removed downstream.
    :param on_changed_input: what a retry does when it builds other batches than an earlier try of
        the task run sent (the input changed: a generator in another order, a source that moved):
        ``warn`` (send the batches that differ, under their own batch ids) or ``fail`` (send nothing).
    :param checkpoint_dir: no longer used: the task run's checkpoint is kept in Airflow.
    :param emit_asset: emit an event for the table's asset (``peak://<host>/<table>``) through the
        alias ``peak_table_alias(table_name, peak_conn_id)``, which the task adds to its outlets
        (not for a templated ``table_name``).

    Run it in the ``peak_api`` pool (``pool="peak_api"``, 30 slots) to keep every Peak task of the
    deployment within the tenant's 30 concurrent requests: the task then claims ``pool_slots`` equal
    to ``max_concurrency``, so the scheduler never runs more requests at once than the pool holds.
    """

    template_fields: Sequence[str] = (
        "table_name",
        "records",
        "sql",
        "sql_parameters",
        "dead_letter_path",
        "dead_letter_conn_id",
        "create_table_columns",
    )
    template_fields_renderers = {"sql": "sql", "records": "json", "create_table_columns": "json"}
    template_ext: Sequence[str] = (".sql",)
    ui_color = "#cfe8ff"
    operator_extra_links = (PeakTableLink(), PeakDeadLettersLink())
    map_index_label = "{{ task.source_label }}"

    def __init__(
        self,
        *,
        table_name: str,
        records: Any = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Any = None,
        sql_chunk_size: int = 10_000,
        source_conn_id: str | None = None,
        peak_conn_id: str = PeakHook.default_conn_name,
        max_records: int | None = None,
        max_bytes: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        on_invalid: Literal["fail", "skip", "dead_letter"] = "fail",
        dead_letter_path: str | None = None,
        dead_letter_conn_id: str | None = None,
        create_table_columns: Sequence[Mapping[str, Any] | Column] | None = None,
        batch_id_column: str | None = None,
        on_changed_input: Literal["warn", "fail"] = "warn",
        checkpoint_dir: str | None = None,
        progress_interval: float = 10.0,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        warn_checkpoint_dir(checkpoint_dir)
        if emit_asset:
            kwargs["outlets"] = add_table_alias(kwargs.get("outlets"), table_name, peak_conn_id)
        # Checked before the pool slots are claimed from it.
        self.options = IngestOptions(
            max_records=max_records,
            max_bytes=max_bytes,
            max_concurrency=max_concurrency,
            on_invalid=on_invalid,
            dead_letter_path=dead_letter_path,
            dead_letter_conn_id=dead_letter_conn_id,
            batch_id_column=batch_id_column,
            on_changed_input=on_changed_input,
            progress_interval=progress_interval,
        )
        claim_pool_slots(kwargs, max_concurrency)
        super().__init__(**kwargs)
        # One check of the inputs, shared with the hook's callers (a PeakConfigError naming them).
        record_source(records, sql=sql, sql_conn_id=sql_conn_id)
        self.table_name = table_name
        self.records = _wrap_callable(records)
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.sql_parameters = sql_parameters
        self.sql_chunk_size = sql_chunk_size
        self.source_conn_id = source_conn_id
        self.peak_conn_id = peak_conn_id
        self.dead_letter_path = dead_letter_path
        self.dead_letter_conn_id = dead_letter_conn_id
        self.create_table_columns = create_table_columns
        self.checkpoint_dir = checkpoint_dir
        self.emit_asset = emit_asset
        self._loaded: dict[str, Any] | None = None
        self._hook: PeakHook | None = None
        if self.doc_md is None:
            self.doc_md = task_doc(
                f"Validates records against the schema of the Peak table {named(table_name)}, then sends "
                "them in batches of at most 500 records and 1 MB.",
                {
                    "records": records,
                    "sql": sql,
                    "sql_conn_id": sql_conn_id,
                    "source_conn_id": source_conn_id,
                    "peak_conn_id": peak_conn_id,
                    "max_concurrency": max_concurrency,
                    "on_invalid": on_invalid,
                    "dead_letter_path": dead_letter_path,
                    "dead_letter_conn_id": dead_letter_conn_id,
                    "batch_id_column": batch_id_column,
                },
            )

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """As ``BaseOperator.partial``; mapped tasks in the ``peak_api`` pool claim their slots too
        (the scheduler reads ``pool_slots`` from the partial arguments, not from ``__init__``)."""
        claim_pool_slots(kwargs, kwargs.get("max_concurrency", DEFAULT_MAX_CONCURRENCY))
        if kwargs.get("emit_asset", True) and "table_name" in kwargs:
            kwargs["outlets"] = add_table_alias(
                kwargs.get("outlets"),
                kwargs["table_name"],
                kwargs.get("peak_conn_id", PeakHook.default_conn_name),
            )
        return super().partial(**kwargs)

    @property
    def source_label(self) -> str:
        """A mapped task's label in the grid: the file it loads, else its table."""
        return source_label(self.records, self.table_name)

    def execute(self, context: Context) -> dict[str, Any]:
        if self.pool != PEAK_POOL:
            self.log.warning(
                "Running outside the %r pool: other Peak tasks may push the tenant past 30 concurrent "
                "requests (then Peak answers 429 and this task slows down). Create the pool with "
                "`airflow pools set %s 30 'Peak API'` and pass pool=%r.",
                PEAK_POOL,
                PEAK_POOL,
                PEAK_POOL,
            )
        elif self.pool_slots < (self.options.max_concurrency or DEFAULT_MAX_CONCURRENCY):
            self.log.warning(
                "pool_slots=%d is below max_concurrency=%s: the pool under-counts this task",
                self.pool_slots,
                self.options.max_concurrency,
            )
        records = self.records
        if isinstance(records, CallableRecords):  # Airflow 2.11 leaves it to the task
            records = records.resolve(context)
        hook = self._hook = PeakHook(self.peak_conn_id)
        schema = (
            hook.ensure_table(self.table_name, self.create_table_columns, "ignore")[0]
            if self.create_table_columns
            else hook.get_table(self.table_name)
        )
        source = record_source(
            records,
            sql=self.sql,
            sql_conn_id=self.sql_conn_id,
            sql_parameters=self.sql_parameters,
            source_conn_id=self.source_conn_id,
            chunk_size=self.sql_chunk_size,
            columns=schema.columns,
        )
        PeakTableLink.persist(context, hook, schema.name)
        summary = hook.load_records(
            schema,
            source,
            replace(
                self.options,
                dead_letter_path=self.dead_letter_path,
                dead_letter_conn_id=self.dead_letter_conn_id,
            ),
            context=context,
            logger=task_logger(self),
        )
        self.log.info("Ingested into Peak table %s:\n%s", schema.name, summary.as_table())
        result = summary.as_dict()
        letters = dead_letter_figures(context, self.dead_letter_path, summary.dead_letters, result)
        base_url = hook.settings.base_url
        self._loaded = {"base_url": base_url, "schema": schema, "summary": result, "records": records}
        if self.emit_asset and summary.records_sent:  # an event says the table got new rows
            # The figures of the Peak page's load rows (see ui/peak_page.py).
            figures = ("records_sent", "requests", "invalid", "unacknowledged_batches", "seconds")
            extra: dict[str, Any] = {k: result[k] for k in figures if k in result}
            extra.update(letters)
            emit_table_event(context, self.outlets, self.peak_conn_id, base_url, schema.name, extra)
        return result

    def on_kill(self) -> None:
        """The task is ending (killed, or past its ``execution_timeout``): the requests in flight
        are abandoned and no other starts."""
        if self._hook is not None:
            self._hook.cancel()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the records' source (a query's tables, or a file) and the Peak table, with
        its schema and the rows and bytes this run sent."""
        loaded = self._loaded
        if loaded is None:
            return None
        schema = loaded["schema"]

        def build(facets: Any) -> tuple[list[Any], list[Any]]:
            rows, size = openlineage.counts(loaded["summary"])
            columns = [(c.name, c.type.value) for c in schema.columns]
            output = openlineage.peak_table(
                facets, loaded["base_url"], schema.name, columns=columns, rows=rows, size=size
            )
            inputs = openlineage.records_inputs(
                facets, loaded["records"], sql=self.sql, sql_conn_id=self.sql_conn_id
            )
            return inputs, [output]

        return openlineage.lineage(build)

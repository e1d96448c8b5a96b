"""``PeakTableDestination``: a feed's records into a Peak table through the Ingestion API."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError, SchemaError
from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords
from airflow_provider_peak.feed.infer_schema import SchemaTracker
from airflow_provider_peak.ingest.pipeline import IngestOptions
from airflow_provider_peak.ingest.schema import Column, TableSchema, check_name
from airflow_provider_peak.utils.workdir import spool_file


class PeakTableDestination(Destination):
    """Ingest a feed into a Peak table, validated and batched as ``PeakIngestOperator`` does.

    The table is created if it does not exist, from ``columns`` or, with ``infer_schema``, from the
    types of the first ``infer_sample`` records (see ``airflow_provider_peak.feed.infer_schema``). An
    existing table is checked against declared ``columns`` and used as it is otherwise. Every record
    is validated against the schema before anything is sent (``on_invalid="fail"``); Peak receives
    the batches only once every destination of the run has staged its records.

    Peak's API can only append, so ``load_type="truncate_insert"`` is refused when the DAG is parsed.
    Batches Peak acknowledged are checkpointed per task run in Airflow (as ``PeakIngestOperator``
    does), so a retry with the same records does not send them twice, also when another
    destination failed after Peak committed; the checkpoint stays until Airflow has recorded the
    task's success.

    :param table_name: the Peak table (templated).
    :param columns: column definitions (``{"name", "type", ...}`` or ``Column``) to create the table.
    :param infer_schema: create a missing table from the records' types when ``columns`` is not given.
    :param peak_conn_id: the ``peak`` connection.
    :param infer_sample: records inspected to infer the schema.
    :param max_concurrency: Peak requests in flight (default 8; at most the connection's ``max_in_flight``).
    :param on_invalid: ``fail`` (send nothing if any record is invalid), ``skip`` or ``dead_letter``.
    :param dead_letter_path: where ``dead_letter`` writes invalid records (JSONL): a local path or
        an object-storage URL (``s3://...``; recommended when workers are not one machine: the feed
        task then links to it) (templated).
    :param dead_letter_conn_id: the connection of an object-storage ``dead_letter_path``
        (templated).
    :param batch_id_column: a string column stamped with a deterministic batch id.
    """

    kind = "peak"
    supports_truncate_insert = False
    truncate_reason = (
        "the Peak Ingestion API can only append rows; it cannot delete or replace them, so a Peak "
        "table cannot be truncated. Use load_type='incremental', or a warehouse destination"
    )
    commit_order = 10
    template_fields: Sequence[str] = ("table_name", "dead_letter_path", "dead_letter_conn_id")

    def __init__(
        self,
        table_name: str,
        columns: Sequence[Mapping[str, Any] | Column] | None = None,
        infer_schema: bool = True,
        *,
        peak_conn_id: str = "peak_default",
        infer_sample: int = 1000,
        max_concurrency: int = 8,
        on_invalid: str = "fail",
        dead_letter_path: str | None = None,
        dead_letter_conn_id: str | None = None,
        batch_id_column: str | None = None,
    ) -> None:
        templated = "{{" in str(table_name)
        try:
            if not templated:
                check_name(table_name, "table")
            if columns is not None:
                TableSchema.build("t" if templated else table_name, columns)
        except SchemaError as exc:
            raise PeakConfigError(str(exc)) from None
        # The same options and checks as PeakIngestOperator's (a PeakConfigError naming the field).
        self.options = IngestOptions(
            max_concurrency=max_concurrency,
            on_invalid=on_invalid,
            dead_letter_path=dead_letter_path,
            dead_letter_conn_id=dead_letter_conn_id,
            batch_id_column=batch_id_column,
        )
        self.table_name = table_name
        self.columns = list(columns) if columns is not None else None
        self.infer_schema = infer_schema
        self.peak_conn_id = peak_conn_id
        self.infer_sample = infer_sample
        self.max_concurrency = max_concurrency
        self.on_invalid = on_invalid
        self.dead_letter_path = dead_letter_path
        self.dead_letter_conn_id = dead_letter_conn_id
        self.batch_id_column = batch_id_column
        self._hook: Any = None
        self._loaded: tuple[str, TableSchema] | None = None

    @property
    def target(self) -> str:
        return self.table_name

    def _schema(
        self, hook: Any, records: Any, run: RunInfo
    ) -> tuple[TableSchema | None, list[dict[str, Any]]]:
        """The table's schema (creating the table when needed) and the records read to infer it."""
        from airflow_provider_peak.exceptions import PeakNotFoundError

        if self.columns is not None:
            schema, created = hook.ensure_table(self.table_name, self.columns, "verify")
            run.logger.info("Peak table %s %s", schema.name, "created" if created else "exists")
            return schema, []
        try:
            return hook.get_table(self.table_name), []
        except PeakNotFoundError:
            if not self.infer_schema:
                raise PeakConfigError(
                    f"Peak table {self.table_name!r} does not exist; "
                    "declare columns=[...] or set infer_schema=True"
                ) from None
        sample = list(itertools.islice(records, self.infer_sample))
        if not sample:
            return None, []
        tracker = SchemaTracker(sample=len(sample))
        for record in sample:
            tracker.observe(record)
        try:
            wanted = TableSchema.build(self.table_name, tracker.columns())
        except SchemaError as exc:
            raise PeakConfigError(
                f"cannot infer a schema for Peak table {self.table_name!r} from the records ({exc}); "
                "declare columns=[...] or rename the keys in the fetch"
            ) from None
        schema, created = hook.ensure_table(self.table_name, wanted.columns, "ignore")
        run.logger.info(
            "Peak table %s %s with an inferred schema: %s",
            schema.name,
            "created" if created else "already existed",
            ", ".join(f"{c.name} {c.type.value}" for c in schema.columns),
        )
        return schema, sample

    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        from airflow_provider_peak.hooks.peak import PeakHook

        hook = self._hook = PeakHook(self.peak_conn_id)
        # "fail" validates everything before the first request (the pipeline spools it), so the
        # records can flow straight in; "skip" and "dead_letter" send while they validate, so the
        # records wait in a local spool until every destination has staged the run.
        stream = records.records(then_wait=True) if self.options.on_invalid == "fail" else _spooled(records)
        schema, sample = self._schema(hook, stream, run)
        if schema is None:
            if not records.committing:
                records.wait_for_commit()
            run.logger.info("No records and no Peak table %s: nothing to create or send", self.table_name)
            return {"records": 0, "table": self.table_name}
        self._loaded = (hook.settings.base_url, schema)
        # The task run's checkpoint outlives Peak's own success: if another destination fails after
        # Peak committed, the retry still skips the batches Peak already has.
        checkpoint = (
            run.records.checkpoint(f"feed/{run.feed_name}/peak/{schema.name}", table=schema.name)
            if run.records is not None
            else None
        )
        # The dead-letter file as rendered (the options were checked with the DAG's text).
        options = replace(
            self.options, dead_letter_path=self.dead_letter_path, dead_letter_conn_id=self.dead_letter_conn_id
        )
        summary = hook.load_records(
            schema,
            itertools.chain(sample, stream),
            options,
            checkpoint=checkpoint,
            logger=run.logger,
        )
        result = summary.as_dict()
        result["records"] = summary.records_sent + summary.records_resumed
        result["dead_letters"] = summary.dead_letters
        return result

    def lineage_output(self, facets: Any, counts: dict[str, Any]) -> Any:
        from airflow_provider_peak.utils import openlineage

        if self._loaded is None:
            return None
        base_url, schema = self._loaded
        columns = [(c.name, c.type.value) for c in schema.columns]
        rows, size = openlineage.counts(counts)
        return openlineage.peak_table(facets, base_url, schema.name, columns=columns, rows=rows, size=size)

    def cancel(self) -> None:
        if self._hook is not None:
            self._hook.cancel()


def _spooled(records: StagedRecords) -> Iterator[dict[str, Any]]:
    """Every record of the run, handed out only after the commit gate (read back from a local file)."""
    with spool_file("peak-feed-spool-") as spool:
        for chunk in records:
            pickle.dump(chunk, spool, protocol=pickle.HIGHEST_PROTOCOL)
        records.wait_for_commit()
        spool.seek(0)
        while True:
            try:
                chunk = pickle.load(spool)  # a file this process wrote just now
            except EOFError:
                return
            yield from chunk

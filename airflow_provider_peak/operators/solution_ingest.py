"""``PeakSolutionIngestOperator``: load any task's output into a Peak solution table (v2 API)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from airflow_provider_peak.exceptions import PeakRowsFailedError
from airflow_provider_peak.hooks._checkpoint import warn_checkpoint_dir
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.ingest.sources import record_source
from airflow_provider_peak.ingest.v2.load import DEFAULT_MAX_CONCURRENCY, V2LoadOptions
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire
from airflow_provider_peak.operators.ingest import CallableRecords, _wrap_callable
from airflow_provider_peak.ui.labels import MappedLabel, source_label
from airflow_provider_peak.ui.links import PeakDeadLettersLink, PeakSolutionTableLink, dead_letter_figures
from airflow_provider_peak.ui.rendered import RenderedRecordsMixin
from airflow_provider_peak.ui.task_docs import named, task_doc
from airflow_provider_peak.utils.checks import check_number
from airflow_provider_peak.utils.task_run import PEAK_V2_POOL, claim_pool_slots
from airflow_provider_peak.version_compat import AirflowFailException, BaseOperator, Context, task_logger

__all__ = ["PEAK_V2_POOL", "PeakSolutionIngestOperator"]


def _rate_slots(requests_per_second: float | None) -> int:
    """Pool slots of a task in the ``peak_v2_api`` pool: one per request per second it may start
    (the tenant's whole documented rate when the task does not say)."""
    return math.ceil(requests_per_second or V2Wire.requests_per_second)


class PeakSolutionIngestOperator(MappedLabel, RenderedRecordsMixin, BaseOperator):
    """Load rows into a table of a Peak solution through Peak's v2 ingestion API: ``UPSERT`` on the
    table's primary key or ``APPEND``, or a dry run that shows the server's verdict and writes nothing.

    Rows are checked against the solution's schema where the schema shows it (required columns,
    types, date and timestamp formats, numeric precision and scale, lengths, enums), packed into
    requests of at most ``max_rows`` rows and ``max_bytes`` bytes, and sent with every request start
    paced at the tenant's request rate (it slows down on 429). Each reply says which rows failed:
    v2 writes a request's good rows even when others fail (no all-or-nothing), and the summary
    counts rows accepted and failed, by error code. Each request Peak acknowledges is recorded for
    the task run in Airflow before it counts as done, so a retry on any worker never sends it
    again: after a killed try, at most the ``max_concurrency`` requests in flight may be applied
    twice by APPEND, each whole (a request whose reply was lost, too); v2 rows carry no batch id,
    but ``batch_id_column`` stamps one into a string column of the table (see
    ``docs/reliability.md``). A deadline (``execution_timeout``) or a kill abandons the requests in
    flight and starts no other. Returns the summary (XCom).

    :param solution_name: the solution, e.g. ``QP_OOTB`` (templated).
    :param table_name: the table, by full name (``{prefix}PRODUCTS{suffix}``) or object name
        (``PRODUCTS``) (templated).
    :param rows: a list of dicts, an iterable or generator, a callable returning one (called with no
        argument, or with the context it asks for), an XComArg, or a JSON/JSONL file path or
        ``ObjectStoragePath`` (``s3://...`` read with ``source_conn_id``) (templated).
    :param operation: ``upsert`` (replace rows with the same primary key) or ``append``.
    :param dry_run: send everything with ``dryRun``: Peak validates every row and writes nothing;
        rows the client's check rejects are sent too, so the preview is the server's own.
    :param on_invalid: ``fail``: nothing is sent if the schema rejects a row, and the task fails
        (without retries, which could not change the verdict) after sending if Peak rejected
        any; ``skip``: such rows are counted and logged; ``dead_letter``: they are written with
        their codes and messages as JSONL to ``dead_letter_path``.
    :param dead_letter_path: local path or object-storage URL (templated). On workers that are
        not one machine, use object storage (``s3://...``): a worker's local file cannot be opened
        from the UI and goes with the worker; the task then links to it ("Dead letters").
    :param dead_letter_conn_id: the connection of an object-storage ``dead_letter_path`` (e.g. an
        ``aws`` connection for ``s3://``) (templated).
    :param sql: instead of ``rows``: a query run on ``sql_conn_id``, read in chunks of
        ``sql_chunk_size``; result columns match table columns ignoring case (templated).
    :param sql_conn_id: the connection ``sql`` runs on (any DB-API connection).
    :param sql_parameters: query parameters (templated).
    :param sql_chunk_size: rows fetched at a time.
    :param source_conn_id: connection for object-storage paths (e.g. ``aws_default``).
    :param peak_v2_conn_id: the ``peak_v2`` connection.
    :param max_rows: rows per request (default and ceiling: the connection's, 2000).
    :param max_bytes: bytes per request body (default and ceiling: the connection's, 1,000,000).
    :param max_concurrency: requests in flight at most (default 16): enough to reach the rate.
    :param requests_per_second: pace at this rate (default and ceiling: the connection's
        ``requests_per_second`` x ``requests_per_second_share``, 45).
    :param batch_id_column: a string column of the table (optional, at least 35 characters long)
        stamped with the id of the request that carried the row: the same id for the same rows on
        every try, so rows APPEND stored twice can be found and removed.
    :param on_changed_input: what a retry does when it builds other requests than an earlier try
        of the task run sent: ``warn`` (send those, with a warning) or ``fail`` (send nothing).
    :param checkpoint_dir: no longer used: the task run's checkpoint is kept in Airflow.
    :param progress_interval: seconds between progress lines.

    In the ``peak_v2_api`` pool (one slot per request per second: create it with the tenant's 50
    slots) a task claims ``ceil(requests_per_second)`` slots (50 when not given), so the tasks the
    scheduler runs at once never pace above the tenant's rate together.
    """

    template_fields: Sequence[str] = (
        "solution_name",
        "table_name",
        "rows",
        "sql",
        "sql_parameters",
        "dead_letter_path",
        "dead_letter_conn_id",
    )
    template_fields_renderers = {"sql": "sql", "rows": "json"}
    template_ext: Sequence[str] = (".sql",)
    ui_color = "#d8f0dc"
    map_index_label = "{{ task.source_label }}"
    rendered_records_field = "rows"
    operator_extra_links = (PeakSolutionTableLink(), PeakDeadLettersLink())

    def __init__(
        self,
        *,
        solution_name: str,
        table_name: str,
        rows: Any = None,
        operation: Literal["upsert", "append", "UPSERT", "APPEND"] = "upsert",
        dry_run: bool = False,
        on_invalid: Literal["fail", "skip", "dead_letter"] = "fail",
        dead_letter_path: str | None = None,
        dead_letter_conn_id: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Any = None,
        sql_chunk_size: int = 10_000,
        source_conn_id: str | None = None,
        peak_v2_conn_id: str = PeakV2Hook.default_conn_name,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = None,
        batch_id_column: str | None = None,
        on_changed_input: Literal["warn", "fail"] = "warn",
        checkpoint_dir: str | None = None,
        progress_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        warn_checkpoint_dir(checkpoint_dir)
        # Checked when the DAG is parsed, before pool slots are claimed from them.
        self.options = V2LoadOptions(
            operation=operation,
            dry_run=dry_run,
            on_invalid=on_invalid,
            dead_letter_path=dead_letter_path,
            dead_letter_conn_id=dead_letter_conn_id,
            max_rows=max_rows,
            max_bytes=max_bytes,
            max_concurrency=max_concurrency,
            progress_interval=progress_interval,
            batch_id_column=batch_id_column,
            on_changed_input=on_changed_input,
        )
        if requests_per_second is not None:
            check_number("requests_per_second", requests_per_second, positive=True)
        claim_pool_slots(kwargs, _rate_slots(requests_per_second), pool=PEAK_V2_POOL)
        super().__init__(**kwargs)
        record_source(rows, sql=sql, sql_conn_id=sql_conn_id)  # one check of the inputs
        self.solution_name = solution_name
        self.table_name = table_name
        self.rows = _wrap_callable(rows)
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.sql_parameters = sql_parameters
        self.sql_chunk_size = sql_chunk_size
        self.source_conn_id = source_conn_id
        self.peak_v2_conn_id = peak_v2_conn_id
        self.dead_letter_path = dead_letter_path
        self.dead_letter_conn_id = dead_letter_conn_id
        self.requests_per_second = requests_per_second
        self.checkpoint_dir = checkpoint_dir
        self._hook: PeakV2Hook | None = None
        if self.doc_md is None:
            verb = "Previews (dry run) loading" if dry_run else "Loads"
            self.doc_md = task_doc(
                f"{verb} rows into the table {named(table_name)} of the Peak solution {named(solution_name)} "
                f"with {Operation.parse(operation).value}: rows are checked against the solution's schema, "
                "sent in requests of at most 2000 rows and 1 MB, paced at the tenant's request rate.",
                {
                    "rows": rows,
                    "sql": sql,
                    "sql_conn_id": sql_conn_id,
                    "source_conn_id": source_conn_id,
                    "peak_v2_conn_id": peak_v2_conn_id,
                    "operation": Operation.parse(operation).value,
                    "dry_run": dry_run,
                    "on_invalid": on_invalid,
                    "dead_letter_path": dead_letter_path,
                    "dead_letter_conn_id": dead_letter_conn_id,
                    "requests_per_second": requests_per_second,
                },
            )

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """As ``BaseOperator.partial``; mapped tasks in the ``peak_v2_api`` pool claim their slots too
        (the scheduler reads ``pool_slots`` from the partial arguments, not from ``__init__``)."""
        claim_pool_slots(kwargs, _rate_slots(kwargs.get("requests_per_second")), pool=PEAK_V2_POOL)
        return super().partial(**kwargs)

    @property
    def source_label(self) -> str:
        """A mapped task's label in the grid: the file it loads, else its table."""
        return source_label(self.rows, self.table_name)

    def execute(self, context: Context) -> dict[str, Any]:
        if self.pool == PEAK_V2_POOL and self.pool_slots < _rate_slots(self.requests_per_second):
            self.log.warning(
                "pool_slots=%d is below the %s requests per second this task may start: the pool "
                "under-counts it",
                self.pool_slots,
                _rate_slots(self.requests_per_second),
            )
        rows = self.rows
        if isinstance(rows, CallableRecords):  # Airflow 2.11 leaves it to the task
            rows = rows.resolve(context)
        hook = self._hook = PeakV2Hook(self.peak_v2_conn_id, requests_per_second=self.requests_per_second)
        solution = hook.get_solution(self.solution_name)
        known = solution.find_table(self.table_name)
        source = record_source(
            rows,
            sql=self.sql,
            sql_conn_id=self.sql_conn_id,
            sql_parameters=self.sql_parameters,
            source_conn_id=self.source_conn_id,
            chunk_size=self.sql_chunk_size,
            columns=[c.name for c in known.columns] if known else (),
        )
        options = replace(
            self.options, dead_letter_path=self.dead_letter_path, dead_letter_conn_id=self.dead_letter_conn_id
        )
        try:
            summary = hook.load_rows(
                solution,
                self.table_name,
                source,
                options,
                context=context,
                logger=task_logger(self),
            )
        except PeakRowsFailedError as exc:
            # The server's verdict on these rows will not change, and a retry would not re-send
            # the requests it acknowledged: fail without retries.
            raise AirflowFailException(str(exc)) from exc
        PeakSolutionTableLink.persist(context, hook, solution.name, summary.table)
        if summary.dry_run:  # nothing was loaded: the server checked the rows
            heading = "Checked against Peak solution table %s (%s, dry run: nothing written):\n%s"
        else:
            heading = "Loaded into Peak solution table %s (%s):\n%s"
        self.log.info(heading, summary.table, summary.operation, summary.as_table())
        result = summary.as_dict()
        dead_letter_figures(context, self.dead_letter_path, summary.dead_letters, result)
        return result

    def on_kill(self) -> None:
        """The task is ending (killed, or past its ``execution_timeout``): the requests in flight
        are abandoned and no other starts."""
        if self._hook is not None:
            self._hook.cancel()

"""Load any number of rows into one v2 solution table: the one pipeline (``ingest.pipeline``)
through v2's adapter (``ingest.apis.v2``), under v2's names.

``load_rows`` is what ``PeakV2Hook.load_rows`` (which ``PeakSolutionIngestOperator`` calls) runs;
``V2LoadOptions`` and ``V2LoadSummary`` are the pipeline's options and summary with v2's names and
defaults. What each ``on_invalid`` does, and a dry run, are the pipeline's (see its docstring):
v2 is not all-or-nothing, so a request is acknowledged (checkpointed) on any 200, with a note of
its failed rows, so that a retried task still reports them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from airflow_provider_peak.ingest.apis.v2 import V2Api, V2Sink
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.ingest.options import V2_DEFAULT_MAX_CONCURRENCY, V2_MAX_CONCURRENCY, V2LoadOptions
from airflow_provider_peak.ingest.pipeline import load
from airflow_provider_peak.ingest.summary import V2LoadSummary
from airflow_provider_peak.ingest.v2.schema import SolutionTable
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "MAX_CONCURRENCY",
    "V2LoadOptions",
    "V2LoadSummary",
    "V2Sink",
    "load_rows",
]

#: Requests in flight a load asks for when it does not say; the pacer, not this, keeps the rate.
DEFAULT_MAX_CONCURRENCY = V2_DEFAULT_MAX_CONCURRENCY
MAX_CONCURRENCY = V2_MAX_CONCURRENCY


def load_rows(
    sink: V2Sink,
    solution: str,
    table_name: str,
    table: SolutionTable | None,
    rows: Iterable[Any],
    options: V2LoadOptions,
    *,
    wire: V2Wire | None = None,
    checkpoint: Checkpoint | None = None,
    logger: logging.Logger | None = None,
) -> V2LoadSummary:
    """The pipeline for one solution table, with decided options (``V2LoadOptions.within``).

    :param table_name: the full table name sent to (``{prefix}{OBJECT}{suffix}``).
    :param table: its schema; ``None`` (or a table without columns) sends rows unchecked.
    :raises RowValidationError: (nothing sent) with ``on_invalid="fail"`` when the schema rejects a row.
    :raises PeakRowsFailedError: after sending, with ``on_invalid="fail"`` when the server rejected rows.
    :raises PeakAcknowledgementError: after sending, when a reply's counts do not add up to the rows sent.
    """
    operation = Operation.parse(options.operation or Operation.UPSERT)
    api = V2Api(sink, solution, table_name, table, operation=operation, dry_run=options.dry_run, wire=wire)
    summary = V2LoadSummary(
        solution=solution,
        table=table_name,
        operation=operation.value,
        dry_run=options.dry_run,
        dead_letter_path=options.dead_letter_path,
    )
    load(api, rows, options, summary, checkpoint=checkpoint, logger=logger)
    return summary

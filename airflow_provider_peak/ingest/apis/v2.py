"""The adapter of Peak's v2 (solutions) API: a body is the request object around the rows
(``v2.body.RequestBody``), a reply lists the rows the server refused (``v2.reply``), and the
request rate is paced (``pacing``; the sink's), so the sender keeps its concurrency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.dead_letters import ROW_LETTERS
from airflow_provider_peak.ingest.outcomes import IngestOutcome
from airflow_provider_peak.ingest.v2.body import RequestBody, records_sent
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import SolutionTable
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire

__all__ = ["V2Api", "V2Sink"]


class V2Sink(Protocol):
    """Where v2 requests go: one solution table (``PeakV2Hook``'s sink)."""

    def send(self, request: Batch) -> IngestOutcome:
        """Send one request (pacing and retries included) and read its reply."""

    def counters(self) -> Mapping[str, int]:
        """Requests, retries and 429 replies so far (the sink's transport's counts)."""

    # Optional: ``cancel()`` abandons the requests in flight and starts no other (the hook's).


class V2Api:
    """One solution table as the pipeline sees it (see the module docstring).

    :param table: its schema; ``None`` (or a table without columns) sends rows unchecked.
    """

    records = "rows"
    invalid = "rows the solution schema rejects"
    letters = ROW_LETTERS
    loaded = "Loaded into"
    #: The pacer reacts to 429s; halving the threads on top would only slow.
    adapts_concurrency = False
    #: v2 is not all-or-nothing: a request's good rows are written even when others fail.
    refuses_records = True

    def __init__(
        self,
        sink: V2Sink,
        solution: str,
        table_name: str,
        table: SolutionTable | None,
        *,
        operation: Operation | str = Operation.UPSERT,
        dry_run: bool = False,
        wire: V2Wire | None = None,
    ) -> None:
        self.sink = sink
        self.wire = wire or V2Wire()
        self.encoder = RowValidator(table, case_sensitive=self.wire.case_sensitive_keys)
        #: A dry run sends every row JSON can carry: the server's verdict is the preview.
        self.lenient = RowValidator(None)
        self.body = RequestBody(solution, operation, dry_run=dry_run, wire=self.wire)
        self.overhead = self.body.overhead
        self.table_name = table_name
        self.target = f"Peak solution table {table_name}"

    def wrap(self, batch: Batch) -> Batch:
        batch.body = self.body.wrap(batch.body)
        return batch

    def batch_name(self, batch: Batch) -> str:
        return str(batch.index)

    def send(self, batch: Batch) -> IngestOutcome:
        return self.sink.send(batch)

    def records_sent(self, body: bytes) -> list[Any] | None:
        return records_sent(body, self.wire.data_key)

    def counters(self) -> Mapping[str, int]:
        return self.sink.counters()

    def cancel(self) -> None:
        # A sink may have no transport to stop (a test's, a benchmark's): nothing to abandon then.
        cancel = getattr(self.sink, "cancel", None)
        if cancel is not None:
            cancel()

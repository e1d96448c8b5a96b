"""v2's names for where a load's row outcomes go: the dead-letter writer (``ingest.dead_letters``,
with v2's field names)."""

from __future__ import annotations

from typing import IO, Any

from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.dead_letters import ROW_LETTERS, DeadLetterWriter
from airflow_provider_peak.ingest.outcomes import IngestOutcome
from airflow_provider_peak.ingest.v2.body import records_sent

__all__ = ["DeadLetters"]


class DeadLetters(DeadLetterWriter):
    """The dead-letter writer with v2's field names (``row_index``, ``stage``, ``row``...)."""

    def __init__(self, stream: IO[str], data_key: str) -> None:
        super().__init__(stream, ROW_LETTERS)
        self.data_key = data_key

    def client(self, index: int, row: Any, errors: Any) -> None:
        self.invalid(index, row, errors)

    def server(self, request: Batch, outcome: IngestOutcome) -> None:
        self.failed(request.index, outcome, records_sent(request.body, self.data_key))

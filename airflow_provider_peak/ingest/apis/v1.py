"""The adapter of Peak's Ingestion API (v1): a body is the records' JSON array, a reply says how
many records were ingested, and the sender halves its concurrency on a 429 (the tenant allows 30
requests in flight)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.dead_letters import RECORD_LETTERS
from airflow_provider_peak.ingest.outcomes import IngestOutcome
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder

__all__ = ["BatchSink", "V1Api"]

_DECODE = msgspec.json.Decoder(float_hook=Decimal)


class BatchSink(Protocol):
    """Where v1 batches go: a table of the Peak API (``PeakHook``'s sink)."""

    def send(self, batch: Batch) -> Any:
        """Send one batch (retries included); return the acknowledged count or ``sender.NO_COUNT``."""

    def counters(self) -> Mapping[str, int]:
        """Requests, retries and 429 replies so far (the sink's transport's counts)."""

    # Optional: ``cancel()`` abandons the requests in flight and starts no other (the hook's).


class V1Api:
    """One v1 table as the pipeline sees it (see the module docstring)."""

    records = "records"
    invalid = "invalid records"
    letters = RECORD_LETTERS
    loaded = "Ingested into"
    #: The body is the records' array: nothing around it.
    overhead = 0
    adapts_concurrency = True
    #: v1 applies or refuses a batch as a whole: no record is refused on its own.
    refuses_records = False
    lenient = None

    def __init__(self, sink: BatchSink, schema: TableSchema, encoder: RecordEncoder | None = None) -> None:
        self.sink = sink
        self.encoder = encoder or RecordEncoder(schema)
        self.table_name = schema.name
        self.target = f"Peak table {schema.name}"

    def wrap(self, batch: Batch) -> Batch:
        return batch

    def batch_name(self, batch: Batch) -> str:
        return batch.batch_id  # the id a batch_id column holds

    def send(self, batch: Batch) -> IngestOutcome:
        acknowledged = self.sink.send(batch)
        return IngestOutcome(batch.count, batch.count, (), acknowledged=acknowledged)

    def records_sent(self, body: bytes) -> list[Any] | None:
        try:
            sent = _DECODE.decode(body)
        except msgspec.DecodeError:
            return None
        return sent if isinstance(sent, list) else None

    def counters(self) -> Mapping[str, int]:
        return self.sink.counters()

    def cancel(self) -> None:
        # A sink may have no transport to stop (a test's, a benchmark's): nothing to abandon then.
        cancel = getattr(self.sink, "cancel", None)
        if cancel is not None:
            cancel()

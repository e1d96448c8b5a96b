"""Child process of the memory benchmark: stream N generated records through the real pipeline
(validate, encode, pack, concurrent sender) into a discard sink; print records and peak RSS growth."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.limits import IngestLimits
from airflow_provider_peak.ingest.pipeline import IngestOptions, ingest_records
from benchmarks.run import SCHEMA, peak_rss_mb, rss_mb, typical


class Discard:
    """A sink that acknowledges every batch without sending it."""

    def send(self, batch: Batch) -> int:
        return batch.count

    def counters(self) -> dict[str, int]:
        return {}


def main(n: int) -> None:
    template = typical(7)

    def records():  # one dict reused: the generator itself holds nothing
        for i in range(n):
            template["id"] = i
            yield template

    before = rss_mb()
    summary = ingest_records(
        Discard(),
        SCHEMA,
        records(),
        IngestOptions(on_invalid="skip", max_concurrency=4).within(IngestLimits()),
    )
    after = peak_rss_mb()
    print(summary.records_sent, after - before)


if __name__ == "__main__":
    main(int(sys.argv[1]))

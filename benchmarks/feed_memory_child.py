"""Child process of the REST feed memory benchmark: a fetch that writes N generated records to a
Peak table through PeakRestFeedOperator; prints the records delivered and the peak RSS growth."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="peak-bench-"))

from airflow_provider_peak.feed import MemoryStateBackend, PeakTableDestination
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from benchmarks.run import peak_rss_mb, rss_mb
from tests.fixtures import make_context


def main(n: int) -> None:
    def fetch(output_stream: Any, metadata: Any) -> None:
        for i in range(n):
            output_stream.write({"id": i, "kind": "event", "value": i % 997})
        metadata.save({"last": n})

    operator = PeakRestFeedOperator(
        task_id="memory",
        feed_name="memory_feed",
        fetch_callable=fetch,
        destinations=[PeakTableDestination("memory_feed")],
        state_backend=MemoryStateBackend(),
    )
    before = rss_mb()
    summary = operator.execute(make_context(run_id="memory"))
    after = peak_rss_mb()
    print(summary["records"], after - before)


if __name__ == "__main__":
    main(int(sys.argv[1]))

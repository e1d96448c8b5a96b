"""Child process for the worker-crash test: ingest with a fixed run identity until killed."""

from __future__ import annotations

import json
import sys

from airflow_provider_peak.operators import PeakIngestOperator
from tests.fixtures import make_context


def main() -> None:
    table, n, checkpoint_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    op = PeakIngestOperator(
        task_id="ingest",
        table_name=table,
        records=({"id": i} for i in range(n)),
        max_records=100,
        max_concurrency=1,
        checkpoint_dir=checkpoint_dir,
    )
    print(json.dumps(op.execute(make_context(run_id="crash-run"))), flush=True)


if __name__ == "__main__":
    main()

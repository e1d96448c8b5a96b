"""Child process for the v2 worker-crash test: APPEND quote lines with a fixed run identity until killed."""

from __future__ import annotations

import json
import sys

from airflow_provider_peak.operators import PeakSolutionIngestOperator
from tests.fixtures import make_context


def quote_lines(n: int):
    for i in range(n):
        yield {
            "QUOTE_ID": f"Q{i:06d}",
            "PRODUCT_ID": "P1",
            "REGION_ID": 1,
            "QUANTITY": 1,
            "UNIT_PRICE": "9.5",
            "QUOTE_DATE": "2026-01-15",
        }


def main() -> None:
    n, checkpoint_dir = int(sys.argv[1]), sys.argv[2]
    op = PeakSolutionIngestOperator(
        task_id="append",
        solution_name="DEMO_OOTB",
        table_name="QUOTE_LINES",
        rows=quote_lines(n),
        operation="append",
        max_rows=100,
        max_concurrency=1,
        checkpoint_dir=checkpoint_dir,
    )
    print(json.dumps(op.execute(make_context(run_id="v2-crash-run"))), flush=True)


if __name__ == "__main__":
    main()

"""
### Rows into Peak solution tables (Peak's v2 ingestion API)

Loads two tables of a rolled-out Peak solution with `PeakSolutionIngestOperator`:

1. `preview_products`: a **dry run** of a day's product rows. Peak validates every row (also the
   ones the client's schema check would keep back) and writes nothing; the summary says how many
   rows it would accept and reject, by error code.
2. `upsert_products`: **UPSERT** on the table's primary key (`PRODUCT_ID`, `UPDATED_AT`). The rows
   the solution's schema rejects (a price with three decimals in a `NUMERIC(12,2)` column, an
   empty name) are written to a dead-letter file with their codes and messages; the others land.
3. `reprice_products`: a second **UPSERT** of some of the same keys with new prices: those rows are
   replaced, not added.
4. `append_quote_lines`: **APPEND** quote lines from a JSONL file written by an upstream task. A
   retry of the task never re-sends a request Peak acknowledged.

The product rows come from functions the tasks call when they run (`rows=products`), and the
quote lines from a file the upstream task names: tasks hand each other summaries and paths,
never rows.

Connection: `peak_v2_default` (host: the v2 ingestion host, `https://ingestion.peak.ai` or your
region's; password: a personal access token). Trigger with `{"solution": "<your solution>"}` to
load another solution with the same tables; the defaults match the emulator's `DEMO_OOTB`.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.operators import PeakSolutionIngestOperator

#: Where the demo writes its files (a real deployment would use object storage: s3://...).
WORK = Path(tempfile.gettempdir()) / "peak_solution_tables"
RUN_DIR = str(WORK) + "/{{ run_id | replace(':', '_') | replace('+', '_') }}"


def products(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Stands in for a product master: typed values (Decimal prices, datetimes, dates) that the
    operator writes in the columns' formats; two rows the schema rejects."""
    updated = datetime(2026, 1, 15, 10, 30)
    rows = [
        {
            "PRODUCT_ID": f"P{i:05d}",
            "UPDATED_AT": updated,
            "PRODUCT_NAME": f"Steel beam {i}",
            "PRODUCT_CATEGORY": ("beams", "plates", "bolts")[i % 3],
            "LIST_PRICE": Decimal(100 + i) / 4,
            "WEIGHT_KG": 1.5 * (i % 7 + 1),
            "ATTRIBUTES": {"grade": "S355" if i % 2 else "S275"},
            "LAUNCH_DATE": date(2025, 1 + i % 12, 1),
        }
        for i in range(int(params["products"]))
    ]
    rows[7]["LIST_PRICE"] = Decimal("12.125")  # NUMERIC(12,2): three decimals
    rows[11]["PRODUCT_NAME"] = ""  # minLength 1
    return rows


def new_prices(params: dict[str, Any]) -> list[dict[str, Any]]:
    """A tenth of the products with a new list price: same keys, so UPSERT replaces them."""
    return [{**row, "LIST_PRICE": Decimal("99.99")} for row in products(params)[::10]]


@dag(
    dag_id="peak_solution_tables",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "example", "v2"],
    params={"solution": "DEMO_OOTB", "products": 200},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def peak_solution_tables() -> None:
    @task
    def quote_lines_file(run_id: str) -> str:
        """Writes a day's quote lines as JSONL; returns its path (an s3:// URL works the same)."""
        folder = WORK / run_id.replace(":", "_").replace("+", "_")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "quote_lines.jsonl"
        with path.open("w") as out:
            for i in range(500):
                line = {
                    "QUOTE_ID": f"Q{i // 5:04d}",
                    "PRODUCT_ID": f"P{i % 50:05d}",
                    "REGION_ID": i % 4,
                    "QUANTITY": 1 + i % 9,
                    "UNIT_PRICE": f"{10 + i % 90}.{i % 10000:04d}",
                    "QUOTE_DATE": "2026-01-15",
                }
                out.write(json.dumps(line) + "\n")
        return str(path)

    preview = PeakSolutionIngestOperator(
        task_id="preview_products",
        solution_name="{{ params.solution }}",
        table_name="PRODUCTS",
        rows=products,  # called when the task runs: the rows never pass through XCom
        dry_run=True,
        on_invalid="skip",
    )
    upsert = PeakSolutionIngestOperator(
        task_id="upsert_products",
        solution_name="{{ params.solution }}",
        table_name="PRODUCTS",
        rows=products,
        operation="upsert",
        on_invalid="dead_letter",
        dead_letter_path=RUN_DIR + "/products_dead_letter.jsonl",
    )
    reprice = PeakSolutionIngestOperator(
        task_id="reprice_products",
        solution_name="{{ params.solution }}",
        table_name="PRODUCTS",
        rows=new_prices,
        operation="upsert",
    )
    append = PeakSolutionIngestOperator(
        task_id="append_quote_lines",
        solution_name="{{ params.solution }}",
        table_name="QUOTE_LINES",
        rows=quote_lines_file(),
        operation="append",
    )
    preview >> upsert >> reprice
    preview >> append


peak_solution_tables()

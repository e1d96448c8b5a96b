"""``python -m airflow_provider_peak.feed preview <dag_file> <task_id>``."""

from __future__ import annotations

import json

from airflow_provider_peak.feed.__main__ import main
from tests.fixtures import EXAMPLES

EXAMPLE = str(EXAMPLES / "peak_rest_feed_incremental.py")


def test_preview_prints_json_and_a_table_and_sends_nothing(emu, source, rest_conn, capsys):
    rest_conn("custom")
    assert main(["preview", EXAMPLE, "load_orders"]) == 0
    out = capsys.readouterr().out
    assert "Preview (10 records), JSON:" in out and "Preview (10 records), table:" in out
    assert '"order_id": 10' in out and "| customer " in out
    assert "Nothing was sent and no state was saved." in out
    assert emu.stats()["requests"] == 0
    assert source.stats["GET custom/orders"] == 1


def test_preview_from_a_given_state_as_json(emu, source, rest_conn, capsys):
    rest_conn("custom")
    args = ["preview", EXAMPLE, "load_orders", "--state", '{"after_id": 55}', "--limit", "3", "--json"]
    assert main(args) == 0
    records = json.loads(capsys.readouterr().out)  # nothing else on stdout
    assert [r["order_id"] for r in records] == [56, 57, 58]


def test_preview_names_a_missing_or_wrong_task(tmp_path, capsys):
    assert main(["preview", EXAMPLE, "nope"]) == 2
    assert "no task 'nope'" in capsys.readouterr().err
    other = tmp_path / "other_dag.py"
    other.write_text(
        "from datetime import datetime\n"
        "from airflow.providers.common.compat.sdk import DAG\n"
        "try:\n"
        "    from airflow.providers.standard.operators.empty import EmptyOperator\n"
        "except ImportError:  # Airflow 2.11\n"
        "    from airflow.operators.empty import EmptyOperator\n"
        "with DAG('other', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        "    EmptyOperator(task_id='noop')\n"
    )
    assert main(["preview", str(other), "noop"]) == 2
    assert "is a EmptyOperator, not a PeakRestFeedOperator" in capsys.readouterr().err

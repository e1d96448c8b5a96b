"""A checkpoint another local account planted never makes a load skip a batch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.checkpoint import Checkpoint
from airflow_provider_peak.utils.task_run import TaskRun
from tests.fixtures import ROOT, make_context, unique_table

ROWS = [{"id": 1}, {"id": 2}, {"id": 3}]

#: The load the worker runs in a new process, as Airflow runs a task; TMPDIR is the shared folder.
WORKER = """
import json, sys
from airflow_provider_peak.hooks.peak import PeakHook
from tests.fixtures import make_context

summary = PeakHook().load_records(sys.argv[1], [{"id": 1}, {"id": 2}, {"id": 3}], context=make_context())
print(json.dumps({"sent": summary.records_sent, "resumed": summary.records_resumed}))
"""


def test_a_planted_checkpoint_skips_nothing(emu, peak_conn, other_user, shared_tmp, tmp_path, request):
    peak_conn()
    hook = PeakHook()
    reference, table = unique_table(request, "ref"), unique_table(request)
    columns = [{"name": "id", "type": "integer"}]
    for name in (reference, table):
        hook.create_table(name, columns)
    # The attacker learns the acknowledgements of this very load (the same records) from a load of
    # their own, and plants them where the worker used to look for the checkpoint of ``table``.
    acked = Checkpoint("reference", directory=tmp_path / "reference")
    hook.load_records(reference, ROWS, checkpoint=acked)
    acked.close(success=False)
    planted_lines = acked.path.read_text()
    assert planted_lines.strip()
    run_key = TaskRun.from_context(make_context()).key(table)
    folder = shared_tmp / "airflow-provider-peak" / "checkpoints"
    planted = folder / f"{hashlib.sha256(run_key.encode()).hexdigest()[:24]}.log"

    def plant():
        folder.mkdir(parents=True)
        for level in (folder.parent, folder):
            level.chmod(0o777)
        planted.write_text(planted_lines)

    other_user.run(plant)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "TMPDIR": str(shared_tmp),
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AIRFLOW__PEAK__WORK_DIR", None)
    result = subprocess.run(
        [sys.executable, str(script), table], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"sent": 3, "resumed": 0}
    assert sorted(row["id"] for row in emu.rows(table)) == [1, 2, 3]
    assert planted.read_text() == planted_lines  # and the worker wrote nothing into it

"""A checkpoint another local account planted never makes a load skip a batch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.checkpoint import local_checkpoint
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
    # their own, and plants them where a worker once looked for the checkpoint of ``table`` (a
    # checkpoint of a task run now lives in Airflow; local files are only for loads outside it).
    run_key = TaskRun.from_context(make_context()).key(table)
    acked = local_checkpoint(run_key, directory=tmp_path / "reference")
    hook.load_records(reference, ROWS, checkpoint=acked)
    planted_files = {path.name: path.read_text() for path in acked.store.folder.iterdir()}
    assert planted_files
    folder = shared_tmp / "airflow-provider-peak" / "checkpoints"
    planted = folder / hashlib.sha256(run_key.encode()).hexdigest()[:24]

    def plant():
        planted.mkdir(parents=True)
        for level in (folder.parent, folder, planted):
            level.chmod(0o777)
        for name, text in planted_files.items():
            (planted / name).write_text(text)

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
    # And the worker wrote nothing into it.
    assert {path.name: path.read_text() for path in planted.iterdir()} == planted_files

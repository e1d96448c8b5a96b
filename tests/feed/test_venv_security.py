"""``requirements=``: a shared worker's other accounts cannot plant a virtualenv or empty a file
through a lock, pip gets data and never options, credentials stay masked, and neither pip nor the
fetch sees the worker's environment."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_peak.exceptions import FetchProcessError, PeakConfigError
from airflow_provider_peak.feed import MemoryStateBackend, PeakTableDestination
from airflow_provider_peak.feed.venv import ensure_venv
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from tests.fixtures import ROOT, Answer, make_context, unique_table

#: The feed the worker runs in a new process, as Airflow runs a task; TMPDIR is the shared folder.
WORKER = """
import json, sys
from airflow_provider_peak.feed import MemoryStateBackend, PeakTableDestination
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from tests.fixtures import make_context

def fetch(output_stream):
    output_stream.write_many([{"id": 1}, {"id": 2}, {"id": 3}])

op = PeakRestFeedOperator(
    task_id="feed", feed_name="planted", fetch_callable=fetch, requirements=["requests"],
    destinations=[PeakTableDestination(sys.argv[1])], state_backend=MemoryStateBackend(),
)
print(json.dumps({"records": op.execute(make_context())["records"]}))
"""


def run_worker(tmp_path, shared, table):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "TMPDIR": str(shared),
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AIRFLOW__PEAK__WORK_DIR", None)
    return subprocess.run(
        [sys.executable, str(script), table], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def predictable_venv(shared: Path) -> Path:
    """Where a virtualenv for ``["requests"]`` used to be cached: a name anyone could compute."""
    payload = json.dumps({"python": sys.version, "requirements": ["requests"], "inherit": True})
    return (
        shared
        / "airflow-provider-peak"
        / "venvs"
        / f"venv-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"
    )


def feed(**kwargs):
    arguments = {
        "task_id": "feed",
        "feed_name": "venv_security",
        "destinations": [PeakTableDestination("unused")],
        "state_backend": MemoryStateBackend(),
    }
    return PeakRestFeedOperator(**{**arguments, **kwargs})


@pytest.fixture(scope="module")
def venvs(tmp_path_factory):
    """One virtualenv cache for the module: each test's ``["requests"]`` virtualenv is built once."""
    return str(tmp_path_factory.mktemp("venvs"))


def fetch_export(output_stream, session):
    reply = session.get("/export")
    output_stream.write({"size": len(reply.content)})


def write_environment(output_stream):
    import os

    output_stream.write({"keys": sorted(os.environ)})


class TestAPlantedVirtualenv:
    def test_a_planted_venv_never_runs_and_a_planted_lock_empties_nothing(
        self, emu, peak_conn, other_user, shared_tmp, tmp_path, request
    ):
        peak_conn()
        table = unique_table(request)
        root = predictable_venv(shared_tmp)
        ran = shared_tmp / "planted-program-ran"
        precious = shared_tmp / "precious.txt"
        precious.write_text("the worker can write this file; the other account cannot\n")
        precious.chmod(0o644)

        def plant():
            (root / "bin").mkdir(parents=True)
            for folder in (root.parent.parent, root.parent, root, root / "bin"):
                folder.chmod(0o777)
            python = root / "bin" / "python"
            python.write_text(f"#!/bin/sh\ncat > {ran}\n")
            python.chmod(0o755)
            (root / ".peak-feed-ready").write_text("[]")
            os.symlink(precious, root.with_name(root.name + ".lock"))

        other_user.run(plant)
        result = run_worker(tmp_path, shared_tmp, table)
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout.strip().splitlines()[-1]) == {"records": 3}
        assert not ran.exists()
        assert precious.read_text() == "the worker can write this file; the other account cannot\n"
        assert sorted(row["id"] for row in emu.rows(table)) == [1, 2, 3]
        venvs = tmp_path / "home" / "peak-provider" / "venvs"
        assert len(list(venvs.glob("venv-*/.peak-feed-ready"))) == 1
        assert (os.lstat(venvs).st_mode & 0o777) == 0o700


class TestRequirementsAreData:
    @pytest.mark.parametrize(
        "entry",
        [
            "--index-url http://127.0.0.1:9/simple",
            "-r /etc/passwd",
            "--log=/tmp/pip.log",
            "-e .",
            "requests; --extra-index-url=http://x",
            "pkg @ https://host/${AIRFLOW__CORE__FERNET_KEY}.whl",
        ],
    )
    def test_options_never_reach_pip(self, entry, scripted, tmp_path):
        index = scripted(lambda seen: Answer(404))
        entry = entry.replace("http://127.0.0.1:9", index.url)
        with pytest.raises(PeakConfigError, match="requirements entry 2"):
            ensure_venv(["requests", entry], cache_path=tmp_path / "venvs")
        assert index.seen == [] and not (tmp_path / "venvs").exists()

    def test_a_rendered_option_is_refused_before_pip_runs(self, tmp_path, scripted, peak_conn):
        peak_conn()
        index = scripted(lambda seen: Answer(404))
        op = feed(
            fetch_callable=write_environment,
            requirements=["{{ params.extra }}"],
            params={"extra": f"--index-url={index.url}/simple"},
            venv_cache_path=str(tmp_path / "venvs"),
        )
        op.render_template_fields({"params": {"extra": f"--index-url={index.url}/simple"}})
        with pytest.raises(PeakConfigError, match="is a pip option"):
            op.execute(make_context())
        assert index.seen == []

    def test_an_option_is_refused_when_the_dag_is_parsed(self):
        with pytest.raises(
            PeakConfigError, match=r"requirements entry 1 \('-r /etc/passwd'\) is a pip option"
        ):
            feed(fetch_callable=write_environment, requirements=["-r /etc/passwd"])

    def test_index_urls_are_checked(self):
        with pytest.raises(PeakConfigError, match="not an http"):
            feed(fetch_callable=write_environment, requirements=["requests"], index_urls=["file:///etc"])

    def test_the_index_comes_from_index_urls_and_its_token_is_never_shown(self, scripted, tmp_path, caplog):
        index = scripted(lambda seen: Answer(404))
        token = "index-token-7d2c9e41"
        url = index.url.replace("http://", f"http://reader:{token}@") + "/simple"
        caplog.set_level(logging.INFO)
        with pytest.raises(FetchProcessError) as caught:
            ensure_venv(["peak-no-such-package-3f1a"], cache_path=tmp_path / "venvs", index_urls=[url])
        assert any(seen.path.startswith("/simple/peak-no-such-package") for seen in index.seen)
        assert token not in str(caught.value) and token not in caplog.text
        assert f"--index-url={index.url.replace('http://', 'http://***@')}/simple" in str(caught.value)

    def test_tokens_in_requirement_urls_are_never_shown(self, scripted, tmp_path, caplog):
        server = scripted(lambda seen: Answer(404))
        token = "wheel-token-5b8e0c2a"
        wheel = f"{server.url.replace('http://', f'http://build:{token}@')}/peak_missing-1.0-py3-none-any.whl"
        caplog.set_level(logging.INFO)
        with pytest.raises(FetchProcessError) as caught:
            ensure_venv([f"peak_missing @ {wheel}"], cache_path=tmp_path / "venvs")
        assert server.seen, "pip asked for the wheel"
        assert token not in str(caught.value) and token not in caplog.text
        assert "Run it by hand" in str(caught.value) and "build:" not in str(caught.value)

    def test_requirements_are_normalised_pep_508(self):
        from airflow_provider_peak.feed.venv import parse_requirements

        assert parse_requirements(["requests>=2", " pkg[extra]==1.2 ", "", None, "requests>=2"]) == [
            "pkg[extra]==1.2",
            "requests>=2",
        ]


class TestAMinimalEnvironment:
    def test_the_fetch_sees_only_the_allow_list(self, venvs, monkeypatch, emu, peak_conn, request):
        peak_conn()
        for name, value in {
            "AIRFLOW_CONN_WAREHOUSE": "postgres://u:p@h/db",
            "AIRFLOW__CORE__FERNET_KEY": "fernet-key-never-shared",
            "AWS_SECRET_ACCESS_KEY": "aws-secret",
            "GOOGLE_APPLICATION_CREDENTIALS": "/keys/gcp.json",
            "PIP_INDEX_URL": "https://pypi.example/simple",
            "LC_ALL": "C.UTF-8",
            "HTTPS_PROXY": "http://proxy.example:3128",
        }.items():
            monkeypatch.setenv(name, value)
        table = unique_table(request)
        records = []

        class Keep(PeakTableDestination):
            def load(self, staged, run):
                records.extend(staged.records(then_wait=True))
                return {"records": len(records)}

        feed(
            fetch_callable=write_environment,
            requirements=["requests"],
            venv_cache_path=venvs,
            destinations=[Keep(table)],
        ).execute(make_context())
        from airflow_provider_peak.feed.venv import minimal_environment

        (record,) = records
        keys = set(record["keys"])
        assert {"LC_ALL", "HTTPS_PROXY", "PATH"} <= keys
        assert not {k for k in keys if k.startswith(("AIRFLOW", "AWS_", "GOOGLE_", "PIP_"))}
        assert keys - set(minimal_environment()) <= {k for k in keys if k.startswith("PEAK_FEED_")} | {
            "PWD",
            "LC_CTYPE",
            "__CF_USER_TEXT_ENCODING",
        }

    def test_pip_gets_pip_settings_but_no_secrets(self):
        from airflow_provider_peak.feed.venv import minimal_environment

        environ = {
            "PATH": "/usr/bin",
            "PIP_INDEX_URL": "https://pypi.example/simple",
            "AIRFLOW_CONN_X": "secret",
            "AIRFLOW__CORE__FERNET_KEY": "k",
            "AWS_ACCESS_KEY_ID": "a",
            "AZURE_CLIENT_SECRET": "s",
        }
        assert minimal_environment(pip=True, source=environ) == {
            "PATH": "/usr/bin",
            "PIP_INDEX_URL": "https://pypi.example/simple",
        }
        assert minimal_environment(source=environ) == {"PATH": "/usr/bin"}


class TestTheVirtualenvSession:
    def test_its_replies_are_bounded_too(self, scripted, set_conn, venvs, peak_conn):
        from tests.transport.test_bounded import MIB, gzip_zeros

        peak_conn()
        bomb = gzip_zeros(100 * MIB)
        source = scripted(lambda seen: Answer(200, bomb, {"Content-Encoding": "gzip"}))
        set_conn("bombs", conn_type="peak_rest", host=source.url, extra={"max_reply_bytes": MIB})
        op = feed(
            fetch_callable=fetch_export,
            rest_conn_id="bombs",
            requirements=["requests"],
            venv_cache_path=venvs,
        )
        with pytest.raises(
            FetchProcessError, match=r"ContentDecodingError: the reply to GET .* larger than 1,048,576"
        ):
            op.execute(make_context())

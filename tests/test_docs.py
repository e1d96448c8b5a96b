"""The README and docs/: short, linked, each figure in one place, and their commands true.

Every command of the README's ``bash`` blocks is either run here, in a fresh virtualenv that has
only pip (as a newcomer's machine has), or named below with the reason it is not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.fixtures import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: Markdown link targets: inline ``[text](target)``.
INLINE_LINK = re.compile(r"\]\(([^)\s]+)\)")
#: Commands of the README the suite does not run, and why.
NOT_RUN = {
    "./scripts/demo.sh": "the demo: run by tests/e2e/test_demo.py (its parts: test_demo_support.py)",
    "./scripts/test.sh": "this suite itself",
}
#: Commands of the README this module runs (see the tests below).
RUN = ("python -m pip wheel", "python -m pip install", "export AIRFLOW_CONN_PEAK_DEFAULT=")


def _bash_commands(text: str) -> list[str]:
    """The commands of every ``bash`` block: a line, continued while a quote is open."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            if pending.count("'") % 2 == 0 and pending.count('"') % 2 == 0:
                commands.append(pending.split("  #")[0].strip())
                pending = ""
    return [c for c in commands if c]


def test_the_readme_reads_in_five_minutes():
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    # The two commands a newcomer copies, exactly.
    assert (
        "./scripts/demo.sh    # installs into .venv, starts the emulator, runs the example DAGs end-to-end"
        in text
    )
    assert "./scripts/test.sh    # installs into .venv (first run only) and runs the test suite" in text


def test_every_command_of_the_readme_is_run_here_or_says_why_not():
    commands = _bash_commands(README.read_text())
    assert commands
    for command in commands:
        assert command in NOT_RUN or command.startswith(RUN), f"a README command no test runs: {command}"


def test_the_test_script_prints_why_tests_were_skipped():
    assert " -rs " in (ROOT / "scripts" / "test.sh").read_text()


def test_links_between_the_docs_point_at_files_that_exist():
    for page in [README, *DOCS.glob("*.md"), ROOT / "emulator" / "README.md"]:
        for target in INLINE_LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


#: A range of measured figures, ``15.6-17.8`` written with an en dash.
RANGE = re.compile("\\d+(?:\\.\\d+)?\u2013\\d+(?:\\.\\d+)?")


def test_each_benchmark_figure_is_in_one_place():
    """The ranges the benchmarks print (15.6 to 17.8 s) appear on the performance page only."""
    figures = set(RANGE.findall((DOCS / "performance.md").read_text()))
    assert len(figures) > 20
    for page in [README, *DOCS.glob("*.md")]:
        if page.name != "performance.md":
            found = figures & set(RANGE.findall(page.read_text()))
            assert not found, f"{page.name} repeats figures of performance.md: {sorted(found)}"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the repository's tracked files, and a virtualenv with nothing but pip."""
    tmp = tmp_path_factory.mktemp("readme")
    clone = tmp / "clone"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the README's commands run in a clone")
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    venv.EnvBuilder(with_pip=True).create(tmp / "venv")
    return clone, tmp / "venv" / "bin"


def _run(command: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # as after `source venv/bin/activate`
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_readme_build_and_install_work_on_a_fresh_virtualenv(fresh):
    clone, bin_dir = fresh
    commands = [c for c in _bash_commands(README.read_text()) if c.startswith("python -m pip")]
    build, install = commands
    result = _run(build, clone, bin_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    # The install as printed, but for its dependencies: resolving Airflow's ~150 packages with pip
    # takes minutes here. tests/test_base_install.py installs the same wheel with every dependency.
    assert "-c constraints/constraints-" in install
    result = _run(f"{install} --no-deps", clone, bin_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = _run("python -m pip show airflow-provider-peak", clone, bin_dir).stdout
    from airflow_provider_peak import __version__

    assert f"Version: {__version__}" in shown


def test_the_readme_connection_is_one_airflow_reads():
    (export,) = [c for c in _bash_commands(README.read_text()) if c.startswith("export ")]
    printed = subprocess.run(
        ["bash", "-c", f'{export}\nprintf %s "$AIRFLOW_CONN_PEAK_DEFAULT"'], capture_output=True, text=True
    ).stdout
    from airflow.models.connection import Connection

    connection = Connection.from_json(printed, conn_id="peak_default")
    assert (connection.conn_type, connection.password) == ("peak", "<tenant api key>")
    assert json.loads(printed)["host"].startswith("https://")

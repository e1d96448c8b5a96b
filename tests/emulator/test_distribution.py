"""The emulator's own distribution: its wheel holds the emulator only, and nothing in it imports the
provider it checks."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fixtures import ROOT

EMULATOR = ROOT / "emulator"


def test_no_module_of_the_emulator_imports_the_provider():
    modules = sorted((EMULATOR / "peak_emulator").rglob("*.py"))
    assert len(modules) > 10
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.startswith(("airflow_provider_peak", "airflow"))], path


def test_its_wheel_holds_the_emulator_only(tmp_path: Path):
    source = tmp_path / "source"  # a copy: the build leaves its folders beside pyproject.toml
    shutil.copytree(EMULATOR, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    build = f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp_path)!r}))"
    result = subprocess.run([sys.executable, "-c", build], cwd=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (name,) = tmp_path.glob("peak_emulator-*.whl")
    names = zipfile.ZipFile(name).namelist()
    assert {n.split("/", 1)[0] for n in names} == {"peak_emulator", name.name.split("-py3")[0] + ".dist-info"}
    assert "peak_emulator/__main__.py" in names and "peak_emulator/py.typed" in names
    metadata = zipfile.ZipFile(name).read(f"{name.name.split('-py3')[0]}.dist-info/METADATA").decode()
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == [
        "Requires-Dist: msgspec>=0.18"
    ]


@pytest.mark.parametrize("command", [["--help"], ["show", "--help"]])
def test_it_runs_as_a_module_and_as_a_script(command):
    module = subprocess.run([sys.executable, "-m", "peak_emulator", *command], capture_output=True, text=True)
    script = subprocess.run(
        [str(Path(sys.executable).with_name("peak-emulator")), *command], capture_output=True, text=True
    )
    assert module.returncode == script.returncode == 0
    assert "python -m peak_emulator" in module.stdout

"""The wheel a user installs: its files, its metadata, and a long description whose links work on
a package index (where ``docs/``, ``scripts/`` and ``dags_examples/`` do not exist)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email import message_from_string
from email.message import Message
from pathlib import Path

import pytest

from tests.fixtures import ROOT

tomllib = pytest.importorskip("tomllib")

PACKAGE = "airflow_provider_peak"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
# Markdown link targets: inline ``[text](target)`` and reference definitions ``[label]: target``.
INLINE_LINK = re.compile(r"\]\(([^)\s]+)\)")
REFERENCE_LINK = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the sources with the PEP 517 backend pyproject.toml names."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / PACKAGE, source / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    build = f"from setuptools import build_meta; print(build_meta.build_wheel({str(out)!r}))"
    result = subprocess.run(
        [sys.executable, "-c", build], cwd=source, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (name,) = [p for p in out.iterdir() if p.suffix == ".whl"]
    return zipfile.ZipFile(name)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    """An sdist built from a copy of the sources that also holds the test suite and the emulator,
    so that leaving them out is the build's doing."""
    source = tmp_path_factory.mktemp("sdist-source")
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE", "MANIFEST.in", "CHANGELOG.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in (PACKAGE, "tests", "emulator"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    out = tmp_path_factory.mktemp("sdist")
    build = f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"
    result = subprocess.run(
        [sys.executable, "-c", build], cwd=source, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (name,) = out.glob("*.tar.gz")
    return tarfile.open(name)


def _dist_info(wheel: zipfile.ZipFile) -> str:
    (info,) = {n.split("/", 1)[0] for n in wheel.namelist() if n.split("/", 1)[0].endswith(".dist-info")}
    return info


def _metadata(wheel: zipfile.ZipFile) -> Message:
    return message_from_string(wheel.read(f"{_dist_info(wheel)}/METADATA").decode())


def test_the_wheel_holds_every_module_py_typed_and_the_licence(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    sources = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts
    }
    assert sources - names == set(), "modules missing from the wheel"
    packages = {str(Path(p).parent) for p in sources}
    assert {f"{p}/__init__.py" for p in packages} <= names, "a folder of modules is not a package"
    assert f"{PACKAGE}/py.typed" in names
    info = _dist_info(wheel)
    licence = wheel.read(f"{info}/licenses/LICENSE").decode()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the full text, not a stub
    assert f"{info}/licenses/NOTICE" in names
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "[apache_airflow_provider]" in entry_points
    assert f"provider_info = {PACKAGE}.get_provider_info:get_provider_info" in entry_points


def test_metadata_licence_urls_and_classifiers(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert not [c for c in meta.get_all("Classifier", []) if c.startswith("License ::")]  # PEP 639
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert {"Repository", "Documentation", "Changelog", "Issues"} <= set(urls)
    assert all(u.startswith(REPOSITORY) for u in urls.values()), urls
    from airflow_provider_peak import __version__

    assert meta["Version"] == __version__


def test_python_classifiers_are_the_tested_combinations(wheel: zipfile.ZipFile) -> None:
    tested = {
        m.group(1)
        for p in (ROOT / "constraints").rglob("constraints-*.txt")
        if (m := re.fullmatch(r"constraints-(3\.\d+)\.txt", p.name))
    }
    classified = {
        c.rsplit(" :: ", 1)[1]
        for c in _metadata(wheel).get_all("Classifier", [])
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert classified == tested == {"3.10", "3.11", "3.12"}
    assert _metadata(wheel)["Requires-Python"] == ">=3.10"


def test_the_long_description_has_only_absolute_links(wheel: zipfile.ZipFile) -> None:
    description = _metadata(wheel).get_payload()
    assert isinstance(description, str) and description.startswith("# airflow-provider-peak")
    targets = INLINE_LINK.findall(description) + REFERENCE_LINK.findall(description)
    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#", "mailto:"))]
    assert relative == []


def test_links_into_the_repository_point_at_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text() + (ROOT / "CHANGELOG.md").read_text()
    links = [u for u in re.findall(r"https://github\.com/[^\s)>\]]+", text) if "/airflow-provider-peak" in u]
    assert links
    for url in links:
        assert url.startswith(REPOSITORY), f"{url} is not under the project URL {REPOSITORY}"
        path = re.sub(r"^/(blob|tree|raw)/main/", "", url[len(REPOSITORY) :].split("#")[0])
        if path and not path.startswith(("/compare/", "/releases/", "@")):
            assert (ROOT / path).exists(), f"{url} names {path}, which is not in the repository"


def test_the_wheel_holds_the_provider_only(wheel: zipfile.ZipFile) -> None:
    info = _dist_info(wheel)
    others = [n for n in wheel.namelist() if not n.startswith((f"{PACKAGE}/", f"{info}/"))]
    assert others == []
    assert not [n for n in wheel.namelist() if "emulator" in n or "/tests/" in n or n.startswith("tests/")]


def test_the_wheel_requires_the_base_and_offers_the_extras(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    required = [r for r in meta.get_all("Requires-Dist", []) if "extra ==" not in r]
    assert sorted(required) == sorted(PROJECT["dependencies"])
    assert not [r for r in required if "snowflake" in r or "amazon" in r or "pandas" in r or "pyarrow" in r]
    extras = set(meta.get_all("Provides-Extra", []))
    assert {"snowflake", "amazon", "openlineage", "dataframes", "all"} <= extras


def test_the_sdist_holds_none_of_the_test_suite(sdist: tarfile.TarFile) -> None:
    names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    assert not [n for n in names if n.startswith(("tests/", "emulator/")) or "/tests/" in n]
    assert f"{PACKAGE}/__init__.py" in names
    assert {"pyproject.toml", "README.md", "LICENSE", "NOTICE", "CHANGELOG.md"} <= set(names)
    sources = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts
    }
    assert sources <= set(names), "the wheel built from the sdist would miss modules"

"""The package's layering, checked on its source: each idea keeps its one home.

* ``ingest/`` (the pipeline) imports no Airflow module at import time, so it runs and is tested
  without a scheduler; its only tie to Airflow is that its errors are ``PeakError``s.
* Only ``version_compat.py`` branches on the Airflow version or imports ``airflow.sdk`` /
  ``common.compat``.
* Nothing under ``feed/`` imports from ``operators/``; hooks import no operator.
* Every exception class the package defines lives in ``exceptions.py``.
* The root holds only the provider's entry points.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_peak"
ROOT_MODULES = {"__init__.py", "get_provider_info.py", "version_compat.py", "exceptions.py"}


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


def imports(path: Path, *, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: list[str] = []
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # ``if TYPE_CHECKING:`` blocks import nothing
            continue
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_the_root_holds_only_the_entry_points():
    assert {p.name for p in PACKAGE.glob("*.py")} == ROOT_MODULES


@pytest.mark.parametrize("path", modules("ingest"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_pipeline_imports_no_airflow_at_import_time(path):
    airflow = [name for name in imports(path, top_level_only=True) if name.split(".")[0] == "airflow"]
    assert airflow == []


def test_importing_the_pipeline_imports_nothing_of_airflow_beyond_its_exceptions():
    def airflow_modules(statement: str) -> set[str]:
        listing = "[m for m in sys.modules if m.startswith('airflow.')]"
        code = f"import json, sys; {statement}; print(json.dumps({listing}))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        return set(json.loads(out.strip().splitlines()[-1]))

    exceptions_alone = airflow_modules("import airflow.exceptions")
    pipeline = airflow_modules(
        "import airflow_provider_peak.ingest.pipeline, airflow_provider_peak.ingest.columnar"
        if (PACKAGE / "ingest" / "columnar.py").exists()
        else "import airflow_provider_peak.ingest.pipeline"
    )
    assert pipeline - exceptions_alone == set()


@pytest.mark.parametrize(
    "path",
    [p for p in modules(".") if p.name != "version_compat.py"],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_only_version_compat_knows_the_airflow_version(path):
    text = path.read_text()
    assert "AIRFLOW_V_" not in text.replace("from airflow_provider_peak.version_compat import", "")
    branching = [
        name
        for name in imports(path)
        if name.startswith(("airflow.sdk", "airflow.providers.common.compat", "airflow.utils.context"))
    ]
    assert branching == []


@pytest.mark.parametrize("path", modules("feed", "hooks", "ingest", "models", "utils"), ids=lambda p: str(p))
def test_no_lower_layer_imports_an_operator(path):
    assert [name for name in imports(path) if name.startswith("airflow_provider_peak.operators")] == []


def test_every_exception_class_lives_in_exceptions():
    defined = []
    for path in modules("."):
        if path.name == "exceptions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id.endswith(("Error", "Exception")) for base in node.bases
            ):
                defined.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    # Internal control-flow signals of the feed runtime and the pipeline are not errors a user catches.
    internal = {
        "feed/stream.py",
        "feed/user_code.py",
        "ingest/batching.py",
        "ingest/encode.py",
        "ingest/record_errors.py",
        "ingest/types.py",
    }
    assert [d for d in defined if not any(d.startswith(prefix) for prefix in internal)] == []


def test_every_user_facing_error_is_a_peak_error():
    from airflow_provider_peak import exceptions

    errors = [
        obj
        for obj in vars(exceptions).values()
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == exceptions.__name__
    ]
    assert len(errors) > 20
    assert all(issubclass(error, exceptions.PeakError) for error in errors)

"""The package's layering, checked on its source: each idea keeps its one home.

* The core (``ingest/``, ``transport/``, the errors, the strict checks and redaction of
  ``utils/``) imports nothing of Airflow: it imports, runs and raises its errors in a process where
  ``import airflow`` fails, and importing it inside Airflow loads no Airflow module either.
* The provider info, and the connection settings and forms it is rendered from, import no Airflow
  (Airflow reads the provider info while it imports itself); the settings import nothing of ``ui/``.
* Only ``version_compat.py`` branches on the Airflow version or imports ``airflow.sdk`` /
  ``common.compat``.
* Nothing under ``feed/`` imports from ``operators/``; hooks import no operator.
* Every error class the package defines lives in ``errors.py`` (and its Airflow twin in
  ``exceptions.py``); other exception classes are private control-flow signals of their module.
* The root holds only the provider's entry points and its errors.
"""

from __future__ import annotations

import ast
import importlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_peak"
ROOT_MODULES = {"__init__.py", "get_provider_info.py", "version_compat.py", "exceptions.py", "errors.py"}
#: What the core is: the modules that import, run and raise without Airflow.
CORE = ("ingest", "transport", "errors.py", "utils/checks.py", "utils/redaction.py", "utils/workdir.py")
#: Where each connection setting is declared (the forms are rendered from them).
SETTINGS = ("hooks/_settings.py", "hooks/_connection.py")


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules(entries: tuple[str, ...] = CORE) -> list[str]:
    paths = [[PACKAGE / entry] if entry.endswith(".py") else modules(entry) for entry in entries]
    return [module_name(path) for group in paths for path in group]


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


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


@pytest.mark.parametrize("path", modules("ingest", "transport"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_no_airflow_at_import_time(path):
    airflow = [name for name in imports(path, top_level_only=True) if name.split(".")[0] == "airflow"]
    assert airflow == []


def test_importing_the_core_imports_nothing_of_airflow():
    listing = "[m for m, module in sys.modules.items() if m.split('.')[0] == 'airflow' and module]"
    statement = "; ".join(f"import {name}" for name in core_modules())
    loaded = json.loads(run_python(f"import json, sys; {statement}; print(json.dumps({listing}))"))
    assert loaded == []


#: In a process where ``import airflow`` fails: import the core, raise its errors, pickle them.
WITHOUT_AIRFLOW = """
import json, pickle, sys
sys.modules["airflow"] = None
try:
    import airflow
except ImportError:
    pass
else:
    raise SystemExit("airflow imported")
for name in json.loads(sys.argv[1]):
    __import__(name)
from airflow_provider_peak import errors
from airflow_provider_peak.ingest.schema import TableSchema
try:
    TableSchema.build("orders", [{"name": "id", "type": "integer"}, {"name": "id", "type": "integer"}])
except errors.SchemaError as exc:
    raised = exc
again = pickle.loads(pickle.dumps(errors.PeakHTTPError(404, "GET", "/t", "gone", code="NOT_FOUND")))
print(json.dumps({
    "raised": type(raised).__module__ + "." + type(raised).__name__,
    "mro": [k.__name__ for k in type(raised).__mro__],
    "pickled": [type(again).__module__, again.status, again.code, str(again)],
}))
"""


def test_the_core_imports_and_raises_where_airflow_cannot_be_imported():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_AIRFLOW, json.dumps(core_modules())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["raised"] == "airflow_provider_peak.errors.SchemaError"
    assert "AirflowException" not in seen["mro"]
    assert seen["pickled"] == [
        "airflow_provider_peak.errors",
        404,
        "NOT_FOUND",
        "404 NOT_FOUND on GET /t: gone",
    ]


def test_the_provider_info_is_read_where_airflow_cannot_be_imported():
    code = (
        "import json, sys\n"
        "sys.modules['airflow'] = None\n"
        "from airflow_provider_peak.get_provider_info import get_provider_info\n"
        "info = get_provider_info()\n"
        "print(json.dumps([c['connection-type'] for c in info['connection-types']]))"
    )
    assert json.loads(run_python(code)) == ["peak", "peak_rest", "peaka", "peak_v2"]
    listing = "[m for m, module in sys.modules.items() if m.split('.')[0] == 'airflow' and module]"
    loaded = run_python(
        "import json, sys; from airflow_provider_peak.get_provider_info import get_provider_info; "
        f"get_provider_info(); print(json.dumps({listing}))"
    )
    assert json.loads(loaded) == []


@pytest.mark.parametrize("path", [PACKAGE / entry for entry in SETTINGS], ids=lambda p: p.name)
def test_the_connection_settings_import_nothing_of_the_ui(path):
    assert [name for name in imports(path) if name.startswith("airflow_provider_peak.ui")] == []


def test_the_core_raises_airflow_exceptions_inside_airflow_without_importing_exceptions():
    """In a process that has Airflow, an error the core raises is the documented class and an
    ``AirflowException``, even when nothing imported ``exceptions`` first."""
    code = (
        "import json, sys, airflow.exceptions\n"
        "from airflow_provider_peak import errors\n"
        "assert 'airflow_provider_peak.exceptions' not in sys.modules\n"
        "error = errors.PeakConfigError('bad')\n"
        "from airflow_provider_peak import exceptions\n"
        "print(json.dumps([type(error).__module__, isinstance(error, airflow.exceptions.AirflowException),"
        " isinstance(error, exceptions.PeakConfigError), isinstance(error, ValueError)]))"
    )
    assert json.loads(run_python(code)) == ["airflow_provider_peak.exceptions", True, True, True]


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


def test_every_error_class_lives_in_errors():
    """Public exception classes are defined in ``errors.py`` (their twins in ``exceptions.py``);
    any other is a private signal of its module."""
    defined = []
    for path in modules("."):
        name = module_name(path)
        if path.name == "__main__.py":
            continue
        if name in ("airflow_provider_peak.errors", "airflow_provider_peak.exceptions"):
            continue
        for obj in vars(importlib.import_module(name)).values():
            public = isinstance(obj, type) and not obj.__name__.startswith("_")
            if public and issubclass(obj, BaseException) and obj.__module__ == name:
                defined.append(f"{name}.{obj.__name__}")
    assert defined == []


def test_every_user_facing_error_is_a_peak_error():
    from airflow_provider_peak import exceptions

    errors = [
        obj
        for obj in vars(exceptions).values()
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == exceptions.__name__
    ]
    assert len(errors) > 20
    assert all(issubclass(error, exceptions.PeakError) for error in errors)


def test_every_error_has_its_airflow_twin():
    """Each error class of ``errors`` has a class of the same name in ``exceptions`` that subclasses
    it and ``AirflowException``, and constructing the first returns the second (pickled alike)."""
    from airflow.exceptions import AirflowException

    from airflow_provider_peak import errors, exceptions

    core = {
        name: obj
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.PeakError) and obj.__module__ == errors.__name__
    }
    assert len(core) > 20
    for name, cls in core.items():
        twin = getattr(exceptions, name)
        assert twin.__module__ == exceptions.__name__ and twin.__doc__ == cls.__doc__, name
        assert issubclass(twin, cls) and issubclass(twin, AirflowException), name
        for base in cls.__bases__:  # the twin keeps the tree: its parent's twin is its parent
            if base is not errors.PeakError and issubclass(base, errors.PeakError):
                assert issubclass(twin, getattr(exceptions, base.__name__)), name
    error = errors.PeakRateLimitError(429, "POST", "/t", "slow down", retry_after=2.0)
    assert type(error) is exceptions.PeakRateLimitError
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is exceptions.PeakRateLimitError and again.retry_after == 2.0
    assert exceptions.FeedAborted is errors.FeedAborted and not issubclass(errors.FeedAborted, Exception)

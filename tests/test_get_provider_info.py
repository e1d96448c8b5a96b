from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import airflow_provider_peak


def _info():
    (ep,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_peak")
    ]
    return ep.load()()


def test_entry_point_returns_the_provider_info():
    info = _info()
    assert info["package-name"] == "airflow-provider-peak"
    assert info["versions"] == [airflow_provider_peak.__version__]


def test_every_listed_module_imports():
    info = _info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_connection_types_match_their_hooks():
    for conn in _info()["connection-types"]:
        module, _, name = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == conn["connection-type"]
        assert hook.hook_name == conn["hook-name"]
        assert hook.default_conn_name == f"{conn['connection-type']}_default"
        behaviour = hook.get_ui_field_behaviour()
        assert behaviour["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"]
        assert behaviour["relabeling"] == conn["ui-field-behaviour"]["relabeling"]


def test_secret_fields_are_marked_sensitive():
    for conn in _info()["connection-types"]:
        for name, spec in conn["conn-fields"].items():
            secret = any(word in name for word in ("secret", "password", "token_value", "api_key_value"))
            assert (spec["schema"].get("format") == "password") == secret, name


def test_airflow_cli_lists_the_provider_and_its_hooks():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    airflow = str(Path(sys.executable).with_name("airflow"))

    def cli(*args: str) -> list[dict]:
        out = subprocess.run([airflow, *args, "-o", "json"], capture_output=True, text=True, env=os.environ)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    providers = {p["package_name"]: p for p in cli("providers", "list")}
    assert providers["airflow-provider-peak"]["version"] == airflow_provider_peak.__version__
    hooks = {h["connection_type"]: h["class"] for h in cli("providers", "hooks")}
    assert hooks["peak"] == "airflow_provider_peak.hooks.peak.PeakHook"
    assert hooks["peak_rest"] == "airflow_provider_peak.hooks.peak_rest.PeakRestHook"
    assert hooks["peaka"] == "airflow_provider_peak.hooks.peaka.PeakaHook"


def test_the_work_dir_option_is_declared():
    option = _info()["config"]["peak"]["options"]["work_dir"]
    assert option["type"] == "string" and option["default"] is None
    assert "AIRFLOW_HOME" in option["description"]


def test_the_dead_letter_link_template_option_is_declared():
    option = _info()["config"]["peak"]["options"]["dead_letter_url_template"]
    assert option["type"] == "string" and option["default"] is None
    assert all(field in option["description"] for field in ("{scheme}", "{bucket}", "{key}", "{path}"))


def test_every_operator_link_is_registered():
    info = _info()
    used = set()
    for section in ("operators", "sensors"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                for value in vars(importlib.import_module(module)).values():
                    for link in getattr(value, "operator_extra_links", ()) if isinstance(value, type) else ():
                        used.add(f"{type(link).__module__}.{type(link).__name__}")
    assert "airflow_provider_peak.ui.links.PeakDeadLettersLink" in used
    assert used <= set(info["extra-links"])


def _pyproject() -> dict:
    from pathlib import Path

    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    return tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]


def test_the_extras_airflow_is_told_of_are_the_packages_extras():
    declared = {e["name"]: e["dependencies"] for e in _info()["additional-extras"]}
    optional = _pyproject()["optional-dependencies"]
    assert declared == {name: optional[name] for name in declared}
    assert set(declared) == {"snowflake", "amazon", "openlineage", "dataframes"}
    assert optional["all"] == [f"airflow-provider-peak[{','.join(declared)}]"]
    assert "airflow-provider-peak[all,bench]" in optional["dev"]  # the tests run with everything


def test_the_base_install_holds_no_other_provider_and_no_dataframe_library():
    from packaging.requirements import Requirement

    names = {Requirement(r).name for r in _pyproject()["dependencies"]}
    assert names == {
        "apache-airflow",
        "apache-airflow-providers-common-compat",
        "requests",
        "httpx",
        "tenacity",
        "msgspec",
        "packaging",
    }

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


def test_airflow_providers_manager_sees_the_hook():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-peak" in manager.providers
    assert manager.hooks["peak"].hook_class_name == "airflow_provider_peak.hooks.peak.PeakHook"

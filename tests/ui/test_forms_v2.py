"""The ``peak_v2`` connection form: every ``V2Wire`` field with its default and source, and an
untouched form read back as the newest revision (``test_forms.py`` checks what every form shares)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from airflow_provider_peak.get_provider_info import get_provider_info
from airflow_provider_peak.hooks._connection import PeakV2Settings
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.ingest.v2.wire import SOURCES, V2Wire
from airflow_provider_peak.ui.forms import (
    PEAK_V2_CONN_FIELDS,
    PEAK_V2_UI_BEHAVIOUR,
    V2_MASKED_BY_AIRFLOW,
    V2_WIRE_FORM,
)
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

JSON_TYPES = {
    "str": "string",
    "tuple[str, ...]": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
}


def test_the_form_lists_every_wire_field_with_its_default_and_source():
    wire = {f.name: f for f in fields(V2Wire)}
    assert [name for name, *_ in V2_WIRE_FORM] == list(wire)
    for name, default, kind, mark in V2_WIRE_FORM:
        expected = wire[name].default
        assert default == (", ".join(expected) if isinstance(expected, tuple) else expected), name
        assert kind == JSON_TYPES[str(wire[name].type)], name
        assert SOURCES[name].startswith(mark), name
        assert f"({mark}; see docs/ingestion-v2.md)" in PEAK_V2_CONN_FIELDS[name]["description"]


def test_a_masked_name_keeps_its_default_in_the_text_only():
    """Airflow shows a field named like a secret as "***" and stores that: such a field gets its
    default in the description only (the reader takes "***" as the default)."""
    try:
        from airflow.sdk._shared.secrets_masker.secrets_masker import should_hide_value_for_key
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import should_hide_value_for_key

    masked = [name for name in PEAK_V2_CONN_FIELDS if should_hide_value_for_key(name)]
    # Airflow 3 masks names containing "auth"; 2.11 does not, and its form simply shows the value.
    assert masked == (["auth_header"] if AIRFLOW_V_3_0_PLUS else [])
    assert sorted(V2_MASKED_BY_AIRFLOW) == ["auth_header"]
    assert "Default: Authorization." in PEAK_V2_CONN_FIELDS["auth_header"]["description"]
    assert "auth_header" not in PEAK_V2_UI_BEHAVIOUR["placeholders"]


@pytest.mark.parametrize("saved", [None, "***"])
def test_a_form_saved_untouched_reads_back_as_the_newest_revision(saved):
    """What Airflow stores when a user saves the form without editing it: null for every empty
    input and unselected choice, "***" where the masked field was shown with a value."""
    stored = {name: spec["schema"].get("default") for name, spec in PEAK_V2_CONN_FIELDS.items()}
    assert stored["case_sensitive_keys"] is None
    stored["auth_header"] = saved
    settings = PeakV2Settings.from_connection(
        host="https://ingestion.peak.ai", password="pat-x", extra=stored
    )
    assert settings.wire == V2Wire()
    assert settings.requests_per_second_share == 0.9 and settings.tenant_headers == {}


def test_the_connection_type_is_registered_with_its_form():
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "peak_v2"]
    assert entry["hook-class-name"] == "airflow_provider_peak.hooks.peak_v2.PeakV2Hook"
    assert entry["conn-fields"] is PEAK_V2_CONN_FIELDS
    assert entry["ui-field-behaviour"]["relabeling"]["host"] == "v2 ingestion host"
    assert "https://ingestion.<cluster>.peak.ai" in entry["ui-field-behaviour"]["placeholders"]["host"]
    assert PeakV2Hook.get_ui_field_behaviour()["hidden_fields"] == ["schema", "port", "login"]

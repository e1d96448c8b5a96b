"""The ``peak_v2`` connection form: every ``V2Wire`` field with its default and source, and an
untouched form read back as the newest revision (``test_forms.py`` checks what every form shares)."""

from __future__ import annotations

import re
import warnings
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
    V2_WIRE_NAMES,
)
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS, CONNECTION_FORM_SECTIONS
from tests.fixtures import ROOT

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


#: The fields of the form besides the wire names.
NOT_WIRE = [
    "tenant",
    "tenant_id",
    "requests_per_second_share",
    "timeout",
    "max_retries",
    "verify",
    "table_url_template",
]


def _shown(default: object) -> str:
    """A default as the docs' table writes it."""
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return "none" if default == "" else f"`{default}`"


def test_the_docs_list_every_wire_setting_with_its_default_type_and_mark():
    """Before Airflow 3.2 the wire names are extras only: the docs are where users find them."""
    text = (ROOT / "docs" / "ingestion-v2.md").read_text()
    section = text.split("### The wire settings (extras of the `peak_v2` connection)\n", 1)[1]
    section = section.split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (\w+) \| (\w+) \|$", section, re.MULTILINE)
    expected = [(name, _shown(default), kind, mark) for name, default, kind, mark in V2_WIRE_FORM]
    assert rows == expected
    assert len(rows) == len(fields(V2Wire)) > 30


def test_before_airflow_3_2_the_form_leaves_the_wire_names_out():
    """The form of Airflow < 3.2 (Flask-AppBuilder widgets) has no sections to fold some forty names
    into: it offers the other fields only, and no placeholders for the names left out."""
    behaviour = PeakV2Hook.get_ui_field_behaviour()
    assert set(behaviour["placeholders"]).isdisjoint(V2_WIRE_NAMES) and "host" in behaviour["placeholders"]
    assert list(PEAK_V2_CONN_FIELDS) == NOT_WIRE + list(V2_WIRE_NAMES)  # all of them from 3.2
    pytest.importorskip("flask_appbuilder", reason="Airflow 3 without the FAB provider: no legacy form")
    assert list(PeakV2Hook.get_connection_form_widgets()) == NOT_WIRE


def test_a_wire_name_set_in_the_extras_is_read_in_either_spelling():
    """Where the form leaves them out, the wire names are typed in the Extra Fields JSON."""
    extra = {
        "ingest_path": "/api/v2/ingest/object/{table}",
        "extra__peak_v2__max_rows": "500",
        "failed_index_keys": "rowIndex, index",
        "case_sensitive_keys": "false",
    }
    wire = PeakV2Settings.from_connection(
        host="https://ingestion.peak.ai", password="pat-x", extra=extra
    ).wire
    assert (wire.ingest_path, wire.max_rows) == ("/api/v2/ingest/object/{table}", 500)
    assert (wire.failed_index_keys, wire.case_sensitive_keys) == (("rowIndex", "index"), False)


def test_airflow_draws_the_wire_names_in_one_section_or_not_at_all():
    """What this Airflow's providers manager collects for the form: on 3.2+ every wire name, in the
    "API names (assumed)" section the UI collapses; before, only the other fields."""
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        widgets = ProvidersManager().connection_form_widgets
    prefix = "extra__peak_v2__"
    drawn = [key.removeprefix(prefix) for key in widgets if key.startswith(prefix)]
    if not CONNECTION_FORM_SECTIONS:
        assert drawn == NOT_WIRE
        return
    assert drawn == NOT_WIRE + list(V2_WIRE_NAMES)
    sections = {name: widgets[prefix + name].field["schema"].get("section") for name in drawn}
    assert {sections[name] for name in V2_WIRE_NAMES} == {"API names (assumed)"}
    assert {sections[name] for name in NOT_WIRE} == {None}

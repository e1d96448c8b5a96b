"""The connection forms as Airflow serves them: nothing masked, every default described and true,
the legacy widgets of Airflow < 3.2 drawing the same fields."""

from __future__ import annotations

import sys
from dataclasses import MISSING
from typing import Any
from unittest import mock

import pytest

from airflow_provider_peak.hooks._connection import PeakaSettings, PeakSettings, PeakV2Settings, RestSettings
from airflow_provider_peak.ui import forms
from airflow_provider_peak.ui.links import TEMPLATE_EXTRA

FORMS = {
    "peak": forms.PEAK_FIELDS,
    "peak_rest": forms.PEAK_REST_FIELDS,
    "peaka": forms.PEAKA_FIELDS,
    "peak_v2": forms.PEAK_V2_FIELDS,
}
CONN_FIELDS = {
    "peak": forms.PEAK_CONN_FIELDS,
    "peak_rest": forms.PEAK_REST_CONN_FIELDS,
    "peaka": forms.PEAKA_CONN_FIELDS,
    "peak_v2": forms.PEAK_V2_CONN_FIELDS,
}
BEHAVIOURS = {
    "peak": forms.PEAK_UI_BEHAVIOUR,
    "peak_rest": forms.PEAK_REST_UI_BEHAVIOUR,
    "peaka": forms.PEAKA_UI_BEHAVIOUR,
    "peak_v2": forms.PEAK_V2_UI_BEHAVIOUR,
}
READERS: dict[str, Any] = {
    "peak": PeakSettings,
    "peak_rest": RestSettings,
    "peaka": PeakaSettings,
    "peak_v2": PeakV2Settings,
}
#: Characters of the longest label that sits on one line in Airflow 3.3's form (the browser suite
#: measures the real thing).
MAX_LABEL = 24


def hook_meta() -> dict[str, Any]:
    """What Airflow 3.3's ``/ui/connections/hook_meta`` endpoint returns (masking included)."""
    pytest.importorskip("airflow.api_fastapi", reason="Airflow 2 draws its forms without hook_meta")
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    return {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}


def reader_default(conn_type: str, name: str) -> Any:
    spec = READERS[conn_type].extra_specs()[name]
    if spec.default is not MISSING:
        # A list of candidate names is typed comma-separated in the form.
        return ", ".join(spec.default) if isinstance(spec.default, tuple) else spec.default
    return spec.default_factory() if spec.default_factory is not MISSING else None


@pytest.mark.parametrize("conn_type", FORMS)
def test_hook_meta_serves_every_field_without_a_masked_value(conn_type):
    extra = hook_meta()[conn_type].extra_fields
    assert set(extra) == set(FORMS[conn_type])
    for name, spec in extra.items():
        assert spec["value"] != "***", name
        # No field carries a value: a pre-selected choice would be saved as a short string, which
        # Airflow's secrets masker warns about whenever a task reads the connection.
        assert spec["value"] is None, name
        if "enum" in spec["schema"]:  # a choice list offers "none selected"
            assert spec["schema"]["enum"][-1] is None, name


@pytest.mark.parametrize("conn_type", FORMS)
def test_every_default_is_written_in_the_description_and_is_the_readers(conn_type):
    for name, spec in FORMS[conn_type].items():
        default = reader_default(conn_type, name)
        if name == TEMPLATE_EXTRA or default in (None, "", {}):
            continue  # no default to describe (an empty link template means no link)
        if spec.choices is not None:  # the default is the choice's value
            assert spec.default == (str(default).lower() if isinstance(default, bool) else default), name
            continue
        text = str(default).lower() if isinstance(default, bool) else str(default).removesuffix(".0")
        assert f"Default: {text}" in CONN_FIELDS[conn_type][name]["description"], name
        if spec.default is not None:
            assert spec.shown_default == text, name


@pytest.mark.parametrize("conn_type", FORMS)
def test_every_field_is_a_setting_the_connection_accepts(conn_type):
    assert set(FORMS[conn_type]) <= set(READERS[conn_type].extra_specs())


@pytest.mark.parametrize("conn_type", FORMS)
def test_labels_are_short(conn_type):
    labels = [spec.label for spec in FORMS[conn_type].values()]
    labels += list(BEHAVIOURS[conn_type]["relabeling"].values())
    assert [label for label in labels if len(label) > MAX_LABEL] == []


def test_custom_auth_fields_sit_in_their_own_section():
    custom = {n for n, s in forms.PEAK_REST_FIELDS.items() if s.section == forms.CUSTOM_AUTH_SECTION}
    assert custom == {
        "auth_url",
        "auth_method",
        "auth_headers",
        "auth_body",
        "token_path",
        "token_header",
        "token_prefix",
        "expires_in_path",
    }
    # The default section comes first in the form: its fields are declared first.
    sections = [s.section for s in forms.PEAK_REST_FIELDS.values()]
    assert sections == sorted(sections, key=lambda s: s is not None)


@pytest.mark.parametrize("conn_type", FORMS)
def test_airflow_2_placeholders_show_the_defaults(conn_type):
    placeholders = forms.legacy_field_behaviour(BEHAVIOURS[conn_type])["placeholders"]
    for name, spec in FORMS[conn_type].items():
        if spec.default is not None and spec.choices is None:
            assert placeholders[name] == spec.shown_default


def legacy_hook_meta(conn_type: str) -> dict[str, Any]:
    """The extra fields Airflow 3.0/3.1's ``hook_meta`` draws from ``get_connection_form_widgets``:
    its mock WTForms classes (as in ``HookMetaService._get_hooks_with_mocked_fab``), then its
    conversion and masking."""
    pytest.importorskip("airflow.api_fastapi", reason="Airflow 2 draws its forms without hook_meta")
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionHookMetaData
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService as Meta
    from airflow.providers_manager import ConnectionFormWidgetInfo

    modules = (
        "wtforms",
        "wtforms.validators",
        "flask_babel",
        "flask_appbuilder",
        "flask_appbuilder.fieldwidgets",
    )
    with (
        mock.patch.dict(sys.modules, {name: mock.MagicMock() for name in modules}),
        mock.patch("wtforms.StringField", Meta.MockStringField),
        mock.patch("wtforms.PasswordField", Meta.MockPasswordField),
        mock.patch("wtforms.validators.Optional", Meta.MockOptional),
        mock.patch("wtforms.validators.any_of", Meta.MockEnum),
        mock.patch("flask_babel.lazy_gettext", str),
        mock.patch("flask_appbuilder.fieldwidgets.BS3TextFieldWidget", Meta.MockAnyWidget),
        mock.patch("flask_appbuilder.fieldwidgets.BS3PasswordFieldWidget", Meta.MockAnyWidget),
    ):
        widgets = forms.legacy_form_widgets(CONN_FIELDS[conn_type])
    infos = {
        f"extra__{conn_type}__{name}": ConnectionFormWidgetInfo("hook", "package", widget, name, False)
        for name, widget in widgets.items()
    }
    converted = Meta._convert_extra_fields(infos)[conn_type]
    meta = ConnectionHookMetaData(
        connection_type=conn_type,
        hook_class_name=None,
        default_conn_name=None,
        hook_name=conn_type,
        standard_fields=None,
        extra_fields=converted,
    )
    return dict(meta.extra_fields or {})


@pytest.mark.parametrize("conn_type", FORMS)
def test_legacy_widgets_draw_the_same_form_on_airflow_3_1(conn_type):
    legacy, current = legacy_hook_meta(conn_type), hook_meta()[conn_type].extra_fields
    assert list(legacy) == list(current)
    for name, spec in legacy.items():
        assert spec["schema"]["title"] == current[name]["schema"]["title"], name
        assert spec["description"] == current[name]["description"], name
        assert spec["value"] == current[name]["value"], name
        assert spec["schema"].get("format") == current[name]["schema"].get("format"), name
        if "enum" in current[name]["schema"]:
            assert spec["schema"]["enum"] == [c for c in current[name]["schema"]["enum"] if c is not None]


@pytest.mark.parametrize("conn_type", FORMS)
def test_legacy_widgets_with_flask_appbuilder(conn_type):
    """Airflow 2.11's form: real WTForms fields with the same labels and no default."""
    pytest.importorskip("flask_appbuilder")
    widgets = forms.legacy_form_widgets(CONN_FIELDS[conn_type])
    assert list(widgets) == list(FORMS[conn_type])
    for name, widget in widgets.items():
        spec = FORMS[conn_type][name]
        assert str(widget.args[0]) == spec.label
        assert widget.kwargs["description"] == CONN_FIELDS[conn_type][name]["description"]
        assert widget.kwargs.get("default") is None


def test_a_setting_is_read_and_drawn_from_its_one_declaration():
    """One ``setting(...)`` gives the reader its default, kind and bounds and the form its label,
    help, section and default: a new connection type needs nothing else."""
    from dataclasses import dataclass
    from typing import ClassVar

    from airflow_provider_peak.exceptions import PeakConfigError
    from airflow_provider_peak.hooks._settings import ConnectionForm, ConnectionSettings, setting

    @dataclass(frozen=True, repr=False)
    class ToySettings(ConnectionSettings):
        conn_type: ClassVar[str] = "toy"
        hook_name: ClassVar[str] = "Toy"
        hook_class: ClassVar[str] = "toy.ToyHook"
        form: ClassVar[ConnectionForm] = ConnectionForm(
            extras=("mode", "timeout", "page_size"),
            hidden=("port",),
            relabeling={"host": "Toy URL"},
            placeholders={"host": "https://toy.example"},
            labels={"timeout": "Wait (s)"},
        )

        page_size: int = setting(
            100, kind="count", minimum=1, label="Page size", help="Rows per page.", section="Paging"
        )
        mode: str = setting(
            "fast", kind="choice", choices={"fast": "Fast", "safe": "Safe"}, label="Mode", help="How."
        )

    drawn = forms.connection_type(ToySettings)
    assert (drawn["connection-type"], drawn["hook-name"], drawn["hook-class-name"]) == (
        "toy",
        "Toy",
        "toy.ToyHook",
    )
    assert list(drawn["conn-fields"]) == ["mode", "timeout", "page_size"]
    assert drawn["conn-fields"]["page_size"] == {
        "label": "Page size",
        "description": "Rows per page. Default: 100.",
        "schema": {"type": ["integer", "null"], "section": "Paging"},
    }
    assert "default" not in drawn["conn-fields"]["mode"]["schema"]  # nothing pre-selected
    assert drawn["conn-fields"]["mode"]["description"] == "How. Default: Fast."
    assert drawn["conn-fields"]["timeout"]["label"] == "Wait (s)"
    assert drawn["conn-fields"]["timeout"]["description"] == "Seconds to wait for a reply. Default: 60."
    assert drawn["ui-field-behaviour"] == {
        "hidden-fields": ["port"],
        "relabeling": {"host": "Toy URL"},
        "placeholders": {"host": "https://toy.example", "timeout": "60", "page_size": "100"},
    }
    read = ToySettings.from_connection(host="https://toy.example", extra={"page_size": None, "mode": "SAFE"})
    assert (read.page_size, read.mode, read.timeout) == (100, "safe", 60.0)
    with pytest.raises(PeakConfigError, match="page_size must be positive"):
        ToySettings.from_connection(host="https://toy.example", extra={"page_size": "0"})
    with pytest.raises(PeakConfigError, match="mode must be one of fast, safe"):
        ToySettings.from_connection(host="https://toy.example", extra={"mode": "slow"})


def test_a_short_extra_value_makes_airflow_warn_as_a_task_reads_the_connection_and_forms_store_none(
    set_conn, monkeypatch, caplog, capfd
):
    """Airflow hands every string of a connection's extras to its secrets masker as it reads the
    connection, and the masker warns (once per process) of one shorter than it can mask, such as
    the region ``"us"`` a pre-selected choice would store. An untouched form stores none."""
    masker = pytest.importorskip("airflow.sdk._shared.secrets_masker.secrets_masker").SecretsMasker
    from airflow_provider_peak.hooks.peaka import PeakaHook

    warning = "Skipping masking for a secret as it's too short"
    untouched = {name: spec["schema"].get("default") for name, spec in forms.PEAKA_CONN_FIELDS.items()}
    for conn_id, extra, warned in (
        ("peaka_untouched", untouched, False),
        ("peaka_us", {"region": "us"}, True),
    ):
        monkeypatch.setattr(masker, "_has_warned_short_secret", False)
        caplog.clear()
        set_conn(conn_id, conn_type="peaka", password="peaka-key-12345", extra=extra)
        assert PeakaHook(conn_id).settings.base_url == "https://partner.peaka.studio"
        assert (warning in caplog.text + "".join(capfd.readouterr())) is warned, conn_id

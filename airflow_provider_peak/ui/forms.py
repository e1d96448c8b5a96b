"""The connection forms of ``peak``, ``peak_rest``, ``peaka`` and ``peak_v2``, rendered from the
settings declared in ``hooks._connection`` (each setting's label, help, section and default in one
place; each connection type's layout there too).

Airflow 3.2+ draws a form from ``conn-fields`` / ``ui-field-behaviour`` in the provider info
without importing the hook; on older Airflow the hooks' ``get_connection_form_widgets`` /
``get_ui_field_behaviour`` build the same form from these dicts. That form has no sections, so the
``peak_v2`` wire names (``V2_WIRE_NAMES``: some forty assumed names, which Airflow 3.2+ folds into
one collapsed section) are left out of it: they are set in the Extra Fields JSON there, read the
same way, and docs/ingestion-v2.md lists each with its default. Nothing here imports Airflow, so
the provider info stays cheap to load.

**No field carries its default in the form.** Airflow's ``hook_meta`` endpoint shows the default
of every field whose name looks sensitive (``token``, ``api_key``, ``secret``, ...) as ``***``, and
the form then saves ``***`` as the value. So a field is left empty, its default is written in its
description ("Default: ...", and in the placeholder on Airflow 2), and the connection reader
treats an empty field as "use the default". Choice lists too: a pre-selected default would be
saved as a short string (``"us"``, ``"none"``, ``"true"``), and Airflow hands every string of a
connection's extras to its secrets masker whenever a task reads the connection, which logs
"Skipping masking for a secret as it's too short" at WARNING for each such value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

from airflow_provider_peak.hooks._connection import (
    CONNECTIONS,
    CUSTOM_AUTH_SECTION,
    V2_MASKED_BY_AIRFLOW,
    PeakaSettings,
    PeakSettings,
    PeakV2Settings,
    RestSettings,
    wire_mark,
)
from airflow_provider_peak.hooks._settings import ConnectionSettings, default_of, spec_of
from airflow_provider_peak.ingest.v2.wire import V2Wire

__all__ = [
    "CONNECTION_TYPES",
    "CUSTOM_AUTH_SECTION",
    "V2_MASKED_BY_AIRFLOW",
    "V2_WIRE_FORM",
    "V2_WIRE_NAMES",
    "FormField",
    "conn_fields",
    "connection_type",
    "form_fields",
    "legacy_field_behaviour",
    "legacy_form_widgets",
    "ui_behaviour",
]


@dataclass(frozen=True)
class FormField:
    """One extra field of a connection form, as the form shows it.

    :param default: the default the form shows: in the description (and as the placeholder on
        Airflow 2 but for a choice list), never as the field's value; ``None`` when the
        description words it itself, or there is none.
    :param choices: value -> text shown in the drop-down.
    :param section: the form's accordion section (Airflow 3.2+); the default one when ``None``.
    """

    label: str
    description: str
    default: Any = None
    kind: str = "string"
    secret: bool = False
    choices: Mapping[str, str] | None = None
    section: str | None = None

    @property
    def shown_default(self) -> str:
        """The default as the user would type it in Extra Fields JSON (``true``, ``50``)."""
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)

    @property
    def help_text(self) -> str:
        if self.default is None:
            return self.description
        shown = self.choices.get(self.default, self.shown_default) if self.choices else self.shown_default
        return f"{self.description} Default: {shown}."

    def conn_field(self) -> dict[str, Any]:
        """The ``conn-fields`` entry: a JSON schema the UI draws (``format: password`` for secrets)."""
        schema: dict[str, Any] = {"type": [self.kind, "null"]}
        if self.secret:
            schema["format"] = "password"
        if self.choices is not None:  # nothing selected: an empty choice reads as the default
            schema["enum"] = [*self.choices, None]
            # What the drop-down shows for "nothing selected" (Airflow shows "null" otherwise).
            unset = f"Default: {self.choices[self.default]}" if self.default in self.choices else "Default"
            schema["values_display"] = {**self.choices, "null": unset}
        if self.section is not None:
            schema["section"] = self.section
        return {"label": self.label, "description": self.help_text, "schema": schema}


def form_fields(settings: type[ConnectionSettings]) -> dict[str, FormField]:
    """The extra fields of a connection type's form, from its settings' declarations."""
    form = settings.form
    if form is None:
        return {}
    specs = settings.extra_specs()
    shown: dict[str, FormField] = {}
    for name in form.extras:
        item = specs[name]
        spec, default = spec_of(item), default_of(item)
        if isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, tuple):
            default = ", ".join(default)  # candidate names are typed comma-separated
        if spec.choices is None and (not spec.describe_default or default in ("", {})):
            default = None
        label = form.labels.get(name, spec.label)
        if label is None:
            raise ValueError(f"{settings.conn_type} form: the setting {name!r} has no label")
        shown[name] = FormField(
            label, spec.help, default, spec.form_type, spec.secret, spec.choices, spec.section
        )
    return shown


def conn_fields(fields: Mapping[str, FormField]) -> dict[str, dict[str, Any]]:
    return {name: spec.conn_field() for name, spec in fields.items()}


def ui_behaviour(
    fields: Mapping[str, FormField],
    *,
    hidden: list[str],
    relabeling: dict[str, str],
    placeholders: dict[str, str],
) -> dict[str, Any]:
    """``ui-field-behaviour``. The extra fields' defaults are placeholders too: Airflow 2 shows
    them in its form; Airflow 3 reads placeholders of the standard fields only."""
    defaults = {
        name: spec.shown_default
        for name, spec in fields.items()
        if spec.default is not None and spec.choices is None
    }
    return {
        "hidden-fields": hidden,
        "relabeling": relabeling,
        "placeholders": {**placeholders, **defaults},
    }


def _behaviour(settings: type[ConnectionSettings], fields: Mapping[str, FormField]) -> dict[str, Any]:
    form = settings.form
    assert form is not None
    return ui_behaviour(
        fields,
        hidden=list(form.hidden),
        relabeling=dict(form.relabeling),
        placeholders=dict(form.placeholders),
    )


def connection_type(settings: type[ConnectionSettings]) -> dict[str, Any]:
    """A ``connection-types`` entry of the provider info."""
    fields = form_fields(settings)
    return {
        "connection-type": settings.conn_type,
        "hook-class-name": settings.hook_class,
        "hook-name": settings.hook_name,
        "ui-field-behaviour": _behaviour(settings, fields),
        "conn-fields": conn_fields(fields),
    }


CONNECTION_TYPES = [connection_type(settings) for settings in CONNECTIONS]


def _drawn(conn_type: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The ``conn-fields`` and ``ui-field-behaviour`` the provider info lists for ``conn_type``."""
    (entry,) = [entry for entry in CONNECTION_TYPES if entry["connection-type"] == conn_type]
    return entry["conn-fields"], entry["ui-field-behaviour"]


PEAK_FIELDS = form_fields(PeakSettings)
PEAK_CONN_FIELDS, PEAK_UI_BEHAVIOUR = _drawn("peak")
PEAK_REST_FIELDS = form_fields(RestSettings)
PEAK_REST_CONN_FIELDS, PEAK_REST_UI_BEHAVIOUR = _drawn("peak_rest")
PEAKA_FIELDS = form_fields(PeakaSettings)
PEAKA_CONN_FIELDS, PEAKA_UI_BEHAVIOUR = _drawn("peaka")
PEAK_V2_FIELDS = form_fields(PeakV2Settings)
PEAK_V2_CONN_FIELDS, PEAK_V2_UI_BEHAVIOUR = _drawn("peak_v2")

#: Every field of ``ingest.v2.wire.V2Wire`` as the ``peak_v2`` form offers it: ``(name, default,
#: JSON type, mark)``, the mark saying where the default comes from (``doc``, ``inferred``,
#: ``conflict``, ``unknown``: see docs/ingestion-v2.md).
V2_WIRE_FORM: tuple[tuple[str, Any, str, str], ...] = tuple(
    (
        item.name,
        ", ".join(item.default) if isinstance(item.default, tuple) else item.default,
        "boolean" if isinstance(item.default, bool) else PEAK_V2_FIELDS[item.name].kind,
        wire_mark(item.name),
    )
    for item in fields(V2Wire)
)


#: The ``peak_v2`` wire names: extras only on Airflow < 3.2 (see the module docstring).
V2_WIRE_NAMES: tuple[str, ...] = tuple(name for name, *_ in V2_WIRE_FORM)


def legacy_form_widgets(
    fields: dict[str, dict[str, Any]], *, extras_only: Collection[str] = ()
) -> dict[str, Any]:
    """``get_connection_form_widgets`` for Airflow < 3.2: the same fields as Flask-AppBuilder
    widgets, with the same labels and descriptions, and no default; but those in ``extras_only``,
    which are read from the extras all the same."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in extras_only:
            continue
        schema = spec["schema"]
        secret = schema.get("format") == "password"
        kind, widget = (
            (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        )
        validators: list[Any] = [Optional()]
        if "enum" in schema:
            validators.append(any_of([choice for choice in schema["enum"] if choice is not None]))
        widgets[name] = kind(
            lazy_gettext(spec["label"]),
            widget=widget(),
            description=spec["description"],
            validators=validators,
        )
    return widgets


def legacy_field_behaviour(behaviour: dict[str, Any], *, extras_only: Collection[str] = ()) -> dict[str, Any]:
    """``get_ui_field_behaviour`` for Airflow < 3.2 (snake_case keys); no placeholders for the
    fields ``legacy_form_widgets`` leaves out."""
    placeholders = behaviour["placeholders"]
    return {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": {name: text for name, text in placeholders.items() if name not in extras_only},
    }

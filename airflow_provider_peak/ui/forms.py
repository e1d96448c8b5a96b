"""The connection forms of ``peak``, ``peak_rest`` and ``peaka``, declared as data.

Airflow 3.2+ draws a form from ``conn-fields`` / ``ui-field-behaviour`` in the provider info
without importing the hook; on older Airflow the hooks' ``get_connection_form_widgets`` /
``get_ui_field_behaviour`` build the same form from these dicts. Nothing is imported here, so the
provider info stays cheap to load.

**No free-text field carries its default in the form.** Airflow's ``hook_meta`` endpoint shows
the default of every field whose name looks sensitive (``token``, ``api_key``, ``secret``, ...) as
``***``, and the form then saves ``***`` as the value. So a field is left empty, its default is
written in its description ("Default: ...", and in the placeholder on Airflow 2), and the
connection reader treats an empty field as "use the default". Only choice lists keep their
default selected: their names are not sensitive, and a drop-down shows one of its choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Peaka's documented API hosts, by region (the connection's host beats the region).
PEAKA_HOSTS = {"us": "https://partner.peaka.studio", "eu": "https://partner.eu.peaka.studio"}
PEAKA_CACHE_PATH = "/api/v1/data/projects/{project_id}/cache"
PEAKA_STATUS_PATH = "/api/v1/data/projects/{project_id}/cache/status"
#: The ``peak_rest`` authentication types (Peak's REST API connector: No, Basic, Custom).
AUTH_TYPES = ("none", "basic", "custom")

#: The accordion section of the Custom Auth fields of ``peak_rest``.
CUSTOM_AUTH_SECTION = "Custom Auth"


@dataclass(frozen=True)
class FormField:
    """One extra field of a connection form.

    :param default: what the connection reader uses when the field is empty; shown in the
        description (and as the placeholder on Airflow 2), never as the field's value, except for
        a choice list.
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
        if self.default is None or self.choices is not None:
            return self.description
        return f"{self.description} Default: {self.shown_default}."

    def conn_field(self) -> dict[str, Any]:
        """The ``conn-fields`` entry: a JSON schema the UI draws (``format: password`` for secrets)."""
        schema: dict[str, Any] = {"type": [self.kind, "null"]}
        if self.secret:
            schema["format"] = "password"
        if self.choices is not None:
            schema["enum"] = [*self.choices, None]
            schema["values_display"] = dict(self.choices)
            if self.default is not None:
                schema["default"] = self.default
        if self.section is not None:
            schema["section"] = self.section
        return {"label": self.label, "description": self.help_text, "schema": schema}


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


def _timeout(label: str = "Read time-out (s)") -> FormField:
    return FormField(label, "Seconds to wait for a reply.", 60, kind="number")


_MAX_RETRIES = FormField(
    "Max retries", "Retries after the first attempt (429, 502-504, network errors).", 5, kind="integer"
)
_VERIFY = FormField("Verify TLS", "true, false, or the path of a CA bundle.", "true")

_PEAK_OAUTH = "OAuth"
_PEAK_WIRE = "API names (assumed)"
PEAK_FIELDS: dict[str, FormField] = {
    "timeout": _timeout(),
    "max_retries": _MAX_RETRIES,
    "verify": _VERIFY,
    "max_in_flight": FormField(
        "Max requests in flight", "The tenant's limit of concurrent requests.", 30, kind="integer"
    ),
    "table_url_template": FormField(
        "Table link",
        'URL of the "Peak table" link of ingest and create-table tasks: {table} is replaced by the '
        "table name, {base_url} by the Base URL (e.g. https://<your Peak app>/tables/{table}). "
        "Empty: the tasks show no link.",
    ),
    "audience": FormField(
        "OAuth audience", "Sent with the OAuth token request when set.", section=_PEAK_OAUTH
    ),
    "token_url": FormField(
        "OAuth token URL",
        "Absolute, or a path under the Base URL.",
        "/api/v1/oauth/token",
        section=_PEAK_OAUTH,
    ),
    "tables_path": FormField("Tables path", "Path of the tables API.", "/api/v1/tables", section=_PEAK_WIRE),
    "api_key_header": FormField(
        "API key header", "Header that carries the tenant API key.", "Authorization", section=_PEAK_WIRE
    ),
    "api_key_prefix": FormField(
        "API key prefix",
        "Text sent before the key in that header. Default: none (the key alone).",
        section=_PEAK_WIRE,
    ),
    "next_token_param": FormField(
        "Paging parameter", "Query parameter of the next page token.", "nextToken", section=_PEAK_WIRE
    ),
    "next_token_key": FormField(
        "Paging reply key", "Reply key of the next page token.", "nextToken", section=_PEAK_WIRE
    ),
    "records_ingested_key": FormField(
        "Ingested count key", "Reply key of the ingested record count.", "recordsIngested", section=_PEAK_WIRE
    ),
}
PEAK_CONN_FIELDS = conn_fields(PEAK_FIELDS)
PEAK_UI_BEHAVIOUR = ui_behaviour(
    PEAK_FIELDS,
    hidden=["schema", "port"],
    relabeling={"host": "Base URL", "login": "OAuth client ID", "password": "API key or secret"},
    placeholders={
        "host": "https://service.peak.ai",
        "login": "empty for a tenant API key",
        "password": "tenant API key, or OAuth client secret",
        "extra": '{"timeout": 60, "max_retries": 5}',
    },
)

PEAK_REST_FIELDS: dict[str, FormField] = {
    "auth_type": FormField(
        "Authentication",
        "Basic Auth sends the login and password; Custom Auth requests a token with the fields of "
        "the Custom Auth section (used only with Custom Auth).",
        "none",
        choices={"none": "No Auth", "basic": "Basic Auth", "custom": "Custom Auth"},
    ),
    "headers": FormField(
        "Default headers",
        'JSON object of headers sent with every request, e.g. {"Accept": "application/json"}.',
    ),
    "timeout": _timeout("Time-out (s)"),
    "verify": _VERIFY,
    "test_path": FormField("Test path", "Path requested by the connection test (No and Basic Auth).", "/"),
    "auth_url": FormField(
        "Auth URL",
        "Where the token is requested: absolute, or a path under the Base URL. Required.",
        section=CUSTOM_AUTH_SECTION,
    ),
    "auth_method": FormField(
        "Method", "HTTP method of the token request.", "POST", section=CUSTOM_AUTH_SECTION
    ),
    "auth_headers": FormField(
        "Request headers",
        'JSON object of headers of the token request, e.g. {"Content-Type": "application/json"}; '
        "{login} and {password} are replaced by the connection's login and password.",
        section=CUSTOM_AUTH_SECTION,
    ),
    "auth_body": FormField(
        "Request body",
        'JSON body of the token request, e.g. {"client_id": "{login}", "client_secret": "{password}"}: '
        "keep the secret in the password field and refer to it as {password}.",
        section=CUSTOM_AUTH_SECTION,
    ),
    "token_path": FormField(
        "Token path",
        "Dotted path of the token in the reply (e.g. data.token).",
        "access_token",
        section=CUSTOM_AUTH_SECTION,
    ),
    "token_header": FormField(
        "Token header", "Header that carries the token.", "Authorization", section=CUSTOM_AUTH_SECTION
    ),
    "token_prefix": FormField(
        "Token prefix",
        'Text sent before the token. Default: Bearer. To send the token alone, set "token_prefix": "" '
        "in Extra Fields JSON.",
        section=CUSTOM_AUTH_SECTION,
    ),
    "expires_in_path": FormField(
        "Expires-in path",
        "Dotted path of the token's lifetime in seconds (e.g. expires_in). Default: none (the token "
        "is refreshed when the API answers 401).",
        section=CUSTOM_AUTH_SECTION,
    ),
}
PEAK_REST_CONN_FIELDS = conn_fields(PEAK_REST_FIELDS)
PEAK_REST_UI_BEHAVIOUR = ui_behaviour(
    PEAK_REST_FIELDS,
    hidden=["schema", "port"],
    relabeling={"host": "Base URL", "login": "Login or client ID", "password": "Password or secret"},
    placeholders={
        "host": "https://api.example.com",
        "login": "Basic Auth user, or {login} of Custom Auth",
        "password": "Basic Auth password, or {password} of Custom Auth",
        "extra": '{"auth_type": "custom", "auth_url": "/oauth/token", '
        '"auth_body": {"client_id": "{login}", "client_secret": "{password}"}}',
    },
)

_PEAKA_PATHS = "API paths (assumed)"
PEAKA_FIELDS: dict[str, FormField] = {
    "project_id": FormField("Project ID", "Default Peaka project of operators and sensors."),
    "region": FormField(
        "Region",
        "The API host used when Host is empty.",
        "us",
        choices={"us": f"US ({PEAKA_HOSTS['us']})", "eu": f"EU ({PEAKA_HOSTS['eu']})"},
    ),
    "timeout": _timeout(),
    "max_retries": _MAX_RETRIES,
    "verify": _VERIFY,
    "cache_path": FormField(
        "Cache API path",
        "Path of a project's caches; {project_id} is filled in.",
        PEAKA_CACHE_PATH,
        section=_PEAKA_PATHS,
    ),
    "list_caches_path": FormField(
        "List caches path",
        "GET path of the status of every cache of a project, to find existing caches on a rerun. "
        f'Default: {PEAKA_STATUS_PATH}. To turn the lookup off, set "list_caches_path": "" in Extra '
        "Fields JSON.",
        section=_PEAKA_PATHS,
    ),
}
PEAKA_CONN_FIELDS = conn_fields(PEAKA_FIELDS)
PEAKA_UI_BEHAVIOUR = ui_behaviour(
    PEAKA_FIELDS,
    hidden=["schema", "port", "login"],
    relabeling={"host": "API base URL", "password": "API key"},
    placeholders={
        "host": PEAKA_HOSTS["us"],
        "password": "Peaka partner or project API key",
        "extra": '{"project_id": "<project id>", "region": "us"}',
    },
)


def connection_type(conn_type: str, hook: str, name: str, fields: dict[str, Any], ui: dict[str, Any]) -> dict:
    """A ``connection-types`` entry of the provider info."""
    return {
        "connection-type": conn_type,
        "hook-class-name": hook,
        "hook-name": name,
        "ui-field-behaviour": ui,
        "conn-fields": fields,
    }


CONNECTION_TYPES = [
    connection_type(
        "peak", "airflow_provider_peak.hooks.peak.PeakHook", "Peak", PEAK_CONN_FIELDS, PEAK_UI_BEHAVIOUR
    ),
    connection_type(
        "peak_rest",
        "airflow_provider_peak.hooks.peak_rest.PeakRestHook",
        "Peak REST API source",
        PEAK_REST_CONN_FIELDS,
        PEAK_REST_UI_BEHAVIOUR,
    ),
    connection_type(
        "peaka", "airflow_provider_peak.hooks.peaka.PeakaHook", "Peaka", PEAKA_CONN_FIELDS, PEAKA_UI_BEHAVIOUR
    ),
]


def legacy_form_widgets(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``get_connection_form_widgets`` for Airflow < 3.2: the same fields as Flask-AppBuilder
    widgets, with the same labels and descriptions, and a default only on choice lists."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in fields.items():
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
            default=schema.get("default"),
        )
    return widgets


def legacy_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """``get_ui_field_behaviour`` for Airflow < 3.2 (snake_case keys)."""
    return {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }


# ----------------------------------------------------------------------------- peak_v2
#: Every field of ``ingest.v2.wire.V2Wire`` as the ``peak_v2`` form shows it: ``(name, default, JSON
#: type, mark)``, the mark saying where the default comes from (``doc``, ``inferred``, ``conflict``,
#: ``unknown``: see docs/ingestion-v2.md). Data, not an import: the provider info is read while
#: Airflow itself is being imported. ``tests/ui/test_forms_v2.py`` keeps it equal to ``V2Wire``.
V2_WIRE_FORM: tuple[tuple[str, Any, str, str], ...] = (
    ("solutions_path", "/api/v2/schema/solutions", "string", "doc"),
    ("schema_path", "/api/v2/schema", "string", "doc"),
    ("schema_solution_param", "solutionName", "string", "doc"),
    ("ingest_path", "/api/v2/objects/{table}", "string", "conflict"),
    ("auth_header", "Authorization", "string", "doc"),
    ("auth_scheme", "", "string", "doc"),
    ("tenant_header", "x-auth-tenant", "string", "conflict"),
    ("tenant_id_header", "x-auth-tenantId", "string", "conflict"),
    ("solution_key", "solutionName", "string", "doc"),
    ("operation_key", "operationType", "string", "doc"),
    ("data_key", "data", "string", "inferred"),
    ("dry_run_key", "dryRun", "string", "doc"),
    ("failed_key", "failed", "string", "doc"),
    ("failed_index_keys", "index, rowIndex", "string", "unknown"),
    ("failed_row_keys", "row, data", "string", "unknown"),
    ("failed_errors_keys", "errors, validationErrors", "string", "unknown"),
    ("error_code_key", "code", "string", "inferred"),
    ("error_category_key", "category", "string", "inferred"),
    ("error_message_key", "message", "string", "inferred"),
    ("error_column_keys", "column, columnName", "string", "unknown"),
    ("accepted_keys", "accepted, acceptedCount", "string", "unknown"),
    ("request_id_keys", "requestId", "string", "unknown"),
    ("solutions_list_keys", "solutions, items, data", "string", "unknown"),
    ("schema_tables_keys", "schemaDefinition, tables, objects", "string", "unknown"),
    ("table_name_keys", "tableName, name, objectName", "string", "unknown"),
    ("table_full_name_keys", "fullTableName, warehouseTableName", "string", "unknown"),
    ("columns_keys", "columns, attributes", "string", "doc"),
    ("column_name_keys", "name, columnName", "string", "unknown"),
    ("column_type_keys", "dataType, type", "string", "unknown"),
    ("validations_keys", "validations", "string", "doc"),
    ("primary_key_keys", "primaryKeys, primaryKey", "string", "unknown"),
    ("unique_key_keys", "uniqueKeys", "string", "unknown"),
    ("enum_values_keys", "values, enumValues, allowedValues", "string", "unknown"),
    ("default_value_keys", "defaultValue", "string", "doc"),
    ("max_rows", 2000, "integer", "conflict"),
    ("max_bytes", 1_000_000, "integer", "doc"),
    ("requests_per_second", 50.0, "number", "doc"),
    ("case_sensitive_keys", True, "boolean", "unknown"),
)
#: Extras Airflow masks by name (its form would store the default as "***"): default in the text only.
V2_MASKED_BY_AIRFLOW = frozenset({"auth_header"})

_V2_WIRE = "API names (assumed)"


def _wire_field(name: str, default: Any, kind: str, mark: str) -> FormField:
    """The form field of a ``V2Wire`` field, saying where its default comes from."""
    label = name.replace("_", " ").capitalize().replace(" keys", " names")
    source = f"({mark}; see docs/ingestion-v2.md)"
    if kind == "boolean":
        # A choice list, not a switch: a switch shows "off" for an unset value and saves false.
        flag = str(default).lower()
        return FormField(label, source, flag, choices={"true": "true", "false": "false"}, section=_V2_WIRE)
    description = "Candidate names, comma-separated; the first one present wins. " * name.endswith("_keys")
    if name in V2_MASKED_BY_AIRFLOW or default == "":
        # No default in the field: Airflow would show a masked name's as "***" and save that.
        description += f"Default: {default or 'none'}. "
        default = None
    return FormField(label, description + source, default, kind=kind, section=_V2_WIRE)


PEAK_V2_FIELDS: dict[str, FormField] = {
    "tenant": FormField("Tenant", "Sent as the x-auth-tenant header when set (some revisions need it)."),
    "tenant_id": FormField("Tenant ID", "Sent as the x-auth-tenantId header when set."),
    "requests_per_second_share": FormField(
        "Request rate share",
        "Loads pace at requests_per_second x this share (0 < share <= 1); 0.9 leaves room for "
        "network jitter. Lower it when several tasks or clients share the tenant.",
        0.9,
        kind="number",
    ),
    "timeout": _timeout(),
    "max_retries": _MAX_RETRIES,
    "verify": _VERIFY,
    **{name: _wire_field(name, default, kind, mark) for name, default, kind, mark in V2_WIRE_FORM},
}
PEAK_V2_CONN_FIELDS = conn_fields(PEAK_V2_FIELDS)
PEAK_V2_UI_BEHAVIOUR = ui_behaviour(
    PEAK_V2_FIELDS,
    hidden=["schema", "port", "login"],
    relabeling={"host": "v2 ingestion host", "password": "Personal access token"},
    placeholders={
        "host": "https://ingestion.peak.ai or https://ingestion.<cluster>.peak.ai",
        "password": "personal access token (sent raw in Authorization)",
        "extra": '{"tenant": "<tenant>", "max_rows": 2000, "requests_per_second_share": 0.9}',
    },
)

CONNECTION_TYPES.append(
    connection_type(
        "peak_v2",
        "airflow_provider_peak.hooks.peak_v2.PeakV2Hook",
        "Peak v2 ingestion (solutions)",
        PEAK_V2_CONN_FIELDS,
        PEAK_V2_UI_BEHAVIOUR,
    )
)

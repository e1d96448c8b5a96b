"""The connection forms of ``peak``, ``peak_rest`` and ``peaka``, declared as data.

Airflow 3.2+ draws a form from ``conn-fields`` / ``ui-field-behaviour`` in the provider info
without importing the hook; on older Airflow the hooks' ``get_connection_form_widgets`` /
``get_ui_field_behaviour`` build the same form from these dicts. Nothing is imported here, so the
provider info stays cheap to load.
"""

from __future__ import annotations

from typing import Any

#: Peaka's documented API hosts, by region (the connection's host beats the region).
PEAKA_HOSTS = {"us": "https://partner.peaka.studio", "eu": "https://partner.eu.peaka.studio"}
PEAKA_CACHE_PATH = "/api/v1/data/projects/{project_id}/cache"
#: The ``peak_rest`` authentication types (Peak's REST API connector: No, Basic, Custom).
AUTH_TYPES = ("none", "basic", "custom")


def field(
    label: str,
    description: str,
    default: Any = None,
    *,
    kind: str = "string",
    secret: bool = False,
    choices: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One ``conn-fields`` entry (a JSON schema the UI draws; ``secret`` draws a password box)."""
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if secret:
        schema["format"] = "password"
    if choices is not None:
        schema["enum"] = [*choices, None]
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


PEAK_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "audience": field("OAuth audience", "Optional audience sent with the OAuth token request."),
    "token_url": field(
        "OAuth token URL", "Absolute, or a path under the base URL.", default="/api/v1/oauth/token"
    ),
    "timeout": field("Read time-out (s)", "Seconds to wait for a reply.", kind="number", default=60),
    "max_retries": field(
        "Max retries", "Retries after the first attempt (429, 502-504, network).", kind="integer", default=5
    ),
    "verify": field("Verify TLS", "true, false, or the path of a CA bundle.", default="true"),
    "tables_path": field(
        "Tables path", "Path of the tables API (assumed by the contract).", default="/api/v1/tables"
    ),
    "api_key_header": field(
        "API key header", "Header that carries the tenant API key.", default="Authorization"
    ),
    "api_key_prefix": field("API key prefix", "Text before the key in that header (none by default)."),
    "next_token_param": field(
        "Paging parameter", "Query parameter of the next page token.", default="nextToken"
    ),
    "next_token_key": field("Paging reply key", "Reply key of the next page token.", default="nextToken"),
    "records_ingested_key": field(
        "Ingested count key", "Reply key of the ingested record count.", default="recordsIngested"
    ),
    "max_in_flight": field(
        "Max requests in flight", "Tenant-wide concurrent request limit.", kind="integer", default=30
    ),
}

PEAK_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "Base URL",
        "login": "OAuth client ID (empty for an API key)",
        "password": "API key, or OAuth client secret",
    },
    "placeholders": {
        "host": "https://service.peak.ai",
        "login": "leave empty to use a tenant API key",
        "password": "tenant API key or client secret",
        "extra": '{"timeout": 60, "max_retries": 5}',
    },
}

PEAK_REST_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": field(
        "Authentication type",
        "none (No Auth), basic (login and password) or custom (token from an auth URL).",
        "none",
        choices=AUTH_TYPES,
    ),
    "auth_url": field(
        "Custom Auth: auth URL", "Where the token is requested (absolute, or under the base URL)."
    ),
    "auth_method": field("Custom Auth: method", "HTTP method of the token request.", "POST"),
    "auth_headers": field(
        "Custom Auth: request headers (JSON)",
        'Headers of the token request, e.g. {"Content-Type": "application/json"}. '
        "{login} and {password} are replaced by the connection's login and password.",
    ),
    "auth_body": field(
        "Custom Auth: JSON body",
        'Body of the token request, e.g. {"client_id": "{login}", "client_secret": "{password}"}: '
        "keep the secret in the password field and refer to it as {password}.",
    ),
    "token_path": field(
        "Custom Auth: token path", "Dotted path of the token in the reply (e.g. data.token).", "access_token"
    ),
    "token_header": field("Custom Auth: token header", "Header that carries the token.", "Authorization"),
    "token_prefix": field("Custom Auth: token prefix", "Text before the token (empty for none).", "Bearer"),
    "expires_in_path": field(
        "Custom Auth: expires-in path", "Dotted path of the token lifetime in seconds (optional)."
    ),
    "headers": field("Default headers (JSON)", "Headers sent with every request to the base URL."),
    "timeout": field("Time-out (s)", "Default time-out of each request.", 60, kind="number"),
    "verify": field("Verify TLS", "true, false, or the path of a CA bundle.", "true"),
    "test_path": field("Test path", "Path requested by 'Test connection' (No/Basic Auth).", "/"),
}

PEAK_REST_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "Base URL",
        "login": "Username (Basic Auth) or {login} (Custom Auth)",
        "password": "Password (Basic Auth) or {password} (Custom Auth)",
    },
    "placeholders": {
        "host": "https://api.example.com",
        "login": "user name or client id",
        "password": "password or client secret",
        "extra": '{"auth_type": "custom", "auth_url": "/oauth/token", '
        '"auth_body": {"client_id": "{login}", "client_secret": "{password}"}}',
    },
}

PEAKA_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_id": field("Project ID", "Default Peaka project of operators and sensors."),
    "region": field(
        "Region",
        "us (partner.peaka.studio) or eu (partner.eu.peaka.studio); used when Host is empty.",
        "us",
        choices=tuple(PEAKA_HOSTS),
    ),
    "timeout": field("Read time-out (s)", "Seconds to wait for a reply.", 60, kind="number"),
    "max_retries": field(
        "Max retries", "Retries after the first attempt (429, 502-504, network).", 5, kind="integer"
    ),
    "verify": field("Verify TLS", "true, false, or the path of a CA bundle.", "true"),
    "cache_path": field(
        "Cache API path", "Path of a project's caches; {project_id} is filled in.", PEAKA_CACHE_PATH
    ),
    "list_caches_path": field(
        "List caches path",
        "GET path listing a project's caches, used to find existing caches on a rerun "
        "(assumed; empty turns the lookup off).",
        PEAKA_CACHE_PATH,
    ),
}

PEAKA_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "API base URL", "password": "API key"},
    "placeholders": {
        "host": PEAKA_HOSTS["us"],
        "password": "Peaka partner or project API key",
        "extra": '{"project_id": "<project id>", "region": "us"}',
    },
}


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
    """``get_connection_form_widgets`` for Airflow < 3.2: the same fields as Flask-AppBuilder widgets."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in fields.items():
        secret = spec["schema"].get("format") == "password"
        kind, widget = (
            (PasswordField, BS3PasswordFieldWidget) if secret else (StringField, BS3TextFieldWidget)
        )
        widgets[name] = kind(lazy_gettext(spec["label"]), widget=widget(), description=spec["description"])
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

PEAK_V2_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant": field("Tenant (x-auth-tenant)", "Sent as the tenant header when set (some revisions need it)."),
    "tenant_id": field("Tenant id (x-auth-tenantId)", "Sent as the tenant id header when set."),
    "requests_per_second_share": field(
        "Share of the tenant's request rate",
        "Loads pace at requests_per_second x this share (0 < share <= 1). The default 0.9 leaves room "
        "for network jitter; lower it when several tasks or clients share the tenant.",
        0.9,
        kind="number",
    ),
    "timeout": field("Read time-out (s)", "Seconds to wait for a reply.", 60, kind="number"),
    "max_retries": field(
        "Max retries", "Retries after the first attempt (429, 502-504, network).", 5, kind="integer"
    ),
    "verify": field("Verify TLS", "true, false, or the path of a CA bundle.", "true"),
    **{
        name: field(
            name.replace("_", " ").capitalize(),
            (
                "Candidate names, comma-separated; the first one present wins. "
                if name.endswith("_keys")
                else ""
            )
            + f"Default: {str(default).lower() if isinstance(default, bool) else default or '(none)'} "
            + f"({mark}; see docs/ingestion-v2.md).",
            None if name in V2_MASKED_BY_AIRFLOW or default == "" else default,
            kind=kind,
        )
        for name, default, kind, mark in V2_WIRE_FORM
    },
}

PEAK_V2_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "v2 ingestion host (required)", "password": "Personal access token"},
    "placeholders": {
        "host": "https://ingestion.peak.ai or https://ingestion.<cluster>.peak.ai",
        "password": "personal access token (sent raw in Authorization)",
        "extra": '{"tenant": "<tenant>", "max_rows": 2000, "requests_per_second_share": 0.9}',
    },
}

CONNECTION_TYPES.append(
    connection_type(
        "peak_v2",
        "airflow_provider_peak.hooks.peak_v2.PeakV2Hook",
        "Peak v2 ingestion (solutions)",
        PEAK_V2_CONN_FIELDS,
        PEAK_V2_UI_BEHAVIOUR,
    )
)

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

"""The ``peak_rest`` connection form, declared as data.

Airflow 3.2+ draws the form from ``conn-fields`` / ``ui-field-behaviour`` in the provider info
without importing the hook; ``PeakRestHook``'s legacy classmethods read the same dicts for older
Airflow. This module imports nothing, so ``provider_info`` can import it cheaply.
"""

from __future__ import annotations

from typing import Any


def _text(label: str, description: str, default: Any = None, *, kind: str = "string") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


AUTH_TYPES = ("none", "basic", "custom")

PEAK_REST_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": {
        "label": "Authentication type",
        "description": "none (No Auth), basic (login and password) or custom (token from an auth URL).",
        "schema": {"type": ["string", "null"], "enum": [*AUTH_TYPES, None], "default": "none"},
    },
    "auth_url": _text(
        "Custom Auth: auth URL", "Where the token is requested (absolute, or under the base URL)."
    ),
    "auth_method": _text("Custom Auth: method", "HTTP method of the token request.", "POST"),
    "auth_headers": _text(
        "Custom Auth: request headers (JSON)",
        'Headers of the token request, e.g. {"Content-Type": "application/json"}. '
        "{login} and {password} are replaced by the connection's login and password.",
    ),
    "auth_body": _text(
        "Custom Auth: JSON body",
        'Body of the token request, e.g. {"client_id": "{login}", "client_secret": "{password}"}: '
        "keep the secret in the password field and refer to it as {password}.",
    ),
    "token_path": _text(
        "Custom Auth: token path", "Dotted path of the token in the reply (e.g. data.token).", "access_token"
    ),
    "token_header": _text("Custom Auth: token header", "Header that carries the token.", "Authorization"),
    "token_prefix": _text("Custom Auth: token prefix", "Text before the token (empty for none).", "Bearer"),
    "expires_in_path": _text(
        "Custom Auth: expires-in path", "Dotted path of the token lifetime in seconds (optional)."
    ),
    "headers": _text("Default headers (JSON)", "Headers sent with every request to the base URL."),
    "timeout": _text("Time-out (s)", "Default time-out of each request.", 60, kind="number"),
    "verify": _text("Verify TLS", "true, false, or the path of a CA bundle.", "true"),
    "test_path": _text("Test path", "Path requested by 'Test connection' (No/Basic Auth).", "/"),
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

#: The ``connection-types`` entry of the provider info.
PEAK_REST_CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "peak_rest",
    "hook-class-name": "airflow_provider_peak.hooks.peak_rest.PeakRestHook",
    "hook-name": "Peak REST API source",
    "ui-field-behaviour": PEAK_REST_UI_BEHAVIOUR,
    "conn-fields": PEAK_REST_CONN_FIELDS,
}

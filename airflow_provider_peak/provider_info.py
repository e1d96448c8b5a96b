"""Provider metadata for Airflow's providers manager (the ``apache_airflow_provider`` entry point).

The connection forms are declared as data (``conn-fields`` / ``ui-field-behaviour``) so that
Airflow 3.2+ draws them without importing the hooks; the hooks' legacy classmethods read the same
dicts for older Airflow.
"""

from __future__ import annotations

from typing import Any


def _field(
    label: str, description: str, kind: str = "string", *, secret: bool = False, default: Any = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if secret:
        schema["format"] = "password"
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


PEAK_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "audience": _field("OAuth audience", "Optional audience sent with the OAuth token request."),
    "token_url": _field(
        "OAuth token URL", "Absolute, or a path under the base URL.", default="/api/v1/oauth/token"
    ),
    "timeout": _field("Read time-out (s)", "Seconds to wait for a reply.", "number", default=60),
    "max_retries": _field(
        "Max retries", "Retries after the first attempt (429, 502-504, network).", "integer", default=5
    ),
    "verify": _field("Verify TLS", "true, false, or the path of a CA bundle.", default="true"),
    "tables_path": _field(
        "Tables path", "Path of the tables API (assumed by the contract).", default="/api/v1/tables"
    ),
    "api_key_header": _field(
        "API key header", "Header that carries the tenant API key.", default="Authorization"
    ),
    "api_key_prefix": _field("API key prefix", "Text before the key in that header (none by default)."),
    "next_token_param": _field(
        "Paging parameter", "Query parameter of the next page token.", default="nextToken"
    ),
    "next_token_key": _field("Paging reply key", "Reply key of the next page token.", default="nextToken"),
    "records_ingested_key": _field(
        "Ingested count key", "Reply key of the ingested record count.", default="recordsIngested"
    ),
    "max_in_flight": _field(
        "Max requests in flight", "Tenant-wide concurrent request limit.", "integer", default=30
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


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_peak import __version__
    from airflow_provider_peak.feed.form import PEAK_REST_CONNECTION_TYPE
    from airflow_provider_peak.peaka_form import PEAKA_CONN_FIELDS, PEAKA_UI_BEHAVIOUR

    return {
        "package-name": "airflow-provider-peak",
        "name": "Peak",
        "description": "Load data into the Peak platform: table schemas, schema-checked batch ingestion, "
        "REST feeds with incremental state, and Peaka caches.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Peak", "external-doc-url": "https://docs.peak.ai/", "tags": ["service"]},
            {"integration-name": "Peaka", "external-doc-url": "https://docs.peaka.com/", "tags": ["service"]},
        ],
        "hooks": [
            {
                "integration-name": "Peak",
                "python-modules": [
                    "airflow_provider_peak.hooks.peak",
                    "airflow_provider_peak.hooks.peak_rest",
                ],
            },
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.hooks.peaka"]},
        ],
        "operators": [
            {
                "integration-name": "Peak",
                "python-modules": [
                    "airflow_provider_peak.operators.tables",
                    "airflow_provider_peak.operators.ingest",
                    "airflow_provider_peak.operators.rest_feed",
                ],
            },
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.operators.peaka"]},
        ],
        "sensors": [
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.sensors.peaka"]},
        ],
        "triggers": [
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.triggers.peaka"]},
        ],
        "extra-links": ["airflow_provider_peak.links.PeakTableLink"],
        "connection-types": [
            {
                "connection-type": "peak",
                "hook-class-name": "airflow_provider_peak.hooks.peak.PeakHook",
                "hook-name": "Peak",
                "ui-field-behaviour": PEAK_UI_BEHAVIOUR,
                "conn-fields": PEAK_CONN_FIELDS,
            },
            PEAK_REST_CONNECTION_TYPE,
            {
                "connection-type": "peaka",
                "hook-class-name": "airflow_provider_peak.hooks.peaka.PeakaHook",
                "hook-name": "Peaka",
                "ui-field-behaviour": PEAKA_UI_BEHAVIOUR,
                "conn-fields": PEAKA_CONN_FIELDS,
            },
        ],
    }

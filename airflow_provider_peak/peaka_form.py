"""The ``peaka`` connection form, declared as data.

Airflow 3.2+ draws the form from ``conn-fields`` / ``ui-field-behaviour`` in the provider info
without importing the hook; ``PeakaHook``'s legacy classmethods read the same dicts for older
Airflow. This module imports nothing, so ``provider_info`` can import it cheaply.
"""

from __future__ import annotations

from typing import Any

#: Peaka's documented API hosts, by region (the connection's host beats the region).
PEAKA_HOSTS = {"us": "https://partner.peaka.studio", "eu": "https://partner.eu.peaka.studio"}
PEAKA_CACHE_PATH = "/api/v1/data/projects/{project_id}/cache"


def _field(label: str, description: str, default: Any = None, *, kind: str = "string") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


PEAKA_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_id": _field("Project ID", "Default Peaka project of operators and sensors."),
    "region": {
        "label": "Region",
        "description": "us (partner.peaka.studio) or eu (partner.eu.peaka.studio); used when Host is empty.",
        "schema": {"type": ["string", "null"], "enum": [*PEAKA_HOSTS, None], "default": "us"},
    },
    "timeout": _field("Read time-out (s)", "Seconds to wait for a reply.", 60, kind="number"),
    "max_retries": _field(
        "Max retries", "Retries after the first attempt (429, 502-504, network).", 5, kind="integer"
    ),
    "verify": _field("Verify TLS", "true, false, or the path of a CA bundle.", "true"),
    "cache_path": _field(
        "Cache API path", "Path of a project's caches; {project_id} is filled in.", PEAKA_CACHE_PATH
    ),
    "list_caches_path": _field(
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

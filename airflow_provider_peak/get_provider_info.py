"""Provider metadata for Airflow's providers manager (the ``apache_airflow_provider`` entry point).

The connection forms are declared as data in ``forms`` (``conn-fields`` / ``ui-field-behaviour``),
so that Airflow 3.2+ draws them without importing the hooks.
"""

from __future__ import annotations

from typing import Any

_PEAK_TABLE_URIS = {
    "schemes": ["peak"],
    "handler": "airflow_provider_peak.assets.peak.sanitize_uri",
    "factory": "airflow_provider_peak.assets.peak.create_asset",
    "to_openlineage_converter": "airflow_provider_peak.assets.peak.convert_asset_to_openlineage",
}


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_peak import __version__
    from airflow_provider_peak.ui.forms import CONNECTION_TYPES
    from airflow_provider_peak.utils.extras import EXTRAS

    return {
        "package-name": "airflow-provider-peak",
        "name": "Peak",
        "description": "Load data into the Peak platform: table schemas, schema-checked batch ingestion, "
        "REST feeds with incremental state, and Peaka caches; run Peak workflows and wait for them.",
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
                    "airflow_provider_peak.hooks.peak_v2",
                    "airflow_provider_peak.hooks.peak_workflow",
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
                    "airflow_provider_peak.operators.solution_ingest",
                    "airflow_provider_peak.operators.peak_workflow",
                ],
            },
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.operators.peaka"]},
        ],
        "sensors": [
            {"integration-name": "Peak", "python-modules": ["airflow_provider_peak.sensors.peak_workflow"]},
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.sensors.peaka"]},
        ],
        "triggers": [
            {"integration-name": "Peak", "python-modules": ["airflow_provider_peak.triggers.peak_workflow"]},
            {"integration-name": "Peaka", "python-modules": ["airflow_provider_peak.triggers.peaka"]},
        ],
        "extra-links": [
            "airflow_provider_peak.ui.links.PeakTableLink",
            "airflow_provider_peak.ui.links.PeakWorkflowRunLink",
            "airflow_provider_peak.ui.links.PeakSolutionTableLink",
            "airflow_provider_peak.ui.links.PeakaCacheLink",
            "airflow_provider_peak.ui.links.PeakDeadLettersLink",
        ],
        # The Peak page of Airflow's UI (Airflow 3.1+; see ui/plugin.py).
        "plugins": [{"name": "peak", "plugin-class": "airflow_provider_peak.ui.plugin.PeakPlugin"}],
        # A Peak table as an asset: peak://<host>/<table> (see assets/peak.py).
        "asset-uris": [_PEAK_TABLE_URIS],
        "dataset-uris": [_PEAK_TABLE_URIS],
        "connection-types": CONNECTION_TYPES,
        "config": {
            "peak": {
                "description": "Settings of the Peak provider on a worker.",
                "options": {
                    "work_dir": {
                        "description": "The folder where the provider keeps its files on a worker: the "
                        "virtualenvs of REST feeds with requirements, ingest checkpoints and their locks, "
                        "spool files and staged parts. It must belong to the worker's user and be writable "
                        "by no one else (the provider creates it 0700 and refuses it otherwise); each local "
                        "account that runs tasks needs its own. Default: peak-provider under AIRFLOW_HOME.",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "/var/lib/airflow/peak-provider",
                        "default": None,
                    },
                    "dead_letter_url_template": {
                        "description": 'The URL the "Dead letters" link of a load opens when its '
                        "dead letters went to object storage, instead of the object's page in its "
                        "cloud console (AWS for s3://, Google Cloud for gs://; no link for other "
                        "schemes without this option). Fields, each percent-encoded: {scheme}, "
                        "{bucket}, {key} (the object key as one value, / encoded too) and {path} (the "
                        "key with its / kept). It must make an http(s) URL.",
                        "version_added": "0.3.0",
                        "type": "string",
                        "example": "https://minio.example.com/browser/{bucket}/{path}",
                        "default": None,
                    },
                },
            },
        },
        # The optional parts, as Airflow's providers declare the other providers they work with.
        "additional-extras": [
            {"name": name, "dependencies": list(extra.requirements)} for name, extra in EXTRAS.items()
        ],
    }

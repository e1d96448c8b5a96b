"""The provider's optional parts: which extra installs each, and the one check that a feature's
extra is there.

The base install is what loading into Peak needs. Snowflake, Amazon (S3, Redshift), OpenLineage
and columnar inputs come with extras, declared in ``pyproject.toml`` and, for Airflow, in
``get_provider_info`` (``additional-extras``), both from ``EXTRAS``. A feature whose extra is
missing fails where it is first used (when the DAG is parsed, or when its task starts) with a
``MissingExtraError`` naming the extra, instead of an ``ImportError`` deep inside a task.

No Airflow import: the pipeline (``ingest/``) uses this too, and so does ``get_provider_info``,
which Airflow may call while ``airflow.exceptions`` is still being imported (the error comes from
the Airflow-free ``errors``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_peak.errors import MissingExtraError


@dataclass(frozen=True)
class Extra:
    """An extra: the requirements it installs, and the modules whose presence shows it is there."""

    requirements: tuple[str, ...]
    modules: tuple[str, ...]
    covers: str


EXTRAS: dict[str, Extra] = {
    "snowflake": Extra(
        ("apache-airflow-providers-snowflake>=6.0",),
        ("airflow.providers.snowflake",),
        "Snowflake as a query source (sql_conn_id) and SnowflakeDestination",
    ),
    "amazon": Extra(
        ("apache-airflow-providers-amazon[s3fs]>=9.0",),
        ("airflow.providers.amazon", "s3fs"),
        "s3:// records and dead-letter files, S3Destination, RedshiftDestination and Redshift queries",
    ),
    "openlineage": Extra(
        ("apache-airflow-providers-openlineage>=2.1",),
        ("airflow.providers.openlineage",),
        "OpenLineage events of the operators (without it Airflow asks for none)",
    ),
    "dataframes": Extra(
        ("pandas>=2.1", "polars>=1.0", "pyarrow>=14"),
        ("pyarrow",),
        "pandas and polars DataFrames, Arrow data, Parquet and CSV files as records",
    ),
}
#: Connection types whose hooks come from an extra.
CONN_TYPE_EXTRAS = {"snowflake": "snowflake", "aws": "amazon", "redshift": "amazon"}
#: Object storage URL schemes whose file systems come from an extra.
SCHEME_EXTRAS = {"s3": "amazon", "s3a": "amazon"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def missing_modules(extra: str) -> tuple[str, ...]:
    return tuple(m for m in EXTRAS[extra].modules if not _installed(m))


def require(extra: str, feature: str) -> None:
    """``MissingExtraError`` naming ``extra`` unless what it installs is there."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(extra, feature, missing)


def require_for_conn_type(conn_type: str | None, feature: str) -> None:
    """The extra of a connection type whose hook comes from one (``snowflake``, ``aws``...)."""
    extra = CONN_TYPE_EXTRAS.get((conn_type or "").lower())
    if extra is not None:
        require(extra, feature)


def require_for_url(url: str, feature: str) -> None:
    """The extra of an object storage URL whose file system comes from one (``s3://``)."""
    extra = SCHEME_EXTRAS.get(urlsplit(url).scheme.lower())
    if extra is not None:
        require(extra, feature)

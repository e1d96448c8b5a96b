"""OpenLineage datasets and facets for what the provider's tasks read and write.

The operators call these from ``get_openlineage_facets_on_complete``, built from what the task
already knows (no extra request to Peak). Everything imports the optional OpenLineage provider
lazily: without it, ``lineage()`` returns ``None`` and Airflow reports nothing.

Naming (OpenLineage's naming conventions where they exist):

* a Peak table: namespace ``peak://<host>[:port]`` (the connection's host), name ``<table>``;
* a file: ``s3://<bucket>`` / ``<key>`` for object storage (never with the URL's credentials or
  query), ``file`` / ``<absolute path>`` locally;
* a REST source: namespace ``<scheme>://<host>:<port>``, name the base URL's path (``/``), never
  with credentials or a query;
* a SQL source or a warehouse table: through the SQL hook's own lineage support.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_peak.assets.peak import SCHEME, authority
from airflow_provider_peak.utils.redaction import without_credentials

log = logging.getLogger(__name__)


def _facets() -> Any:
    from airflow_provider_peak.version_compat import openlineage_facets

    return openlineage_facets()


def lineage(build: Callable[[Any], Any]) -> Any:
    """``OperatorLineage`` from ``build(facets_module)``; ``None`` without the OpenLineage provider.

    A failure here must never fail a task that succeeded: it is logged and reported as no lineage.
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage

        facets = _facets()
    except ImportError:
        return None
    try:
        inputs, outputs = build(facets)
    except Exception:
        log.warning("Could not describe this task's lineage", exc_info=True)
        return OperatorLineage()
    return OperatorLineage(
        inputs=[i for i in inputs if i is not None], outputs=[o for o in outputs if o is not None]
    )


def described(what: str, describe: Callable[[], Any]) -> Any:
    """``describe()``, or ``None`` with a warning: one dataset that cannot be named (a hook whose
    lineage support fails) must not hide the others."""
    try:
        return describe()
    except Exception as exc:
        log.warning("OpenLineage: could not describe %s (%s)", what, exc)
        return None


def schema_facet(facets: Any, columns: list[tuple[str, str]]) -> Any:
    return facets.SchemaDatasetFacet(
        fields=[facets.SchemaDatasetFacetFields(name=name, type=kind) for name, kind in columns]
    )


def peak_table(
    facets: Any,
    base_url: str,
    table: str,
    *,
    columns: list[tuple[str, str]] | None = None,
    rows: int | None = None,
    size: int | None = None,
) -> Any:
    """A Peak table as an output dataset, with its schema and what this run wrote to it."""
    dataset_facets = {"schema": schema_facet(facets, columns)} if columns else {}
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = facets.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size
        )
    return facets.OutputDataset(
        namespace=f"{SCHEME}://{authority(base_url)}",
        name=table,
        facets=dataset_facets,
        outputFacets=output_facets,
    )


def file_input(facets: Any, path: Any) -> Any:
    """The dataset of a records file (local, ``s3://...`` or an ``ObjectStoragePath``), else ``None``;
    never with the credentials (``user:password@``) or the query of its URL."""
    text = str(path)
    if "://" in text:
        parts = urlsplit(without_credentials(text))
        return facets.InputDataset(
            namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or "/"
        )
    if isinstance(path, (str, os.PathLike)):
        return facets.InputDataset(namespace="file", name=os.path.abspath(text))
    return None


def url_input(facets: Any, base_url: str | None) -> Any:
    """A REST source as a dataset: its origin and path, never its credentials or query."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return facets.InputDataset(
        namespace=f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}", name=parts.path or "/"
    )


def sql_inputs(sql: str, sql_conn_id: str) -> list[Any]:
    """The tables a query reads, through its connection's SQL hook lineage support; none (with a
    warning) where that support fails, so the task's outputs are still reported."""
    from airflow.providers.openlineage.sqlparser import SQLParser

    from airflow_provider_peak.version_compat import BaseHook

    connection = BaseHook.get_connection(sql_conn_id)
    hook = connection.get_hook()
    try:
        database_info = hook.get_openlineage_database_info(connection)
    except Exception as exc:
        log.warning(
            "OpenLineage: %s could not describe its database (%s); the query's tables are not reported",
            type(hook).__name__,
            exc,
        )
        return []
    if database_info is None:
        return []
    parser = SQLParser(
        dialect=hook.get_openlineage_database_dialect(connection),
        default_schema=hook.get_openlineage_default_schema(),
    )
    metadata = parser.generate_openlineage_metadata_from_sql(
        sql=sql, hook=hook, database_info=database_info, use_connection=False
    )
    return list(metadata.inputs) if metadata else []


def sql_table(facets: Any, hook: Any, table: str, *, rows: int | None = None) -> Any:
    """A warehouse table (Snowflake, Redshift) as an output dataset, named by its hook."""
    from airflow.providers.openlineage.sqlparser import SQLParser

    connection = hook.get_connection(getattr(hook, str(hook.conn_name_attr)))
    database_info = hook.get_openlineage_database_info(connection)
    parts = [p.strip('"') for p in table.split(".")]
    default_schema = hook.get_openlineage_default_schema()
    if len(parts) == 1 and default_schema:
        parts.insert(0, default_schema)
    if len(parts) == 2 and database_info.database:
        parts.insert(0, database_info.database)
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = facets.OutputStatisticsOutputDatasetFacet(rowCount=rows)
    return facets.OutputDataset(
        namespace=SQLParser.create_namespace(database_info),
        name=".".join(parts),
        outputFacets=output_facets,
    )


def records_inputs(facets: Any, records: Any, *, sql: str | None, sql_conn_id: str | None) -> list[Any]:
    """What an ingest reads: a query's tables, or a file; other inputs (lists, XCom) name nothing."""
    if sql and sql_conn_id:
        return sql_inputs(sql, sql_conn_id)
    if isinstance(records, (str, os.PathLike)) or type(records).__name__ == "ObjectStoragePath":
        return [file_input(facets, records)]
    return []


def peaka_table(
    facets: Any, base_url: str, project: str, catalog: str | None, schema: str | None, table: str | None
) -> Any:
    """A table a Peaka project reads (a catalog's schema and table), or ``None`` if unnamed."""
    if not (catalog and schema and table):
        return None
    return facets.InputDataset(
        namespace=f"peaka://{authority(base_url)}", name=f"{project}.{catalog}.{schema}.{table}"
    )


def peaka_cache(facets: Any, base_url: str, project: str, cache_id: str) -> Any:
    """A Peaka cache (the materialised copy of a table)."""
    return facets.OutputDataset(
        namespace=f"peaka://{authority(base_url)}", name=f"{project}.cache.{cache_id}"
    )


def counts(summary: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """``(rows, bytes)`` of a load summary."""
    return summary.get("records_sent"), summary.get("bytes_sent")

"""A Peak table as an Airflow asset: ``peak://<host>[:port]/<table>``.

The host is the ``peak`` connection's (lower-cased, without credentials), so the URI names where the
data lives. Tasks that load a table emit an event for its asset through an ``AssetAlias`` declared
when the DAG is parsed (``peak_table_alias``): the host is only known once the connection is read,
at run time. Schedule a DAG on the alias (``schedule=[peak_table_alias("orders")]``), or on the
asset itself when you know the host (``Asset("peak://api.example.com/orders")``).

Registered with Airflow under ``asset-uris`` (and ``dataset-uris`` for Airflow 2), with a
sanitizer and a converter to OpenLineage's dataset of the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow_provider_peak.version_compat import Asset, AssetAlias

SCHEME = "peak"


def authority(base_url: str) -> str:
    """``host[:port]`` of a base URL, lower-cased, without credentials (the port only when given)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def table_uri(base_url: str, table: str) -> str:
    return f"{SCHEME}://{authority(base_url)}/{table}"


def table_asset(base_url: str, table: str, extra: dict[str, Any] | None = None) -> Asset:
    """The asset of ``table`` on the Peak API at ``base_url``."""
    from airflow_provider_peak.version_compat import Asset

    return Asset(uri=table_uri(base_url, table), extra=extra or {})


def peak_table_alias(table: str, peak_conn_id: str = "peak_default") -> AssetAlias:
    """The alias through which loads of ``table`` (over ``peak_conn_id``) emit its asset's events."""
    from airflow_provider_peak.version_compat import AssetAlias

    return AssetAlias(name=f"peak-table:{peak_conn_id}:{table}")


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's normalizer of ``peak://`` URIs: a host and exactly one valid table name."""
    from airflow_provider_peak.ingest.schema import check_name

    if not uri.netloc:
        raise ValueError("a peak:// asset URI needs the Peak API's host: peak://<host>/<table>")
    table = uri.path.strip("/")
    check_name(table, "table")  # a SchemaError (a ValueError) names what is wrong
    return uri._replace(netloc=uri.netloc.lower(), path=f"/{table}")


def create_asset(*, host: str, table: str, extra: dict[str, Any] | None = None) -> Asset:
    """The factory Airflow offers for the scheme: ``create_asset(host="api.example.com", table="orders")``."""
    return table_asset(f"https://{host}", table, extra)


def convert_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a Peak table asset (the namespace and name ``utils.openlineage`` uses)."""
    from airflow_provider_peak.version_compat import openlineage_facets

    parts = urlsplit(asset.uri)
    return openlineage_facets().Dataset(namespace=f"{SCHEME}://{parts.netloc}", name=parts.path.strip("/"))


def emit_table_event(
    context: Any, outlets: Any, peak_conn_id: str, base_url: str, table: str, extra: dict[str, Any]
) -> bool:
    """Add an event for ``table``'s asset through its alias, if the task declared it; whether it did."""
    wanted = f"peak-table:{peak_conn_id}:{table}"
    events = context.get("outlet_events")
    if events is None:  # a context without Airflow's event accessors (execute() called directly)
        return False
    for outlet in outlets or ():
        if getattr(outlet, "name", None) == wanted and type(outlet).__name__ in (
            "AssetAlias",
            "DatasetAlias",
        ):
            from airflow_provider_peak.version_compat import register_asset_alias

            register_asset_alias(wanted)
            events[outlet].add(table_asset(base_url, table), extra=extra)
            return True
    return False


def add_table_alias(outlets: Any, table: object, peak_conn_id: str) -> list[Any]:
    """``outlets`` with the alias of ``table`` added (a templated table name is known only at run
    time, too late for an outlet: it gets none)."""
    current = list(outlets or [])
    if not isinstance(table, str) or "{{" in table:
        return current
    alias = peak_table_alias(table, peak_conn_id)
    return current if alias in current else [*current, alias]

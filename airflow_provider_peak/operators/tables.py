"""``PeakCreateTableOperator``: create a Peak table schema, or check the one that exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from airflow_provider_peak.assets.peak import add_table_alias, emit_table_event
from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.hooks.peak import IF_EXISTS, PeakHook
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.ui.links import PeakTableLink
from airflow_provider_peak.ui.task_docs import named, task_doc
from airflow_provider_peak.utils import openlineage
from airflow_provider_peak.version_compat import BaseOperator, Context

IfExists = Literal["ignore", "verify", "fail"]


class PeakCreateTableOperator(MappedLabel, BaseOperator):
    """Create a Peak table schema.

    Peak schemas cannot be updated or deleted, so the operator is idempotent by default: an existing
    table is kept (``if_exists="ignore"``), compared column by column (``"verify"``, failing with a
    readable diff), or treated as an error (``"fail"``). Returns the table object (XCom).

    :param table_name: the table name (templated).
    :param columns: column dicts (``{"name", "type", "format"?, "precision"?, "scale"?}``) or
        ``Column`` objects (templated).
    :param if_exists: ``ignore``, ``verify`` or ``fail``.
    :param peak_conn_id: the ``peak`` connection.
    :param emit_asset: when the task creates the table, emit an event for the table's asset
        (``extra={"created": True, "records_sent": 0}``) through ``peak_table_alias(table_name,
        peak_conn_id)``, added to the task's outlets. A new table is a change to it, and the event
        makes Airflow register the asset before the loads that follow: mapped loads that are the
        first to emit a new asset race in Airflow's database (see the README).
    """

    template_fields: Sequence[str] = ("table_name", "columns")
    template_fields_renderers = {"columns": "json"}
    ui_color = "#e8f4ff"
    map_index_label = "{{ task.table_name }}"
    operator_extra_links = (PeakTableLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        columns: Sequence[Mapping[str, Any] | Column],
        if_exists: IfExists = "ignore",
        peak_conn_id: str = PeakHook.default_conn_name,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        if emit_asset:
            kwargs["outlets"] = add_table_alias(kwargs.get("outlets"), table_name, peak_conn_id)
        super().__init__(**kwargs)
        if if_exists not in IF_EXISTS:
            raise PeakConfigError(f"if_exists must be one of {IF_EXISTS}, got {if_exists!r}")
        self.table_name = table_name
        self.columns = columns
        self.if_exists = if_exists
        self.peak_conn_id = peak_conn_id
        self.emit_asset = emit_asset
        self._created: tuple[str, Any] | None = None
        if self.doc_md is None:
            self.doc_md = task_doc(
                f"Creates the Peak table {named(table_name)} (if it exists: `{if_exists}`).",
                {"columns": columns, "if_exists": if_exists, "peak_conn_id": peak_conn_id},
            )

    def execute(self, context: Context) -> dict[str, Any]:
        hook = PeakHook(self.peak_conn_id)
        schema, created = hook.ensure_table(self.table_name, self.columns, self.if_exists)
        self.log.info(
            "Table %s %s (%d columns)", schema.name, "created" if created else "exists", len(schema.columns)
        )
        PeakTableLink.persist(context, hook, schema.name)
        base_url = hook.settings.base_url
        if created and self.emit_asset:
            extra = {"created": True, "records_sent": 0}
            emit_table_event(context, self.outlets, self.peak_conn_id, base_url, schema.name, extra)
        self._created = (base_url, schema)
        return schema.to_dict()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the Peak table, with its schema."""
        if self._created is None:
            return None
        base_url, schema = self._created
        columns = [(c.name, c.type.value) for c in schema.columns]
        return openlineage.lineage(
            lambda facets: ([], [openlineage.peak_table(facets, base_url, schema.name, columns=columns)])
        )

"""Operator extra links: a button on the task that opens the Peak table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_peak.version_compat import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow_provider_peak.hooks.peak import PeakHook


class PeakTableLink(BaseOperatorLink):
    """Links a task to the Peak table it wrote (URL from the connection's ``table_url_template``)."""

    name = "Peak table"
    key = "peak_table_url"

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=self.key, ti_key=ti_key) or ""

    @classmethod
    def persist(cls, context: Any, hook: PeakHook, table: str) -> str | None:
        """Store the table's URL for the UI (none without a ``table_url_template``); returns it."""
        settings = hook.settings
        if not settings.table_url_template:
            return None
        url = settings.table_url_template.format(base_url=settings.base_url, table=quote(table, safe=""))
        context["ti"].xcom_push(key=cls.key, value=url)
        return url

"""Operator extra links: a "Peak table" button on the task that opens the table it wrote.

The URL comes from the ``peak`` connection's extra ``table_url_template``: ``{table}`` is replaced
by the table name (percent-encoded) and ``{base_url}`` by the connection's base URL. Without a
template the task shows no link: Peak's API host has no page for a table, and the address of a
table in Peak's web app depends on the tenant. The emulator serves such a page at
``{base_url}/data/tables/{table}``.
"""

from __future__ import annotations

import logging
import string
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.utils.redaction import without_credentials
from airflow_provider_peak.version_compat import LINKS_RESOLVED_BY_THE_TASK, BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow_provider_peak.hooks.peak import PeakHook

log = logging.getLogger(__name__)

#: The ``peak`` connection extra holding the link's URL template.
TEMPLATE_EXTRA = "table_url_template"
_FIELDS = ("base_url", "table")
_SHOWN = 120  # characters of a bad template quoted in an error
_ATTRIBUTE = "_peak_table_url"  # the URL ``persist`` made, on the task's operator


def table_url(template: str | None, *, base_url: str, table: str) -> str | None:
    """The URL of ``table`` from ``template``, or ``None`` without a template.

    Raises ``PeakConfigError`` when the template names another field than ``{base_url}`` and
    ``{table}``, or does not make an http(s) URL (a link opens in the user's browser: no
    ``javascript:`` or ``file:`` URLs).
    """
    if not template:
        return None
    shown = repr(template[:_SHOWN])
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise PeakConfigError(f"extra {TEMPLATE_EXTRA!r} is not a valid template ({exc}): {shown}") from None
    unknown = sorted({name for name in names if name not in _FIELDS})
    if unknown:
        raise PeakConfigError(
            f"extra {TEMPLATE_EXTRA!r} may use {{base_url}} and {{table}} only, not "
            f"{', '.join('{' + name + '}' for name in unknown)}: {shown}"
        )
    # The link is shown to everyone who can see the task: never the base URL's credentials.
    url = template.format(base_url=without_credentials(base_url).rstrip("/"), table=quote(table, safe=""))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PeakConfigError(f"extra {TEMPLATE_EXTRA!r} must make an http(s) URL, got {url[:_SHOWN]!r}")
    return url


class PeakTableLink(BaseOperatorLink):
    """Links a task to the Peak table it wrote (URL from the connection's ``table_url_template``)."""

    name = "Peak table"
    key = "peak_table_url"

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = getattr(operator, _ATTRIBUTE, None)
        if url is not None or LINKS_RESOLVED_BY_THE_TASK:
            # The task's own process, as it ends: what ``persist`` made, or no link. Reading the
            # XCom back instead would log a "not found" error for every task without a link.
            return url or ""
        return XCom.get_value(key=self.key, ti_key=ti_key) or ""

    @classmethod
    def persist(cls, context: Any, hook: PeakHook, table: str) -> str | None:
        """Store the table's URL for the UI; returns it, or ``None`` when the task has no link.

        A template that cannot make a URL is logged and leaves the task without a link: the link
        is not worth failing a load for.
        """
        settings = hook.settings
        try:
            url = table_url(settings.table_url_template, base_url=settings.base_url, table=table)
        except PeakConfigError as exc:
            log.warning("The task has no %r link: %s", cls.name, exc)
            return None
        if url is not None:
            context["ti"].xcom_push(key=cls.key, value=url)
            if (task := context.get("task")) is not None:
                setattr(task, _ATTRIBUTE, url)
        return url

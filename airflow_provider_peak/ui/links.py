"""Operator extra links: a "Peak table" button on the task that opens the table it wrote, and a
"Peak workflow run" button on the task that ran a Peak workflow.

The URL of the first comes from the ``peak`` connection's extra ``table_url_template``: ``{table}``
is replaced by the table name (percent-encoded) and ``{base_url}`` by the connection's base URL.
Without a template the task shows no link: Peak's API host has no page for a table, and the
address of a table in Peak's web app depends on the tenant. The emulator serves such a page at
``{base_url}/data/tables/{table}``. The second comes from ``workflow_url_template`` the same way,
with ``{workflow_id}`` and ``{execution_id}``.
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
#: The ``peak`` connection extra holding the workflow run link's URL template.
WORKFLOW_TEMPLATE_EXTRA = "workflow_url_template"
_SHOWN = 120  # characters of a bad template quoted in an error
_ATTRIBUTE = "_peak_table_url"  # the URL ``persist`` made, on the task's operator
_WORKFLOW_ATTRIBUTE = "_peak_workflow_run_url"


def table_url(template: str | None, *, base_url: str, table: str) -> str | None:
    """The URL of ``table`` from ``template``, or ``None`` without a template.

    Raises ``PeakConfigError`` when the template names another field than ``{base_url}`` and
    ``{table}``, or does not make an http(s) URL (a link opens in the user's browser: no
    ``javascript:`` or ``file:`` URLs).
    """
    return template_url(template, TEMPLATE_EXTRA, base_url=base_url, values={"table": table})


def workflow_run_url(
    template: str | None, *, base_url: str, workflow_id: str, execution_id: str
) -> str | None:
    """The URL of a workflow run from ``template`` (the ``workflow_url_template`` extra), as
    ``table_url`` makes a table's."""
    values = {"workflow_id": workflow_id, "execution_id": execution_id}
    return template_url(template, WORKFLOW_TEMPLATE_EXTRA, base_url=base_url, values=values)


def template_url(template: str | None, extra: str, *, base_url: str, values: dict[str, str]) -> str | None:
    """``template`` (the connection extra ``extra``) filled with ``{base_url}`` and ``values``
    (percent-encoded); ``None`` without a template; ``PeakConfigError`` for another field or a URL
    that is not http(s)."""
    if not template:
        return None
    shown = repr(template[:_SHOWN])
    allowed = ("base_url", *values)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise PeakConfigError(f"extra {extra!r} is not a valid template ({exc}): {shown}") from None
    unknown = sorted({name for name in names if name not in allowed})
    if unknown:
        may = " and ".join(", ".join("{" + name + "}" for name in allowed).rsplit(", ", 1))
        raise PeakConfigError(
            f"extra {extra!r} may use {may} only, not "
            f"{', '.join('{' + name + '}' for name in unknown)}: {shown}"
        )
    # The link is shown to everyone who can see the task: never the base URL's credentials.
    url = template.format(
        base_url=without_credentials(base_url).rstrip("/"),
        **{name: quote(value, safe="") for name, value in values.items()},
    )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PeakConfigError(f"extra {extra!r} must make an http(s) URL, got {url[:_SHOWN]!r}")
    return url


def _link(operator: Any, attribute: str, key: str, ti_key: Any) -> str:
    """A link's URL: in the task's own process, as it ends, what ``persist`` made (or no link:
    reading the XCom back instead would log a "not found" error for every task without a link);
    on Airflow 2.11's webserver, the XCom."""
    url = getattr(operator, attribute, None)
    if url is not None or LINKS_RESOLVED_BY_THE_TASK:
        return url or ""
    return XCom.get_value(key=key, ti_key=ti_key) or ""


def _store(context: Any, key: str, attribute: str, url: str | None) -> None:
    """Keep a link's URL for the UI: in XCom, and on the task for ``_link``."""
    if url is not None:
        context["ti"].xcom_push(key=key, value=url)
        if (task := context.get("task")) is not None:
            setattr(task, attribute, url)


class PeakTableLink(BaseOperatorLink):
    """Links a task to the Peak table it wrote (URL from the connection's ``table_url_template``)."""

    name = "Peak table"
    key = "peak_table_url"

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return _link(operator, _ATTRIBUTE, self.key, ti_key)

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
        _store(context, cls.key, _ATTRIBUTE, url)
        return url


class PeakWorkflowRunLink(BaseOperatorLink):
    """Links a task to the Peak workflow run it started or awaited (URL from the connection's
    ``workflow_url_template``)."""

    name = "Peak workflow run"
    key = "peak_workflow_run_url"

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return _link(operator, _WORKFLOW_ATTRIBUTE, self.key, ti_key)

    @classmethod
    def persist(cls, context: Any, hook: PeakHook, workflow_id: str, execution_id: str) -> str | None:
        """Store the run's URL for the UI; returns it, or ``None`` when the task has no link (a
        template that cannot make a URL is logged, as for ``PeakTableLink``)."""
        settings = hook.settings
        try:
            url = workflow_run_url(
                settings.workflow_url_template,
                base_url=settings.base_url,
                workflow_id=workflow_id,
                execution_id=execution_id,
            )
        except PeakConfigError as exc:
            log.warning("The task has no %r link: %s", cls.name, exc)
            return None
        _store(context, cls.key, _WORKFLOW_ATTRIBUTE, url)
        return url

"""Operator extra links: buttons on a task that open what it wrote, started or awaited.

* "Peak table" (ingest, create-table and feed tasks): the ``peak`` connection's extra
  ``table_url_template``, with ``{base_url}`` and ``{table}``;
* "Peak workflow run" (workflow tasks): the ``peak`` connection's extra ``workflow_url_template``,
  with ``{base_url}``, ``{workflow_id}`` and ``{execution_id}``;
* "Peak solution table" (v2 loads): the ``peak_v2`` connection's extra ``table_url_template``, with
  ``{base_url}``, ``{tenant}``, ``{solution}`` and ``{table}`` (the table's full name);
* "Peaka cache" (Peaka refresh and status tasks): the ``peaka`` connection's extra
  ``cache_url_template``, with ``{base_url}``, ``{project_id}`` and ``{cache_id}``;
* "Dead letters" (ingest, v2 and feed tasks that wrote dead letters to object storage): the
  object in its cloud console (``s3://``: the AWS console; ``gs://``: the Google Cloud console),
  or the ``[peak] dead_letter_url_template`` option, with ``{scheme}``, ``{bucket}``, ``{key}``
  and ``{path}`` (see ``dead_letter_url``).

Each value but ``{base_url}`` is percent-encoded. Without a template the task shows no link: the
API hosts have no page for a table, a run or a cache, and the address of one in Peak's or Peaka's
web app depends on the tenant. The emulator serves a table's page at
``{base_url}/data/tables/{table}``.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.utils.redaction import without_credentials
from airflow_provider_peak.version_compat import LINKS_RESOLVED_BY_THE_TASK, BaseOperatorLink, XCom, conf

log = logging.getLogger(__name__)

#: The ``peak`` (and ``peak_v2``) connection extra holding the table link's URL template.
TEMPLATE_EXTRA = "table_url_template"
#: The ``peak`` connection extra holding the workflow run link's URL template.
WORKFLOW_TEMPLATE_EXTRA = "workflow_url_template"
#: The ``peaka`` connection extra holding the cache link's URL template.
CACHE_TEMPLATE_EXTRA = "cache_url_template"
#: The ``[peak]`` option holding the dead-letter link's URL template.
DEAD_LETTER_TEMPLATE_OPTION = "dead_letter_url_template"
#: The page of an object in its cloud's console, by URL scheme (``{bucket}``, ``{key}``: the key
#: as one value; ``{path}``: the key with its ``/`` kept). Azure's portal addresses a blob by
#: subscription and resource group, which a URL does not hold: no link without a template.
CONSOLES = {
    "s3": "https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={key}",
    "s3a": "https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={key}",
    "gs": "https://console.cloud.google.com/storage/browser/_details/{bucket}/{path}",
    "gcs": "https://console.cloud.google.com/storage/browser/_details/{bucket}/{path}",
}
#: Schemes of files on the worker itself: nothing a browser could open.
_WORKER_LOCAL = ("file", "local", "memory")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_SHOWN = 120  # characters of a bad template quoted in an error


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


def template_url(
    template: str | None, extra: str, *, base_url: str, values: Mapping[str, str | None]
) -> str | None:
    """``template`` (the connection extra ``extra``) filled with ``{base_url}`` (without
    credentials or a trailing ``/``) and ``values`` (percent-encoded; ``None`` is empty); ``None``
    without a template; ``PeakConfigError`` for another field or a URL that is not http(s)."""
    if not template:
        return None
    # The link is shown to everyone who can see the task: never the base URL's credentials.
    fields = {"base_url": without_credentials(base_url).rstrip("/")}
    fields.update((name, quote(value or "", safe="")) for name, value in values.items())
    return _filled(template, f"extra {extra!r}", fields)


def _filled(template: str, setting: str, fields: Mapping[str, str]) -> str:
    """``template`` (``setting``, as messages name it) filled with ``fields`` (each made safe for a
    URL by the caller); ``PeakConfigError`` for another field or a URL that is not http(s)."""
    shown = repr(template[:_SHOWN])
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise PeakConfigError(f"{setting} is not a valid template ({exc}): {shown}") from None
    unknown = sorted({name for name in names if name not in fields})
    if unknown:
        may = " and ".join(", ".join("{" + name + "}" for name in fields).rsplit(", ", 1))
        raise PeakConfigError(
            f"{setting} may use {may} only, not {', '.join('{' + name + '}' for name in unknown)}: {shown}"
        )
    url = template.format(**fields)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PeakConfigError(f"{setting} must make an http(s) URL, got {url[:_SHOWN]!r}")
    return url


def dead_letter_url(path: str | None, template: str | None = None) -> str | None:
    """The page of a dead-letter file in object storage, or ``None`` (a local path, a scheme
    without a console and no ``template``, or a key a browser would resolve to another page).

    ``template`` (the ``[peak] dead_letter_url_template`` option) replaces the console pages for
    every object-storage scheme; it may use ``{scheme}``, ``{bucket}`` (the bucket or container),
    ``{key}`` (the object's key as one value, ``/`` percent-encoded too: for a query) and ``{path}``
    (the key with its ``/`` kept: for a URL path). Every value is percent-encoded, so a key holding
    ``?``, ``#``, ``&`` or spaces stays in its place; a bucket or key with a ``.`` or ``..`` segment
    (which a browser removes, with the segment before it) makes no link. The URL's ``user@`` part
    (``ObjectStoragePath``'s connection id, or credentials) is never used.
    """
    scheme, _, rest = (path or "").partition("://")
    scheme = scheme.lower()
    if not rest or not _SCHEME.fullmatch(scheme) or scheme in _WORKER_LOCAL:
        return None
    # Split as object storage does: everything after the bucket is the key, "?" and "#" included.
    netloc, _, key = rest.partition("/")
    bucket = netloc.rpartition("@")[2]  # without the user part: the connection id, or credentials
    segments = key.split("/")
    if not bucket or not key or bucket in (".", "..") or any(s in (".", "..") for s in segments):
        return None
    try:
        fields = {
            "scheme": quote(scheme, safe=""),
            "bucket": quote(bucket, safe=""),
            "key": quote(key, safe=""),
            "path": "/".join(quote(s, safe="") for s in segments),
        }
    except UnicodeEncodeError:  # a lone surrogate: no object store holds such a name
        return None
    if template:
        return _filled(template, f"[peak] {DEAD_LETTER_TEMPLATE_OPTION}", fields)
    console = CONSOLES.get(scheme)
    return console.format(**fields) if console else None


class PeakLink(BaseOperatorLink):
    """A link whose URL the task makes from its connection (``store``) and keeps for the UI."""

    name: ClassVar[str]
    key: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        return self.key

    @classmethod
    def _attribute(cls) -> str:  # the URL ``store`` made, on the task's operator
        return f"_{cls.key}"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = getattr(operator, self._attribute(), None)
        if url is not None or LINKS_RESOLVED_BY_THE_TASK:
            # The task's own process, as it ends: what ``store`` made, or no link. Reading the
            # XCom back instead would log a "not found" error for every task without a link.
            return url or ""
        return XCom.get_value(key=self.key, ti_key=ti_key) or ""  # Airflow 2.11's webserver

    @classmethod
    def store(cls, context: Any, make: Callable[[], str | None]) -> str | None:
        """Keep the URL ``make()`` returns for the UI (in XCom, and on the task for ``get_link``);
        returns it, or ``None`` when the task has no link.

        A template that cannot make a URL, or a connection that cannot be read (the task's own
        calls report that), is logged and leaves the task without a link: the link is not worth
        failing a task for.
        """
        try:
            url = make()
        except Exception as exc:
            log.warning("The task has no %r link: %s", cls.name, exc)
            return None
        if url is not None:
            context["ti"].xcom_push(key=cls.key, value=url)
            if (task := context.get("task")) is not None:
                setattr(task, cls._attribute(), url)
        return url


class PeakTableLink(PeakLink):
    """Links a task to the Peak table it wrote (URL from the connection's ``table_url_template``)."""

    name = "Peak table"
    key = "peak_table_url"

    @classmethod
    def persist(cls, context: Any, hook: Any, table: str) -> str | None:
        """Store the URL of ``table`` (from ``hook``'s ``peak`` connection) for the UI."""

        def make() -> str | None:
            s = hook.settings
            return table_url(s.table_url_template, base_url=s.base_url, table=table)

        return cls.store(context, make)


class PeakWorkflowRunLink(PeakLink):
    """Links a task to the Peak workflow run it started or awaited (URL from the connection's
    ``workflow_url_template``)."""

    name = "Peak workflow run"
    key = "peak_workflow_run_url"

    @classmethod
    def persist(cls, context: Any, hook: Any, workflow_id: str, execution_id: str) -> str | None:
        """Store the run's URL for the UI (from ``hook``'s ``peak`` connection)."""

        def make() -> str | None:
            s = hook.settings
            return workflow_run_url(
                s.workflow_url_template,
                base_url=s.base_url,
                workflow_id=workflow_id,
                execution_id=execution_id,
            )

        return cls.store(context, make)


class PeakSolutionTableLink(PeakLink):
    """Links a v2 load to the solution table it wrote (URL from the ``peak_v2`` connection's
    ``table_url_template``)."""

    name = "Peak solution table"
    key = "peak_solution_table_url"

    @classmethod
    def persist(cls, context: Any, hook: Any, solution: str, table: str) -> str | None:
        """Store the URL of ``solution``'s ``table`` (its full name) for the UI."""

        def make() -> str | None:
            s = hook.settings
            values = {"tenant": s.tenant, "solution": solution, "table": table}
            return template_url(s.table_url_template, TEMPLATE_EXTRA, base_url=s.base_url, values=values)

        return cls.store(context, make)


class PeakaCacheLink(PeakLink):
    """Links a task to the Peaka cache it refreshed or watched (URL from the ``peaka`` connection's
    ``cache_url_template``)."""

    name = "Peaka cache"
    key = "peaka_cache_url"

    @classmethod
    def persist(cls, context: Any, hook: Any, project_id: str | None, cache_id: str) -> str | None:
        """Store the URL of ``cache_id`` of the project (default: the connection's) for the UI."""

        def make() -> str | None:
            s = hook.settings
            if not s.cache_url_template:
                return None
            values = {"project_id": hook.project(project_id), "cache_id": cache_id}
            return template_url(
                s.cache_url_template, CACHE_TEMPLATE_EXTRA, base_url=s.base_url, values=values
            )

        return cls.store(context, make)


class PeakDeadLettersLink(PeakLink):
    """Links a load to its dead-letter file, when it wrote any to object storage: the object in
    its cloud console, or the ``[peak] dead_letter_url_template`` option's URL (see
    ``dead_letter_url``)."""

    name = "Dead letters"
    key = "peak_dead_letters_url"

    @classmethod
    def persist(cls, context: Any, path: str | None, written: int) -> str | None:
        """Store the URL of the dead-letter file ``path`` for the UI when the task wrote
        ``written`` > 0 lines to it."""

        def make() -> str | None:
            if not written:
                return None
            template = conf.get("peak", DEAD_LETTER_TEMPLATE_OPTION, fallback=None)
            return dead_letter_url(path, template or None)

        return cls.store(context, make)


def dead_letter_figures(
    context: Any, path: str | None, written: int, summary: dict[str, Any]
) -> dict[str, Any]:
    """Store a load's "Dead letters" link (``path``: the dead-letter file, ``written``: the lines
    the task wrote to it); add the link's URL to ``summary`` (the XCom) as ``dead_letter_url``;
    return what an asset event of the load carries about its dead letters: the file as the
    summary shows it (an object-storage URL without credentials) and the link, when it wrote any."""
    url = PeakDeadLettersLink.persist(context, path, written)
    if url is not None:
        summary["dead_letter_url"] = url
    if not written:
        return {}
    figures = {"dead_letters": written, "dead_letter_path": summary.get("dead_letter_path")}
    return {**figures, "dead_letter_url": url} if url is not None else figures

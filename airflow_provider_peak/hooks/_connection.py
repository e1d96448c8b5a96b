"""The provider's connection types, ``peak``, ``peak_rest``, ``peaka`` and ``peak_v2``: each setting
declared once (default, kind, bounds, label, help, section, secret: see ``_settings``), each form's
layout, and the checks that span several fields.

Every assumed wire name of the contract is an extra with a default, so a change on Peak's side is a
connection edit, not a code change. The forms (``ui.forms``) are rendered from these declarations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.hooks._settings import (
    UNSET_VALUES,
    ConnectionFields,
    ConnectionForm,
    ConnectionSettings,
    base_url_from,
    read_connection,
    setting,
)
from airflow_provider_peak.ingest.limits import IngestLimits
from airflow_provider_peak.ingest.v2.wire import SOURCES, V2Wire
from airflow_provider_peak.transport.urls import same_origin
from airflow_provider_peak.utils.redaction import url_credentials

__all__ = [
    "CONNECTIONS",
    "CUSTOM_AUTH_SECTION",
    "PEAKA_CACHE_PATH",
    "PEAKA_HOSTS",
    "PEAKA_IS_CACHED_PATH",
    "PEAKA_STATUS_PATH",
    "UNSET_VALUES",
    "V2_MASKED_BY_AIRFLOW",
    "ConnectionFields",
    "ConnectionSettings",
    "PeakSettings",
    "PeakV2Settings",
    "PeakaSettings",
    "RestSettings",
    "base_url_from",
    "is_sensitive",
    "read_connection",
    "secret_leaves",
    "substitute",
    "wire_mark",
]

#: The accordion sections of the forms.
API_NAMES_SECTION = "API names (assumed)"
WORKFLOWS_SECTION = "Workflows API (peak-sdk)"
OAUTH_SECTION = "OAuth"
CUSTOM_AUTH_SECTION = "Custom Auth"
PEAKA_PATHS_SECTION = "API paths (assumed)"


# ----------------------------------------------------------------------------- peak
@dataclass(frozen=True, repr=False)
class PeakSettings(ConnectionSettings):
    """Everything the hook needs from a ``peak`` connection."""

    conn_type: ClassVar[str] = "peak"
    hook_name: ClassVar[str] = "Peak"
    hook_class: ClassVar[str] = "airflow_provider_peak.hooks.peak.PeakHook"
    connection_fields: ClassVar[frozenset[str]] = frozenset(
        {"base_url", "api_key", "client_id", "client_secret"}
    )
    form: ClassVar[ConnectionForm] = ConnectionForm(
        extras=(
            *("timeout", "max_retries", "verify", "max_in_flight", "table_url_template"),
            *("audience", "token_url"),
            *("tables_path", "api_key_header", "api_key_prefix", "next_token_param", "next_token_key"),
            "records_ingested_key",
            *("workflow_url_template", "workflows_base", "workflow_execute_path", "workflow_execution_path"),
            *("workflow_executions_path", "workflow_logs_path"),
        ),
        hidden=("schema", "port"),
        relabeling={"host": "Base URL", "login": "OAuth client ID", "password": "API key or secret"},
        placeholders={
            "host": "required: your tenant's Peak API base URL, https://... (none is guessed)",
            "login": "empty for a tenant API key",
            "password": "tenant API key, or OAuth client secret",
            "extra": '{"timeout": 60, "max_retries": 5}',
        },
    )

    api_key: str | None = setting(None, secret=True)
    client_id: str | None = None
    client_secret: str | None = setting(None, secret=True)
    auth_type: str | None = setting(None, kind="choice", choices={"api_key": "API key", "oauth": "OAuth"})
    audience: str | None = setting(
        None,
        kind="optional_text",
        label="OAuth audience",
        help="Sent with the OAuth token request when set.",
        section=OAUTH_SECTION,
    )
    # Assumed wire names (see docs/contract.md); each is an extra of the same name.
    token_url: str = setting(
        "/api/v1/oauth/token",
        label="OAuth token URL",
        help="Absolute, or a path under the Base URL.",
        section=OAUTH_SECTION,
    )
    tables_path: str = setting(
        "/api/v1/tables", label="Tables path", help="Path of the tables API.", section=API_NAMES_SECTION
    )
    api_key_header: str = setting(
        "Authorization",
        label="API key header",
        help="Header that carries the tenant API key.",
        section=API_NAMES_SECTION,
    )
    api_key_prefix: str = setting(
        "",
        label="API key prefix",
        help="Text sent before the key in that header. Default: none (the key alone).",
        section=API_NAMES_SECTION,
    )
    next_token_param: str = setting(
        "nextToken",
        label="Paging parameter",
        help="Query parameter of the next page token.",
        section=API_NAMES_SECTION,
    )
    next_token_key: str = setting(
        "nextToken",
        label="Paging reply key",
        help="Reply key of the next page token.",
        section=API_NAMES_SECTION,
    )
    #: The reply key holding a page of tables (a bare JSON array is read too).
    tables_key: str = setting("tables")
    records_ingested_key: str = setting(
        "recordsIngested",
        label="Ingested count key",
        help="Reply key of the ingested record count.",
        section=API_NAMES_SECTION,
    )
    token_refresh_skew: float = setting(60.0, kind="number", minimum=0)
    #: Pages ``list_tables`` reads at most (it also stops on a token it has seen before).
    max_pages: int = setting(10_000, kind="count", minimum=1)
    #: Headers sent with every Peak request (tenant headers such as ``x-auth-tenant``).
    extra_headers: Mapping[str, Any] = setting(factory=dict, kind="json_object")
    # The tenant's limits: the ceiling of every ingest (see ``ingest.limits``).
    max_records: int = setting(500, kind="count", minimum=1)
    max_bytes: int = setting(1_000_000, kind="count", minimum=1)
    max_in_flight: int = setting(
        30,
        kind="count",
        minimum=1,
        label="Max requests in flight",
        help="The tenant's limit of concurrent requests.",
    )
    #: The operator extra link: ``{base_url}`` and ``{table}`` are filled in; empty: no link.
    table_url_template: str = setting(
        "",
        label="Table link",
        help='URL of the "Peak table" link of ingest and create-table tasks: {table} is replaced by the '
        "table name, {base_url} by the Base URL (e.g. https://<your Peak app>/tables/{table}). "
        "Empty: the tasks show no link.",
    )

    # Peak's workflows API as Peak's SDK (peak-sdk 1.29.0, peak/resources/workflows.py) calls it;
    # see docs/workflows.md for the source of each default.
    workflows_base: str = setting(
        "/workflows/api/v1",
        label="Workflows API base",
        help="Base of the workflows API: a path under the Base URL, or an absolute URL on the same host "
        "(credentials go to the Base URL's host only).",
        section=WORKFLOWS_SECTION,
    )
    workflow_execute_path: str = setting(
        "/workflows/{workflow_id}/execute",
        label="Execute path",
        help="POST path that starts a run, under the workflows base; {workflow_id} is filled in.",
        section=WORKFLOWS_SECTION,
    )
    workflow_execution_path: str = setting(
        "/workflows/{workflow_id}/executions/{execution_id}",
        label="Execution path",
        help="GET path of one run's details; {workflow_id} and {execution_id} are filled in.",
        section=WORKFLOWS_SECTION,
    )
    workflow_executions_path: str = setting(
        "/workflows/executions/{workflow_id}",
        label="Executions path",
        help="GET path of a workflow's runs, newest first (paged by pageNumber).",
        section=WORKFLOWS_SECTION,
    )
    workflow_logs_path: str = setting(
        "/workflows/{workflow_id}/executions/{execution_id}/logs",
        label="Logs path",
        help="GET path of a step's logs (paged by nextToken).",
        section=WORKFLOWS_SECTION,
    )
    #: GET path of a workflow's details (its name, for the Peak page; JSON extra only).
    workflow_path: str = setting("/workflows/{workflow_id}")
    #: Reply keys of the workflows API (JSON extras only).
    workflow_name_key: str = setting("name")
    workflow_execution_id_key: str = setting("executionId")
    workflow_status_key: str = setting("status")
    workflow_steps_key: str = setting("steps")
    workflow_executions_key: str = setting("executions")
    workflow_page_count_key: str = setting("pageCount")
    workflow_logs_key: str = setting("logs")
    workflow_logs_token_key: str = setting("nextToken")
    #: How far before a run request its lookup starts (``dateFrom``), for clocks that differ.
    workflow_clock_skew: float = setting(120.0, kind="number", minimum=0)
    #: Pages a listing of executions or logs reads at most.
    workflow_max_pages: int = setting(100, kind="count", minimum=1)
    #: The "Peak workflow run" link of run tasks: ``{base_url}``, ``{workflow_id}``, ``{execution_id}``.
    workflow_url_template: str = setting(
        "",
        label="Workflow run link",
        help='URL of the "Peak workflow run" link of workflow tasks: {workflow_id} and {execution_id} are '
        "replaced, {base_url} by the Base URL. Empty: the tasks show no link.",
    )

    @property
    def workflows_url(self) -> str:
        """The workflows API's base, absolute."""
        return self.url(self.workflows_base)

    @property
    def auth_mode(self) -> str:
        return "oauth" if self.client_id else "api_key"

    @property
    def credential_fields(self) -> tuple[str, ...]:
        return ("login", "password") if self.auth_mode == "oauth" else ("password",)

    @property
    def absolute_token_url(self) -> str:
        return self.url(self.token_url)

    @property
    def limits(self) -> IngestLimits:
        return IngestLimits(self.max_records, self.max_bytes, self.max_in_flight)

    def __repr__(self) -> str:
        return f"PeakSettings(base_url={self.base_url!r}, auth_mode={self.auth_mode!r}, secrets=***)"

    @classmethod
    def build(cls, values: dict[str, Any], conn: ConnectionFields) -> PeakSettings:
        base_url = conn.base_url
        if base_url is None:
            raise PeakConfigError(
                "the peak connection has no Host: put the base URL of your tenant's Peak API there "
                "(https://..., as Peak gave it to you). Peak does not publish one host for every "
                "tenant, so the provider does not guess it"
            )
        if not conn.password:
            raise PeakConfigError(
                "the peak connection has no password: put the tenant API key there, "
                "or the OAuth client secret with the client id as login"
            )
        auth_type = values.get("auth_type")
        if auth_type == "oauth" or (auth_type is None and conn.login):
            if not conn.login:
                raise PeakConfigError("auth_type is 'oauth' but the connection has no login (client id)")
            values.update(client_id=conn.login, client_secret=conn.password)
        else:
            values["api_key"] = conn.password
        for name, value in dict(values.get("extra_headers") or {}).items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise PeakConfigError(f"extra_headers: the value of {name!r} must be text")
        values["extra_headers"] = {str(k): str(v) for k, v in dict(values.get("extra_headers") or {}).items()}
        settings = cls(base_url=base_url, **values)
        settings.limits  # noqa: B018 - refuses limits that cannot work, naming them
        if not same_origin(settings.workflows_url, base_url):
            raise PeakConfigError(
                "workflows_base must be a path under the Base URL or a URL on its host: credentials are "
                "only ever sent to the Base URL's host (use another peak connection for another host)"
            )
        return settings


# ----------------------------------------------------------------------------- peaka
#: Peaka's documented API hosts, by region (the connection's host beats the region).
PEAKA_HOSTS = {"us": "https://partner.peaka.studio", "eu": "https://partner.eu.peaka.studio"}
PEAKA_CACHE_PATH = "/api/v1/data/projects/{project_id}/cache"
PEAKA_STATUS_PATH = "/api/v1/data/projects/{project_id}/cache/status"
PEAKA_IS_CACHED_PATH = (
    "/api/v1/data/projects/{project_id}/catalogs/{catalog_id}/schemas/{schema_name}/tables/{table_name}"
    "/isCached"
)


@dataclass(frozen=True, repr=False)
class PeakaSettings(ConnectionSettings):
    """Everything the hook needs from a ``peaka`` connection."""

    conn_type: ClassVar[str] = "peaka"
    hook_name: ClassVar[str] = "Peaka"
    hook_class: ClassVar[str] = "airflow_provider_peak.hooks.peaka.PeakaHook"
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "api_key"})
    keep_empty: ClassVar[frozenset[str]] = frozenset({"list_caches_path"})
    form: ClassVar[ConnectionForm] = ConnectionForm(
        extras=(
            *("project_id", "region", "timeout", "max_retries", "verify", "cache_url_template"),
            *("cache_path", "list_caches_path"),
        ),
        hidden=("schema", "port", "login"),
        relabeling={"host": "API base URL", "password": "API key"},
        placeholders={
            "host": "empty: the Region's documented host",
            "password": "Peaka partner or project API key",
            "extra": '{"project_id": "<project id>", "region": "us"}',
        },
    )

    api_key: str = setting("", secret=True)
    project_id: str | None = setting(
        None,
        kind="optional_text",
        label="Project ID",
        help="Default Peaka project of operators and sensors.",
    )
    region: str = setting(
        "us",
        kind="choice",
        choices={region: f"{region.upper()} ({host})" for region, host in PEAKA_HOSTS.items()},
        label="Region",
        help="The API host used when Host is empty.",
    )
    cache_path: str = setting(
        PEAKA_CACHE_PATH,
        label="Cache API path",
        help="Path of a project's caches; {project_id} is filled in.",
        section=PEAKA_PATHS_SECTION,
    )
    #: Where existing caches are found on a rerun: Peaka's project-wide status call (an array of
    #: every cache's status); empty: no lookup.
    list_caches_path: str = setting(
        PEAKA_STATUS_PATH,
        label="List caches path",
        help="GET path of the status of every cache of a project, to find existing caches on a rerun. "
        f'Default: {PEAKA_STATUS_PATH}. To turn the lookup off, set "list_caches_path": "" in Extra '
        "Fields JSON.",
        section=PEAKA_PATHS_SECTION,
        describe_default=False,
    )
    #: Peaka's OpenAPI: cancel a RUNNING run of each kind (200 signal sent, 404 nothing running);
    #: appended to a cache's path, ``{cache_path}/{cache_id}``.
    cancel_incremental_path: str = setting(
        "/cancelIncrementalUpdate", help="POST, after a cache's path: cancel its running incremental sync."
    )
    cancel_full_refresh_path: str = setting(
        "/cancelFullRefreshUpdate", help="POST, after a cache's path: cancel its running full refresh."
    )
    #: Peaka's OpenAPI: whether a table is cached, and whether (and how) it can be.
    is_cached_path: str = setting(
        PEAKA_IS_CACHED_PATH,
        help="GET path of a table's isCached/isCacheable; {project_id}, {catalog_id}, {schema_name} "
        "and {table_name} are filled in.",
    )
    max_in_flight: int = setting(4, kind="count", minimum=1)
    #: The "Peaka cache" operator link: ``{base_url}``, ``{project_id}`` and ``{cache_id}`` are
    #: filled in; empty: no link.
    cache_url_template: str = setting(
        "",
        label="Cache link",
        help='URL of the "Peaka cache" link of refresh and status tasks: {cache_id} and {project_id} are '
        "replaced by the cache's ids, {base_url} by the API base URL (e.g. https://<your Peaka app>/"
        "projects/{project_id}/caches/{cache_id}). Empty: the tasks show no link.",
    )

    def __repr__(self) -> str:
        return f"PeakaSettings(base_url={self.base_url!r}, project_id={self.project_id!r}, api_key=***)"

    @classmethod
    def build(cls, values: dict[str, Any], conn: ConnectionFields) -> PeakaSettings:
        if not conn.password:
            raise PeakConfigError("the peaka connection has no password: put the Peaka API key there")
        base_url = conn.base_url or PEAKA_HOSTS[values.get("region", cls.default("region"))]
        return cls(base_url=base_url, api_key=conn.password, **values)


# ----------------------------------------------------------------------------- peak_rest
#: Keys whose values are secrets wherever they appear (auth body, auth headers, default headers).
SENSITIVE_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "key",
    "auth",
    "credential",
    "signature",
    "cookie",
)


def is_sensitive(name: object) -> bool:
    """Whether a header or body key names a secret (``client_secret``, ``X-Api-Key``, ``Authorization``)."""
    return isinstance(name, str) and any(word in name.lower() for word in SENSITIVE_WORDS)


def substitute(value: Any, login: str | None, password: str | None) -> Any:
    """Replace ``{login}`` / ``{password}`` in every string of a JSON value.

    Not ``str.format``: JSON text has braces of its own.
    """
    if isinstance(value, str):
        return value.replace("{login}", login or "").replace("{password}", password or "")
    if isinstance(value, Mapping):
        return {k: substitute(v, login, password) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, login, password) for v in value]
    return value


def secret_leaves(value: Any, name: str | None = None) -> list[str]:
    """String values under sensitive keys, at any depth."""
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in secret_leaves(v, k if is_sensitive(k) else name)]
    if isinstance(value, list):
        return [s for v in value for s in secret_leaves(v, name)]
    return [str(value)] if name is not None and value not in (None, "") else []


@dataclass(frozen=True, repr=False)
class RestSettings(ConnectionSettings):
    """Everything the hook reads from a ``peak_rest`` connection (a REST source of a feed)."""

    conn_type: ClassVar[str] = "peak_rest"
    hook_name: ClassVar[str] = "Peak REST API source"
    hook_class: ClassVar[str] = "airflow_provider_peak.hooks.peak_rest.PeakRestHook"
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "login", "password"})
    keep_empty: ClassVar[frozenset[str]] = frozenset({"token_prefix"})
    form: ClassVar[ConnectionForm] = ConnectionForm(
        extras=(
            *("auth_type", "headers", "timeout", "verify", "test_path"),
            *("auth_url", "auth_method", "auth_headers", "auth_body"),
            *("token_path", "token_header", "token_prefix", "expires_in_path"),
        ),
        hidden=("schema", "port"),
        relabeling={"host": "Base URL", "login": "Login or client ID", "password": "Password or secret"},
        placeholders={
            "host": "https://api.example.com",
            "login": "Basic Auth user, or {login} of Custom Auth",
            "password": "Basic Auth password, or {password} of Custom Auth",
            "extra": '{"auth_type": "custom", "auth_url": "/oauth/token", '
            '"auth_body": {"client_id": "{login}", "client_secret": "{password}"}}',
        },
        labels={"timeout": "Time-out (s)"},
    )

    login: str | None = None
    password: str | None = setting(None, secret=True)
    auth_type: str = setting(
        "none",
        kind="choice",
        choices={"none": "No Auth", "basic": "Basic Auth", "custom": "Custom Auth"},
        label="Authentication",
        help="Basic Auth sends the login and password; Custom Auth requests a token with the fields of "
        "the Custom Auth section (used only with Custom Auth).",
    )
    auth_url: str | None = setting(
        None,
        kind="optional_text",
        label="Auth URL",
        help="Where the token is requested: absolute, or a path under the Base URL. Required.",
        section=CUSTOM_AUTH_SECTION,
    )
    auth_method: str = setting(
        "POST", label="Method", help="HTTP method of the token request.", section=CUSTOM_AUTH_SECTION
    )
    auth_headers: Mapping[str, Any] = setting(
        factory=dict,
        kind="json_object",
        label="Request headers",
        help='JSON object of headers of the token request, e.g. {"Content-Type": "application/json"}; '
        "{login} and {password} are replaced by the connection's login and password.",
        section=CUSTOM_AUTH_SECTION,
    )
    auth_body: Any = setting(  # noqa: RUF009 - setting() returns a dataclasses.field
        None,
        kind="json",
        label="Request body",
        help='JSON body of the token request, e.g. {"client_id": "{login}", "client_secret": "{password}"}: '
        "keep the secret in the password field and refer to it as {password}.",
        section=CUSTOM_AUTH_SECTION,
    )
    token_path: str = setting(
        "access_token",
        label="Token path",
        help="Dotted path of the token in the reply (e.g. data.token).",
        section=CUSTOM_AUTH_SECTION,
    )
    token_header: str = setting(
        "Authorization",
        label="Token header",
        help="Header that carries the token.",
        section=CUSTOM_AUTH_SECTION,
    )
    #: Text before the token; an explicit ``""`` sends the token alone.
    token_prefix: str = setting(
        "Bearer",
        label="Token prefix",
        help='Text sent before the token. Default: Bearer. To send the token alone, set "token_prefix": "" '
        "in Extra Fields JSON.",
        section=CUSTOM_AUTH_SECTION,
        describe_default=False,
    )
    expires_in_path: str | None = setting(
        None,
        kind="optional_text",
        label="Expires-in path",
        help="Dotted path of the token's lifetime in seconds (e.g. expires_in). Default: none (the token "
        "is refreshed when the API answers 401).",
        section=CUSTOM_AUTH_SECTION,
    )
    headers: Mapping[str, Any] = setting(
        factory=dict,
        kind="json_object",
        label="Default headers",
        help='JSON object of headers sent with every request, e.g. {"Accept": "application/json"}.',
    )
    test_path: str = setting(
        "/", label="Test path", help="Path requested by the connection test (No and Basic Auth)."
    )
    #: Refresh a token with a known lifetime this many seconds before it expires.
    refresh_skew: float = setting(60.0, kind="number", minimum=0)
    #: The package index of a feed's ``requirements=`` (the first; the others are extra indexes),
    #: unless the operator's ``index_urls`` gives one.
    index_urls: tuple[str, ...] = setting((), kind="names")

    def __repr__(self) -> str:
        return f"RestSettings(base_url={self.base_url!r}, auth_type={self.auth_type!r}, secrets=***)"

    @property
    def secrets(self) -> tuple[str, ...]:
        found = list(super().secrets)
        for value in (self.auth_headers, self.auth_body, self.headers):
            found.extend(secret_leaves(value))
        for url in self.index_urls:
            found.extend(url_credentials(url))
        return tuple(s for s in found if s)

    def absolute(self, url: str) -> str:
        return self.url(url)

    @classmethod
    def build(cls, values: dict[str, Any], conn: ConnectionFields) -> RestSettings:
        auth_type = values.get("auth_type", cls.default("auth_type"))
        base_url = conn.base_url
        if auth_type != "none" and base_url is None:
            raise PeakConfigError(
                f"auth_type {auth_type!r} needs the connection's Host (the source API's base URL): "
                "credentials are only ever sent to that origin"
            )
        if auth_type == "basic" and not conn.login:
            raise PeakConfigError("auth_type 'basic' needs the connection's login (and password)")
        if auth_type == "custom" and not values.get("auth_url"):
            raise PeakConfigError(
                "auth_type 'custom' needs the auth_url extra (where the token is requested)"
            )
        # Placeholders keep secrets in the password field instead of the (visible) extras.
        for name in ("auth_headers", "auth_body", "headers"):
            if name in values:
                values[name] = substitute(values[name], conn.login, conn.password)
        return cls(base_url=base_url or "", login=conn.login, password=conn.password, **values)


# ----------------------------------------------------------------------------- peak_v2
#: How each type of a ``V2Wire`` field is read from an extra.
_WIRE_KINDS = {"str": "text", "tuple[str, ...]": "names", "int": "count", "float": "number", "bool": "flag"}
#: Bounds checked while reading (``V2Wire`` checks them again, with every other rule of its own).
_WIRE_BOUNDS: dict[str, dict[str, Any]] = {
    "max_rows": {"minimum": 1},
    "max_bytes": {"minimum": 256},
    "requests_per_second": {"positive": True},
}
#: Extras Airflow masks by name (its form would store the default as "***"): default in the text only.
V2_MASKED_BY_AIRFLOW = frozenset({"auth_header"})


def wire_mark(name: str) -> str:
    """Where the default of a ``V2Wire`` field comes from: ``doc``, ``inferred``, ``conflict`` or
    ``unknown`` (the first word of ``wire.SOURCES``; see docs/ingestion-v2.md)."""
    return SOURCES[name].split(" ", 1)[0].rstrip(":")


def _wire_setting(wire_field: Field[Any]) -> Field[Any]:
    """A ``V2Wire`` field as an extra of the same name, with the wire's default, shown in the form
    saying where that default comes from."""
    name, default, kind = wire_field.name, wire_field.default, _WIRE_KINDS[str(wire_field.type)]
    label = name.replace("_", " ").capitalize().replace(" keys", " names")
    text = "Candidate names, comma-separated; the first one present wins. " * (kind == "names")
    masked = name in V2_MASKED_BY_AIRFLOW or default == ""
    if masked:  # no default in the field: Airflow would show a masked name's as "***" and save that
        text += f"Default: {default or 'none'}. "
    spec: Field[Any] = setting(
        default,
        kind=kind,
        # A choice list, not a switch: a switch shows "off" for an unset value and saves false.
        choices={"true": "true", "false": "false"} if kind == "flag" else None,
        label=label,
        help=f"{text}({wire_mark(name)}; see docs/ingestion-v2.md)",
        section=API_NAMES_SECTION,
        describe_default=not masked,
        **_WIRE_BOUNDS.get(name, {}),
    )
    spec.name = name
    return spec


_V2_WIRE_SPECS = {wire_field.name: _wire_setting(wire_field) for wire_field in fields(V2Wire)}


@dataclass(frozen=True, repr=False)
class PeakV2Settings(ConnectionSettings):
    """Everything ``PeakV2Hook`` reads from a ``peak_v2`` connection (Peak's v2 ingestion API).

    Host is the v2 host (required: no host is guessed), password the personal access token. Every
    field of ``ingest.v2.wire.V2Wire`` is an extra of the same name with the wire's default (the
    newest revision's), read into ``wire``.
    """

    conn_type: ClassVar[str] = "peak_v2"
    hook_name: ClassVar[str] = "Peak v2 ingestion (solutions)"
    hook_class: ClassVar[str] = "airflow_provider_peak.hooks.peak_v2.PeakV2Hook"
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "token", "wire"})
    form: ClassVar[ConnectionForm] = ConnectionForm(
        extras=(
            *("tenant", "tenant_id", "requests_per_second_share", "timeout", "max_retries", "verify"),
            "table_url_template",
            *_V2_WIRE_SPECS,
        ),
        hidden=("schema", "port", "login"),
        relabeling={"host": "v2 ingestion host", "password": "Personal access token"},
        placeholders={
            "host": "required: https://ingestion.peak.ai or https://ingestion.<cluster>.peak.ai",
            "password": "personal access token (sent raw in Authorization)",
            "extra": '{"tenant": "<tenant>", "max_rows": 2000, "requests_per_second_share": 0.9}',
        },
    )

    token: str = setting("", secret=True)
    wire: V2Wire = field(default_factory=V2Wire)
    #: The tenant headers (``wire.tenant_header`` / ``wire.tenant_id_header``), sent when set.
    tenant: str | None = setting(
        None,
        kind="optional_text",
        label="Tenant",
        help="Sent as the x-auth-tenant header when set (some revisions need it).",
    )
    tenant_id: str | None = setting(
        None, kind="optional_text", label="Tenant ID", help="Sent as the x-auth-tenantId header when set."
    )
    #: The part of the tenant's request rate this connection's loads pace at: a tenth is left for
    #: arrivals bunched by the network and for other clients; lower it when several tasks share.
    requests_per_second_share: float = setting(
        0.9,
        kind="number",
        positive=True,
        label="Request rate share",
        help="Loads pace at requests_per_second x this share (0 < share <= 1); 0.9 leaves room for "
        "network jitter. Lower it when several tasks or clients share the tenant.",
    )
    #: The "Peak solution table" operator link; empty: no link.
    table_url_template: str = setting(
        "",
        label="Solution table link",
        help='URL of the "Peak solution table" link of v2 load tasks: {solution} and {table} (the '
        "table's full name) are replaced by the names, {tenant} by the Tenant, {base_url} by the v2 "
        "host (e.g. https://<your Peak app>/solutions/{solution}/tables/{table}). Empty: the tasks "
        "show no link.",
    )

    @classmethod
    def extra_specs(cls) -> dict[str, Field[Any]]:
        return {**super().extra_specs(), **_V2_WIRE_SPECS}

    @property
    def requests_per_second(self) -> float:
        """The pacing ceiling: the tenant's rate times this connection's share."""
        return self.wire.requests_per_second * self.requests_per_second_share

    @property
    def tenant_headers(self) -> dict[str, str]:
        headers = {self.wire.tenant_header: self.tenant, self.wire.tenant_id_header: self.tenant_id}
        return {name: value for name, value in headers.items() if value}

    def __repr__(self) -> str:
        return f"PeakV2Settings(base_url={self.base_url!r}, tenant={self.tenant!r}, token=***)"

    @classmethod
    def build(cls, values: dict[str, Any], conn: ConnectionFields) -> PeakV2Settings:
        base_url = conn.base_url
        if base_url is None:
            raise PeakConfigError(
                "the peak_v2 connection has no Host: put Peak's v2 ingestion host there, "
                "https://ingestion.peak.ai or your region's https://ingestion.<cluster>.peak.ai "
                "(the provider does not guess it)"
            )
        if not conn.password:
            raise PeakConfigError(
                "the peak_v2 connection has no password: put your personal access token there"
            )
        share = values.get("requests_per_second_share", cls.default("requests_per_second_share"))
        if share > 1:
            raise PeakConfigError(
                f"requests_per_second_share must be at most 1 (the whole tenant's rate), got {share!r}"
            )
        for name in ("tenant", "tenant_id"):
            text = values.get(name)
            if text is not None and (len(text) > 200 or any(ch in text for ch in "\r\n\x00")):
                raise PeakConfigError(f"extra {name!r} must be one line of at most 200 characters")
        wire = V2Wire(**{name: values.pop(name) for name in list(values) if name in _V2_WIRE_SPECS})
        return cls(base_url=base_url, token=conn.password, wire=wire, **values)


#: Every connection type of the provider, in the order the provider info lists them.
CONNECTIONS: tuple[type[ConnectionSettings], ...] = (
    PeakSettings,
    RestSettings,
    PeakaSettings,
    PeakV2Settings,
)

"""Connections read once into frozen settings: one base and one reader for ``peak``, ``peak_rest``,
``peaka`` and ``peak_v2``.

Every extra is a field of a settings dataclass, declared with its kind and bounds (``setting``), so
one reader does for every connection type what each would otherwise re-implement: strip the
``extra__<type>__`` prefix older forms store, refuse unknown extras, treat an empty form field
(``null``, ``""`` or a stored ``"***"``, which is what Airflow's form saves for a field whose
default it masked) as "use the default" (said once in the log), except for the few extras where
an empty value means something (``token_prefix``), coerce typed text strictly, check bounds, and
let hook arguments beat extras. Every assumed wire name of the contract is an extra with a
default, so a change on Peak's side is a connection edit, not a code change. Each secret is
registered with the masker before anything can log it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.limits import IngestLimits
from airflow_provider_peak.ingest.v2.wire import V2Wire
from airflow_provider_peak.ui.forms import AUTH_TYPES, PEAKA_HOSTS
from airflow_provider_peak.utils.checks import check_count, check_number, parse_count, parse_number
from airflow_provider_peak.utils.redaction import register_secret, sanitize_url, url_credentials
from airflow_provider_peak.utils.urls import join_url

log = logging.getLogger(__name__)

#: What Airflow's connection form stores for a field left as it was, or cleared.
UNSET_VALUES = (None, "", "***")
PEAKA_STATUS_PATH = "/api/v1/data/projects/{project_id}/cache/status"
PEAKA_CACHE_PATH = "/api/v1/data/projects/{project_id}/cache"

S = TypeVar("S", bound="ConnectionSettings")


def setting(
    default: Any = MISSING,
    *,
    kind: str = "text",
    minimum: float | None = None,
    positive: bool = False,
    choices: tuple[str, ...] = (),
    factory: Any = MISSING,
) -> Any:
    """A settings field that is also an extra: its ``kind`` (``text``, ``optional_text``, ``count``,
    ``number``, ``flag``, ``flag_or_path``, ``names``, ``json_object``, ``json``, ``choice``) says how
    text from a form is read, and the bounds what is accepted."""
    metadata = {"kind": kind, "minimum": minimum, "positive": positive, "choices": choices}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


#: How a ``flag`` extra may be written in a form.
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _coerce(spec: Field[Any], value: Any, *, from_text: bool) -> Any:
    """One extra (``from_text``: as stored in a connection) or hook argument, checked for its kind."""
    name, meta = spec.name, spec.metadata
    kind = meta.get("kind", "text")
    minimum, positive = meta.get("minimum"), meta.get("positive", False)
    if kind == "count":
        read_count = parse_count if from_text else check_count
        return read_count(name, value, minimum=int(minimum or 0))
    if kind == "number":
        read_number = parse_number if from_text else check_number
        return read_number(name, value, minimum=minimum, positive=positive)
    if kind == "flag":
        text = value.strip().lower() if isinstance(value, str) and from_text else None
        if isinstance(value, bool) or text in _FLAGS:
            return value if isinstance(value, bool) else _FLAGS[text or ""]
        raise PeakConfigError(f"extra {name!r} must be true or false, got {value!r}")
    if kind == "names":  # candidate names: a list, or comma-separated text from a form
        items = value.split(",") if isinstance(value, str) and from_text else value
        if isinstance(items, (list, tuple)) and all(isinstance(item, str) for item in items):
            names = tuple(item.strip() for item in items if item.strip())
            if names:
                return names
        raise PeakConfigError(
            f"extra {name!r} must be a list of names (or comma-separated text), got {value!r}"
        )
    if kind == "flag_or_path":  # verify: a boolean, or the path of a CA bundle
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip():
            text = value.strip()
            flags = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            return flags.get(text.lower(), text)
        raise PeakConfigError(f"extra {name!r} must be true, false or a CA bundle path, got {value!r}")
    if kind in ("json_object", "json"):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise PeakConfigError(f"extra {name!r} is not valid JSON ({exc.args[0]})") from None
        if kind == "json_object" and not isinstance(value, Mapping):
            raise PeakConfigError(f"extra {name!r} must be a JSON object of names to values")
        return value
    if kind == "choice":
        text = str(value).strip().lower()
        if text not in meta["choices"]:
            raise PeakConfigError(f"{name} must be one of {', '.join(meta['choices'])}; got {value!r}")
        return text
    # text: a JSON form may store numbers; an object or list where text belongs is a mistake.
    if isinstance(value, (Mapping, list)):
        raise PeakConfigError(f"extra {name!r} must be text, got {type(value).__name__}")
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """What every connection of the provider has: a base URL, time-outs, retries and TLS.

    Subclasses add their extras as fields (``setting(...)``) and ``build`` the fields that come from
    the connection's host, login and password. ``repr`` never shows a secret.
    """

    #: The connection type (and the legacy ``extra__<type>__`` prefix).
    conn_type: ClassVar[str] = ""
    #: Fields filled from the connection's host, login and password, never from extras.
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url"})
    #: Extras whose empty value (``""``) means something and is kept; ``null`` still means the default.
    keep_empty: ClassVar[frozenset[str]] = frozenset()

    base_url: str = ""
    timeout: float = setting(60.0, kind="number", positive=True)
    connect_timeout: float = setting(10.0, kind="number", positive=True)
    max_retries: int = setting(5, kind="count", minimum=0)
    verify: bool | str = setting(True, kind="flag_or_path")
    backoff_initial: float = setting(0.5, kind="number", minimum=0)
    backoff_max: float = setting(30.0, kind="number", minimum=0)
    retry_after_floor: float = setting(0.25, kind="number", positive=True)
    retry_after_max: float = setting(120.0, kind="number", positive=True)
    #: The largest successful reply read (error bodies are cut much shorter).
    max_reply_bytes: int = setting(64 * 1024 * 1024, kind="count", minimum=1024)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the connection holds (registered with the masker when it is read)."""
        return ()

    def url(self, path: str) -> str:
        """``path`` under the base URL (an absolute URL as it is)."""
        return join_url(self.base_url, path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, secrets=***)"

    # ------------------------------------------------------------------ reading
    @classmethod
    def extra_specs(cls) -> dict[str, Field[Any]]:
        """The extras the connection reads, by name: its fields, less the ``connection_fields``."""
        return {f.name: f for f in fields(cls) if f.name not in cls.connection_fields}

    @classmethod
    def from_connection(
        cls: type[S],
        *,
        host: str | None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        port: int | None = None,
        extra: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> S:
        """Build settings from connection fields; ``overrides`` (hook arguments) beat the extras."""
        values = cls.read_extras(extra or {}, overrides or {})
        return cls.build(
            values, host=host, login=login or None, password=password or None, schema=schema, port=port
        )

    @classmethod
    def read_extras(cls, extra: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The extras and overrides as field values: unknown names refused, empty ones left to their
        defaults, text coerced, bounds checked."""
        specs = cls.extra_specs()
        prefix = f"extra__{cls.conn_type}__"
        raw: dict[str, Any] = {}
        for key, value in extra.items():
            name = key.removeprefix(prefix)
            if key == name or name not in raw:  # the plain name wins over the legacy prefixed one
                raw[name] = value
        unknown = sorted(set(raw) - set(specs))
        if unknown:
            raise PeakConfigError(f"unknown extras on the {cls.conn_type} connection: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        defaulted: list[str] = []
        for name, value in raw.items():
            if value is None or (value in UNSET_VALUES and not (value == "" and name in cls.keep_empty)):
                defaulted.append(name)
                continue
            values[name] = _coerce(specs[name], value, from_text=True)
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in specs:
                raise PeakConfigError(f"unknown {cls.conn_type} setting {name!r}")
            values[name] = _coerce(specs[name], value, from_text=False)
        if defaulted:
            log.info(
                'The %s connection leaves %s empty (null, "" or "***"): using the default',
                cls.conn_type,
                ", ".join(sorted(defaulted)),
            )
        return values

    @classmethod
    def build(
        cls: type[S],
        values: dict[str, Any],
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None,
        port: int | None,
    ) -> S:
        """The settings from the extras' ``values`` and the connection's own fields."""
        return cls(base_url=base_url_from(host, schema, port) or "", **values)


def read_connection(settings_cls: type[S], conn: Any, overrides: Mapping[str, Any]) -> S:
    """``settings_cls.from_connection`` on an Airflow connection, with every secret it holds
    registered with the masker (and the scrubber) before anything can log it."""
    settings = settings_cls.from_connection(
        host=conn.host,
        login=conn.login,
        password=conn.password,
        schema=conn.schema,
        port=conn.port,
        extra=conn.extra_dejson,
        overrides=overrides,
    )
    for secret in settings.secrets:
        register_secret(secret)
    return settings


def base_url_from(host: str | None, schema: str | None, port: int | None) -> str | None:
    """The base URL from a connection's host (with or without scheme and path), schema and port;
    ``None`` when there is no host."""
    if not host or not host.strip():
        return None
    host = host.strip().rstrip("/")
    if "://" not in host:
        # A bare host name: Airflow keeps the scheme in ``schema`` when a URI is parsed.
        host = f"{schema or 'https'}://{host}"
    parts = urlsplit(host)
    try:
        has_port = parts.port is not None
    except ValueError:
        raise PeakConfigError(f"the connection's host has an invalid port: {sanitize_url(host)!r}") from None
    if port and not has_port:
        host = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}"
    return host


# ----------------------------------------------------------------------------- peak
@dataclass(frozen=True, repr=False)
class PeakSettings(ConnectionSettings):
    """Everything the hook needs from a ``peak`` connection."""

    conn_type: ClassVar[str] = "peak"
    connection_fields: ClassVar[frozenset[str]] = frozenset(
        {"base_url", "api_key", "client_id", "client_secret"}
    )

    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    auth_type: str | None = setting(None, kind="choice", choices=("api_key", "oauth"))
    audience: str | None = setting(None, kind="optional_text")
    # Assumed wire names (see docs/contract.md); each is an extra of the same name.
    token_url: str = setting("/api/v1/oauth/token")
    tables_path: str = setting("/api/v1/tables")
    api_key_header: str = setting("Authorization")
    api_key_prefix: str = setting("")
    next_token_param: str = setting("nextToken")
    next_token_key: str = setting("nextToken")
    #: The reply key holding a page of tables (a bare JSON array is read too).
    tables_key: str = setting("tables")
    records_ingested_key: str = setting("recordsIngested")
    token_refresh_skew: float = setting(60.0, kind="number", minimum=0)
    #: Pages ``list_tables`` reads at most (it also stops on a token it has seen before).
    max_pages: int = setting(10_000, kind="count", minimum=1)
    #: Headers sent with every Peak request (tenant headers such as ``x-auth-tenant``).
    extra_headers: Mapping[str, Any] = setting(kind="json_object", factory=dict)
    # The tenant's limits: the ceiling of every ingest (see ``ingest.limits``).
    max_records: int = setting(500, kind="count", minimum=1)
    max_bytes: int = setting(1_000_000, kind="count", minimum=1)
    max_in_flight: int = setting(30, kind="count", minimum=1)
    #: The operator extra link: ``{base_url}`` and ``{table}`` are filled in; empty: no link.
    table_url_template: str = setting("")

    @property
    def auth_mode(self) -> str:
        return "oauth" if self.client_id else "api_key"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.client_secret) if s)

    @property
    def absolute_token_url(self) -> str:
        return self.url(self.token_url)

    @property
    def limits(self) -> IngestLimits:
        return IngestLimits(self.max_records, self.max_bytes, self.max_in_flight)

    def __repr__(self) -> str:
        return f"PeakSettings(base_url={self.base_url!r}, auth_mode={self.auth_mode!r}, secrets=***)"

    @classmethod
    def build(
        cls,
        values: dict[str, Any],
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None,
        port: int | None,
    ) -> PeakSettings:
        base_url = base_url_from(host, schema, port)
        if base_url is None:
            raise PeakConfigError(
                "the peak connection has no Host: put the base URL of your tenant's Peak API there "
                "(https://..., as Peak gave it to you). Peak does not publish one host for every "
                "tenant, so the provider does not guess it"
            )
        if not password:
            raise PeakConfigError(
                "the peak connection has no password: put the tenant API key there, "
                "or the OAuth client secret with the client id as login"
            )
        auth_type = values.get("auth_type")
        if auth_type == "oauth" or (auth_type is None and login):
            if not login:
                raise PeakConfigError("auth_type is 'oauth' but the connection has no login (client id)")
            values.update(client_id=login, client_secret=password)
        else:
            values["api_key"] = password
        for name, value in dict(values.get("extra_headers") or {}).items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise PeakConfigError(f"extra_headers: the value of {name!r} must be text")
        values["extra_headers"] = {str(k): str(v) for k, v in dict(values.get("extra_headers") or {}).items()}
        settings = cls(base_url=base_url, **values)
        settings.limits  # noqa: B018 - refuses limits that cannot work, naming them
        return settings


# ----------------------------------------------------------------------------- peaka
@dataclass(frozen=True, repr=False)
class PeakaSettings(ConnectionSettings):
    """Everything the hook needs from a ``peaka`` connection."""

    conn_type: ClassVar[str] = "peaka"
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "api_key"})
    keep_empty: ClassVar[frozenset[str]] = frozenset({"list_caches_path"})

    api_key: str = ""
    project_id: str | None = setting(None, kind="optional_text")
    region: str = setting("us", kind="choice", choices=tuple(PEAKA_HOSTS))
    cache_path: str = setting(PEAKA_CACHE_PATH)
    #: Where existing caches are found on a rerun: Peaka's project-wide status call (an array of
    #: every cache's status); empty: no lookup.
    list_caches_path: str = setting(PEAKA_STATUS_PATH)
    max_in_flight: int = setting(4, kind="count", minimum=1)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    def __repr__(self) -> str:
        return f"PeakaSettings(base_url={self.base_url!r}, project_id={self.project_id!r}, api_key=***)"

    @classmethod
    def build(
        cls,
        values: dict[str, Any],
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None,
        port: int | None,
    ) -> PeakaSettings:
        if not password:
            raise PeakConfigError("the peaka connection has no password: put the Peaka API key there")
        region = values.get("region", "us")
        base_url = base_url_from(host, schema, port) or PEAKA_HOSTS[region]
        return cls(base_url=base_url, api_key=password, **values)


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
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "login", "password"})
    keep_empty: ClassVar[frozenset[str]] = frozenset({"token_prefix"})

    login: str | None = None
    password: str | None = None
    auth_type: str = setting("none", kind="choice", choices=AUTH_TYPES)
    auth_url: str | None = setting(None, kind="optional_text")
    auth_method: str = setting("POST")
    auth_headers: Mapping[str, Any] = setting(kind="json_object", factory=dict)
    auth_body: Any = setting(None, kind="json")  # noqa: RUF009 - setting() returns a dataclasses.field
    token_path: str = setting("access_token")
    token_header: str = setting("Authorization")
    #: Text before the token; an explicit ``""`` sends the token alone.
    token_prefix: str = setting("Bearer")
    expires_in_path: str | None = setting(None, kind="optional_text")
    headers: Mapping[str, Any] = setting(kind="json_object", factory=dict)
    test_path: str = setting("/")
    #: Refresh a token with a known lifetime this many seconds before it expires.
    refresh_skew: float = setting(60.0, kind="number", minimum=0)
    #: The package index of a feed's ``requirements=`` (the first; the others are extra indexes),
    #: unless the operator's ``index_urls`` gives one.
    index_urls: tuple[str, ...] = setting((), kind="names")

    def __repr__(self) -> str:
        return f"RestSettings(base_url={self.base_url!r}, auth_type={self.auth_type!r}, secrets=***)"

    @property
    def secrets(self) -> tuple[str, ...]:
        found = [self.password or ""]
        for value in (self.auth_headers, self.auth_body, self.headers):
            found.extend(secret_leaves(value))
        for url in self.index_urls:
            found.extend(url_credentials(url))
        return tuple(s for s in found if s)

    def absolute(self, url: str) -> str:
        return self.url(url)

    @classmethod
    def build(
        cls,
        values: dict[str, Any],
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None,
        port: int | None,
    ) -> RestSettings:
        auth_type = values.get("auth_type", "none")
        base_url = base_url_from(host, schema, port)
        if auth_type != "none" and base_url is None:
            raise PeakConfigError(
                f"auth_type {auth_type!r} needs the connection's Host (the source API's base URL): "
                "credentials are only ever sent to that origin"
            )
        if auth_type == "basic" and not login:
            raise PeakConfigError("auth_type 'basic' needs the connection's login (and password)")
        if auth_type == "custom" and not values.get("auth_url"):
            raise PeakConfigError(
                "auth_type 'custom' needs the auth_url extra (where the token is requested)"
            )
        # Placeholders keep secrets in the password field instead of the (visible) extras.
        for name in ("auth_headers", "auth_body", "headers"):
            if name in values:
                values[name] = substitute(values[name], login, password)
        return cls(base_url=base_url or "", login=login, password=password, **values)


# ----------------------------------------------------------------------------- peak_v2
#: How each type of a ``V2Wire`` field is read from an extra.
_WIRE_KINDS = {"str": "text", "tuple[str, ...]": "names", "int": "count", "float": "number", "bool": "flag"}
#: Bounds checked while reading (``V2Wire`` checks them again, with every other rule of its own).
_WIRE_BOUNDS: dict[str, dict[str, Any]] = {
    "max_rows": {"minimum": 1},
    "max_bytes": {"minimum": 256},
    "requests_per_second": {"positive": True},
}


def _wire_specs() -> dict[str, Field[Any]]:
    """Every ``V2Wire`` field as an extra of the same name, with the wire's default."""
    specs: dict[str, Field[Any]] = {}
    for wire_field in fields(V2Wire):
        spec: Field[Any] = setting(
            wire_field.default,
            kind=_WIRE_KINDS[str(wire_field.type)],
            **_WIRE_BOUNDS.get(wire_field.name, {}),
        )
        spec.name = wire_field.name
        specs[wire_field.name] = spec
    return specs


_V2_WIRE_SPECS = _wire_specs()


@dataclass(frozen=True, repr=False)
class PeakV2Settings(ConnectionSettings):
    """Everything ``PeakV2Hook`` reads from a ``peak_v2`` connection (Peak's v2 ingestion API).

    Host is the v2 host (required: no host is guessed), password the personal access token. Every
    field of ``ingest.v2.wire.V2Wire`` is an extra of the same name with the wire's default (the
    newest revision's), read into ``wire``.
    """

    conn_type: ClassVar[str] = "peak_v2"
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url", "token", "wire"})

    token: str = ""
    wire: V2Wire = field(default_factory=V2Wire)
    #: The tenant headers (``wire.tenant_header`` / ``wire.tenant_id_header``), sent when set.
    tenant: str | None = setting(None, kind="optional_text")
    tenant_id: str | None = setting(None, kind="optional_text")
    #: The part of the tenant's request rate this connection's loads pace at: a tenth is left for
    #: arrivals bunched by the network and for other clients; lower it when several tasks share.
    requests_per_second_share: float = setting(0.9, kind="number", positive=True)

    @classmethod
    def extra_specs(cls) -> dict[str, Field[Any]]:
        return {**super().extra_specs(), **_V2_WIRE_SPECS}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,) if self.token else ()

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
    def build(
        cls,
        values: dict[str, Any],
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None,
        port: int | None,
    ) -> PeakV2Settings:
        base_url = base_url_from(host, schema, port)
        if base_url is None:
            raise PeakConfigError(
                "the peak_v2 connection has no Host: put Peak's v2 ingestion host there, "
                "https://ingestion.peak.ai or your region's https://ingestion.<cluster>.peak.ai "
                "(the provider does not guess it)"
            )
        if not password:
            raise PeakConfigError(
                "the peak_v2 connection has no password: put your personal access token there"
            )
        share = values.get("requests_per_second_share", 0.9)
        if share > 1:
            raise PeakConfigError(
                f"requests_per_second_share must be at most 1 (the whole tenant's rate), got {share!r}"
            )
        for name in ("tenant", "tenant_id"):
            text = values.get(name)
            if text is not None and (len(text) > 200 or any(ch in text for ch in "\r\n\x00")):
                raise PeakConfigError(f"extra {name!r} must be one line of at most 200 characters")
        wire = V2Wire(**{name: values.pop(name) for name in list(values) if name in _V2_WIRE_SPECS})
        return cls(base_url=base_url, token=password, wire=wire, **values)

"""A connection's settings, each declared once, and the one reader of every connection type.

Every extra is a field of a frozen settings dataclass, declared with ``setting(...)``: its
default, how text from a form is read (its ``kind``) and its bounds, and how the connection form
shows it (label, help text, section, whether it is a secret). The connection reader below and
the forms (``ui.forms``: Airflow 3.2+ ``conn-fields`` and the legacy widgets) both read that
declaration, so a default, a bound or a label is written in one place. Each settings class also
declares its form's layout (``ConnectionForm``: which extras, in which order; the standard
fields' labels and placeholders) and the hook that reads it.

One reader does for every connection type what each would otherwise re-implement: strip the
``extra__<type>__`` prefix older forms store, refuse unknown extras, treat an empty form field
(``null``, ``""`` or a stored ``"***"``, which is what Airflow's form saves for a field whose
default it masked) as "use the default" (said once in the log), except for the few extras where
an empty value means something (``keep_empty``), coerce typed text strictly, check bounds, and
let hook arguments beat extras. Each secret is registered with the masker before anything can log
it.

Nothing here imports Airflow: the provider info (read while Airflow itself is being imported)
renders the forms from these declarations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.transport.urls import join_url
from airflow_provider_peak.utils.checks import check_count, check_number, parse_count, parse_number
from airflow_provider_peak.utils.redaction import register_secret, sanitize_url

log = logging.getLogger(__name__)

#: What Airflow's connection form stores for a field left as it was, or cleared.
UNSET_VALUES = (None, "", "***")
#: How each ``kind`` is typed in a form's JSON schema (anything else is text).
FORM_TYPES = {"count": "integer", "number": "number"}

S = TypeVar("S", bound="ConnectionSettings")


@dataclass(frozen=True)
class Setting:
    """How one setting is read from a connection and shown in its form (the default is the
    dataclass field's own).

    :param kind: how text from a form is read: ``text``, ``optional_text``, ``count``, ``number``,
        ``flag``, ``flag_or_path``, ``names``, ``json_object``, ``json`` or ``choice``.
    :param minimum: the smallest value accepted (``count`` and ``number``).
    :param positive: only values above 0 (``number``).
    :param choices: the accepted values (``choice``), or how a ``flag`` is offered in a form, each
        with the text its drop-down shows.
    :param label: the form's label; ``None``: not in the form (Extra Fields JSON only).
    :param help: the form's description. The default is added to it ("Default: ...") and shown
        as the placeholder on Airflow 2, unless ``describe_default`` is false (the help words it).
    :param section: the form's accordion section (Airflow 3.2+); the default one when ``None``.
    :param secret: a secret: masked in the form and registered with the secrets masker.
    :param describe_default: add "Default: ..." to the help and show the default as the placeholder.
    """

    kind: str = "text"
    minimum: float | None = None
    positive: bool = False
    choices: Mapping[str, str] | None = None
    label: str | None = None
    help: str = ""
    section: str | None = None
    secret: bool = False
    describe_default: bool = True

    @property
    def values(self) -> tuple[str, ...]:
        """The values a ``choice`` accepts."""
        return tuple(self.choices or ())

    @property
    def form_type(self) -> str:
        """The JSON type of the form's field."""
        return FORM_TYPES.get(self.kind, "string")


def setting(
    default: Any = MISSING,
    *,
    factory: Any = MISSING,
    kind: str = "text",
    minimum: float | None = None,
    positive: bool = False,
    choices: Mapping[str, str] | None = None,
    label: str | None = None,
    help: str = "",
    section: str | None = None,
    secret: bool = False,
    describe_default: bool = True,
) -> Any:
    """A settings field declared once: its default (or ``factory``) and its ``Setting``."""
    spec = Setting(kind, minimum, positive, choices, label, help, section, secret, describe_default)
    if factory is not MISSING:
        return field(default_factory=factory, metadata={"setting": spec})
    return field(default=default, metadata={"setting": spec})


def spec_of(item: Field[Any]) -> Setting:
    """The ``Setting`` of a settings field (a plain field is text)."""
    spec = item.metadata.get("setting")
    return spec if isinstance(spec, Setting) else Setting()


def default_of(item: Field[Any]) -> Any:
    """A field's default value (``None`` where it has none)."""
    if item.default is not MISSING:
        return item.default
    return item.default_factory() if item.default_factory is not MISSING else None


#: How a ``flag`` extra may be written in a form.
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _coerce(item: Field[Any], value: Any, *, from_text: bool) -> Any:
    """One extra (``from_text``: as stored in a connection) or hook argument, checked for its kind."""
    name, spec = item.name, spec_of(item)
    kind, minimum, positive = spec.kind, spec.minimum, spec.positive
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
            return _FLAGS.get(text.lower(), text)
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
        if text not in spec.values:
            raise PeakConfigError(f"{name} must be one of {', '.join(spec.values)}; got {value!r}")
        return text
    # text: a JSON form may store numbers; an object or list where text belongs is a mistake.
    if isinstance(value, (Mapping, list)):
        raise PeakConfigError(f"extra {name!r} must be text, got {type(value).__name__}")
    return value if isinstance(value, str) else json.dumps(value)


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


@dataclass(frozen=True, repr=False)
class ConnectionFields:
    """A connection's own fields (everything but its extras); ``repr`` shows no password."""

    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None

    @property
    def base_url(self) -> str | None:
        """The base URL the host, schema and port make; ``None`` without a host."""
        return base_url_from(self.host, self.schema, self.port)

    def __repr__(self) -> str:
        return f"ConnectionFields(host={self.host!r}, login={self.login!r}, password=***)"


@dataclass(frozen=True)
class ConnectionForm:
    """A connection type's form: the extras it shows, in order, and its standard fields.

    :param extras: the settings shown, in this order (the default section's first).
    :param hidden: standard fields the form hides.
    :param relabeling: labels of the standard fields (``host``, ``login``, ``password``).
    :param placeholders: placeholders of the standard fields and of the Extra JSON.
    :param labels: this form's label of a setting shared with other connection types.
    """

    extras: tuple[str, ...]
    hidden: tuple[str, ...]
    relabeling: Mapping[str, str]
    placeholders: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """What every connection of the provider has: a base URL, time-outs, retries and TLS.

    Subclasses add their extras as fields (``setting(...)``) and ``build`` the fields that come from
    the connection's own fields (host, login, password). ``repr`` never shows a secret.
    """

    #: The connection type (and the legacy ``extra__<type>__`` prefix).
    conn_type: ClassVar[str] = ""
    #: The hook that reads it: its name in the UI and its import path.
    hook_name: ClassVar[str] = ""
    hook_class: ClassVar[str] = ""
    #: The connection form.
    form: ClassVar[ConnectionForm | None] = None
    #: Fields filled from the connection's host, login and password, never from extras.
    connection_fields: ClassVar[frozenset[str]] = frozenset({"base_url"})
    #: Extras whose empty value (``""``) means something and is kept; ``null`` still means the default.
    keep_empty: ClassVar[frozenset[str]] = frozenset()

    base_url: str = ""
    timeout: float = setting(
        60.0, kind="number", positive=True, label="Read time-out (s)", help="Seconds to wait for a reply."
    )
    connect_timeout: float = setting(10.0, kind="number", positive=True)
    max_retries: int = setting(
        5,
        kind="count",
        minimum=0,
        label="Max retries",
        help="Retries after the first attempt (429, 502-504, network errors).",
    )
    verify: bool | str = setting(
        True, kind="flag_or_path", label="Verify TLS", help="true, false, or the path of a CA bundle."
    )
    backoff_initial: float = setting(0.5, kind="number", minimum=0)
    backoff_max: float = setting(30.0, kind="number", minimum=0)
    retry_after_floor: float = setting(0.25, kind="number", positive=True)
    retry_after_max: float = setting(120.0, kind="number", positive=True)
    #: The largest successful reply read (error bodies are cut much shorter).
    max_reply_bytes: int = setting(64 * 1024 * 1024, kind="count", minimum=1024)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the connection holds (registered with the masker when it is read): the
        values of its fields declared ``secret``."""
        found = (getattr(self, item.name) for item in fields(self) if spec_of(item).secret)
        return tuple(value for value in found if isinstance(value, str) and value)

    def url(self, path: str) -> str:
        """``path`` under the base URL (an absolute URL as it is)."""
        return join_url(self.base_url, path)

    @property
    def credential_fields(self) -> tuple[str, ...]:
        """The connection's own fields that hold the credentials it sends."""
        return ("password",)

    @property
    def credentials_hint(self) -> str:
        """Where to fix refused credentials: the fields, with the labels the connection form gives
        them (``password ("API key")``)."""
        labels = self.form.relabeling if self.form is not None else {}
        return " and ".join(
            f'{name} ("{labels[name]}")' if name in labels else name for name in self.credential_fields
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, secrets=***)"

    # ------------------------------------------------------------------ reading
    @classmethod
    def extra_specs(cls) -> dict[str, Field[Any]]:
        """The extras the connection reads, by name: its fields, less the ``connection_fields``."""
        return {f.name: f for f in fields(cls) if f.name not in cls.connection_fields}

    @classmethod
    def default(cls, name: str) -> Any:
        """The declared default of the extra ``name``."""
        return default_of(cls.extra_specs()[name])

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
        return cls.build(values, ConnectionFields(host, login or None, password or None, schema, port))

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
        if defaulted:  # a form-saved connection's normal state: not worth a line at INFO
            log.debug(
                'The %s connection leaves %s empty (null, "" or "***"): using the default',
                cls.conn_type,
                ", ".join(sorted(defaulted)),
            )
        return values

    @classmethod
    def build(cls: type[S], values: dict[str, Any], conn: ConnectionFields) -> S:
        """The settings from the extras' ``values`` and the connection's own fields ``conn``."""
        return cls(base_url=conn.base_url or "", **values)


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

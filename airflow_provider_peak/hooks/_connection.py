"""Settings of the ``peak`` and ``peaka`` connections, each read once into a frozen dataclass.

Every assumed wire name of the contract is an extra with a default, so a change on Peak's side is
a connection edit, not a code change. Constructor arguments of the hook beat extras.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ui.forms import PEAKA_CACHE_PATH, PEAKA_HOSTS

DEFAULT_BASE_URL = "https://service.peak.ai"


@dataclass(frozen=True, repr=False)
class TransportFields:
    """Time-outs, retries and TLS of a JSON API connection; each is an extra of the same name."""

    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 5
    verify: bool | str = True
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_floor: float = 0.25
    retry_after_max: float = 120.0

    def check(self, *positive: str) -> None:
        """Refuse settings that cannot work: ``positive`` names (and the time-outs) must be > 0."""
        for name in (*positive, "timeout", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise PeakConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_retries < 0:
            raise PeakConfigError(f"max_retries must be 0 or more, got {self.max_retries!r}")


@dataclass(frozen=True, repr=False)
class PeakSettings(TransportFields):
    """Everything the hook needs from a ``peak`` connection. ``repr`` never shows a secret."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    audience: str | None = None
    # Assumed wire names (see docs/contract.md); each is an extra of the same name.
    token_url: str = "/api/v1/oauth/token"
    tables_path: str = "/api/v1/tables"
    api_key_header: str = "Authorization"
    api_key_prefix: str = ""
    next_token_param: str = "nextToken"
    next_token_key: str = "nextToken"
    records_ingested_key: str = "recordsIngested"
    token_refresh_skew: float = 60.0
    # Documented API limits, configurable for a tenant with other limits.
    max_records: int = 500
    max_bytes: int = 1_000_000
    max_in_flight: int = 30
    #: For the operator extra link; ``{base_url}`` and ``{table}`` are filled in.
    table_url_template: str = "{base_url}/data/tables/{table}"

    @property
    def auth_mode(self) -> str:
        return "oauth" if self.client_id else "api_key"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.client_secret) if s)

    @property
    def absolute_token_url(self) -> str:
        if self.token_url.startswith(("http://", "https://")):
            return self.token_url
        return f"{self.base_url}{self.token_url}"

    def __repr__(self) -> str:
        return f"PeakSettings(base_url={self.base_url!r}, auth_mode={self.auth_mode!r}, secrets=***)"

    @classmethod
    def from_connection(
        cls,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        schema: str | None = None,
        port: int | None = None,
        extra: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> PeakSettings:
        """Build settings from connection fields; ``overrides`` (hook arguments) beat the extras."""
        extra = dict(extra or {})
        known = {f.name: f for f in fields(cls)}
        for legacy in list(extra):
            # The UI of older Airflow stores form fields as ``extra__peak__<name>``.
            if legacy.startswith("extra__peak__"):
                extra.setdefault(legacy.removeprefix("extra__peak__"), extra.pop(legacy))
        auth_type = str(extra.pop("auth_type", "") or "").lower() or None
        unknown = sorted(set(extra) - set(known))
        if unknown:
            raise PeakConfigError(f"unknown extras on the peak connection: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in {**extra, **{k: v for k, v in (overrides or {}).items() if v is not None}}.items():
            if name not in known:
                raise PeakConfigError(f"unknown Peak setting {name!r}")
            values[name] = coerce_extra(name, value, known[name].type)
        values["base_url"] = base_url_from(host, schema, port)
        if auth_type not in (None, "api_key", "oauth"):
            raise PeakConfigError(f"auth_type must be 'api_key' or 'oauth', got {auth_type!r}")
        if not password:
            raise PeakConfigError(
                "the peak connection has no password: put the tenant API key there, "
                "or the OAuth client secret with the client id as login"
            )
        if auth_type == "oauth" or (auth_type is None and login):
            if not login:
                raise PeakConfigError("auth_type is 'oauth' but the connection has no login (client id)")
            values.update(client_id=login, client_secret=password)
        else:
            values["api_key"] = password
        settings = cls(**values)
        settings.check("max_records", "max_bytes", "max_in_flight")
        return settings


def settings_from_connection(settings_cls: Any, conn: Any, overrides: Mapping[str, Any]) -> Any:
    """``settings_cls.from_connection`` on an Airflow connection, with every secret it holds
    registered with Airflow's masker before anything can log it."""
    from airflow_provider_peak.version_compat import mask_secret

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
        mask_secret(secret)
    return settings


def base_url_from(
    host: str | None, schema: str | None, port: int | None, default: str | None = DEFAULT_BASE_URL
) -> str | None:
    """The base URL from a connection's host (with or without scheme and path), schema and port;
    ``default`` when there is no host."""
    if not host:
        return default
    host = host.rstrip("/")
    if "://" not in host:
        # A bare host name: Airflow keeps the scheme in ``schema`` when a URI is parsed.
        host = f"{schema or 'https'}://{host}"
    parts = urlsplit(host)
    if port and parts.port is None:
        host = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}"
    return host


def coerce_extra(name: str, value: Any, annotation: Any) -> Any:
    """Extras typed in the UI arrive as strings: turn them into the field's type."""
    kind = str(annotation)
    try:
        if kind == "bool | str":  # verify: a boolean or a CA bundle path
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            return value
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("a boolean")
            return int(value)
        if kind == "float":
            return float(value)
        if kind in ("str", "str | None"):
            return value if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise PeakConfigError(f"extra {name!r} must be {kind}, got {value!r} ({exc})") from None
    return value


@dataclass(frozen=True, repr=False)
class PeakaSettings(TransportFields):
    """Everything the hook needs from a ``peaka`` connection. ``repr`` never shows the key."""

    base_url: str = PEAKA_HOSTS["us"]
    api_key: str = ""
    project_id: str | None = None
    region: str = "us"
    cache_path: str = PEAKA_CACHE_PATH
    list_caches_path: str = PEAKA_CACHE_PATH
    max_in_flight: int = 4

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    def __repr__(self) -> str:
        return f"PeakaSettings(base_url={self.base_url!r}, project_id={self.project_id!r}, api_key=***)"

    @classmethod
    def from_connection(
        cls,
        *,
        host: str | None,
        password: str | None,
        login: str | None = None,  # unused: the API key is the password
        schema: str | None = None,
        port: int | None = None,
        extra: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> PeakaSettings:
        """Build settings from connection fields; ``overrides`` (hook arguments) beat the extras."""
        extra = {k.removeprefix("extra__peaka__"): v for k, v in (extra or {}).items()}
        known = {f.name: f for f in fields(cls) if f.name not in ("base_url", "api_key")}
        unknown = sorted(set(extra) - set(known))
        if unknown:
            raise PeakConfigError(f"unknown extras on the peaka connection: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        merged = {**extra, **{k: v for k, v in (overrides or {}).items() if v is not None}}
        for name, value in merged.items():
            if value in (None, "") and name != "list_caches_path":
                continue  # an empty form field means "the default"
            values[name] = coerce_extra(name, value, known[name].type)
        region = str(values.get("region", "us")).lower()
        if region not in PEAKA_HOSTS:
            raise PeakConfigError(f"region must be one of {sorted(PEAKA_HOSTS)}, got {region!r}")
        if not password:
            raise PeakConfigError("the peaka connection has no password: put the Peaka API key there")
        values.update(
            region=region, api_key=password, base_url=base_url_from(host, schema, port, PEAKA_HOSTS[region])
        )
        settings = cls(**values)
        settings.check("max_in_flight")
        return settings

"""Settings of a ``peaka`` connection, read once into a frozen dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.forms import PEAKA_CACHE_PATH, PEAKA_HOSTS
from airflow_provider_peak.hooks.settings import TransportFields, base_url_from, coerce_extra


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

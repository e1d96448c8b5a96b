"""The one place that decides an ingest's limits.

A tenant's limits (records and bytes per request, requests in flight) are the ``peak``
connection's ``max_records`` / ``max_bytes`` / ``max_in_flight`` extras, Peak's documented limits
by default. They are a ceiling: a task may ask for less (``max_records=100``, ``max_concurrency=4``),
never for more, and asking for more is an error that names both values.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.utils.checks import check_count

#: Requests in flight a task asks for when it does not say (a third of the tenant's 30, so three
#: tasks share the tenant without 429s).
DEFAULT_MAX_CONCURRENCY = 8
#: The smallest body a request can have: ``[{}]`` plus room for one small record.
MIN_MAX_BYTES = 64


@dataclass(frozen=True)
class IngestLimits:
    """A tenant's ingest limits (Peak's documented ones by default).

    :param where: how messages name where the limits come from; ``connection``: its type (whose
        extras raise them); ``records_name``: what the API calls ``max_records``.
    """

    max_records: int = 500
    max_bytes: int = 1_000_000
    max_in_flight: int = 30
    where: str = "the connection"
    connection: str = "peak"
    records_name: str = "max_records"

    def __post_init__(self) -> None:
        check_count("max_records", self.max_records, minimum=1)
        check_count("max_bytes", self.max_bytes, minimum=MIN_MAX_BYTES)
        check_count("max_in_flight", self.max_in_flight, minimum=1)

    def narrow(
        self,
        *,
        max_records: int | None = None,
        max_bytes: int | None = None,
        max_concurrency: int | None = None,
    ) -> tuple[int, int, int]:
        """``(max_records, max_bytes, max_concurrency)`` for one task: what it asked for, or the
        ceiling (``DEFAULT_MAX_CONCURRENCY`` requests in flight), never above the ceiling."""
        records_name = self.records_name
        records = self._within(records_name, max_records, self.max_records, records_name, 1)
        size = self._within("max_bytes", max_bytes, self.max_bytes, "max_bytes", MIN_MAX_BYTES)
        default = min(DEFAULT_MAX_CONCURRENCY, self.max_in_flight)
        concurrency = self._within(
            "max_concurrency", max_concurrency, self.max_in_flight, "max_in_flight", 1, default
        )
        return records, size, concurrency

    def _within(
        self, name: str, value: int | None, ceiling: int, extra: str, minimum: int, default: int | None = None
    ) -> int:
        if value is None:
            return ceiling if default is None else default
        check_count(name, value, minimum=minimum)
        if value > ceiling:
            raise PeakConfigError(
                f"{name}={value:,} is above {self.where}'s {extra}={ceiling:,} (the tenant's limit): "
                f"lower {name}, or raise the {extra} extra of the {self.connection} connection if the "
                "tenant allows more"
            )
        return value


#: Peak's documented limits.
DOCUMENTED = IngestLimits()

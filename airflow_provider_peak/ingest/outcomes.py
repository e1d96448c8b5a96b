"""What the server did with each request of a load, for every Peak API, and their totals.

An ``IngestOutcome`` is one request's reply read: records accepted, records the server refused
(``failed``: v2 reports them row by row; v1 accepts or refuses a batch as a whole, so it has
none), the count it acknowledged. ``LoadTotals`` adds a load's outcomes up and turns refused
records into ``PeakRowsFailedError``. (The checkpoint keeps how many records of an acknowledged
request failed, by code, so that a retried task that skips the request still reports them:
``checkpoint.Ack``.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_peak.errors import PeakRowsFailedError
from airflow_provider_peak.ingest.record_errors import RowError

__all__ = ["IngestOutcome", "LoadTotals", "RowFailure"]


class _Counts:
    """The default acknowledgement: the accepted and failed records, as counted."""

    def __repr__(self) -> str:
        return "<accepted + failed>"


_COUNTS: Any = _Counts()


@dataclass(frozen=True)
class RowFailure:
    """One record (a v2 row) the server refused.

    :param index: its position in the request, as the server gave it (``None`` if not given).
    :param row: its index in the load's input, when ``index`` could be mapped.
    :param errors: its errors (``RowError.row`` is ``row``, else ``index``, else -1).
    :param data: the row as the server echoed it, if it did (may hold personal data: never log it).
    """

    index: int | None
    row: int | None
    errors: tuple[RowError, ...]
    data: Any = field(default=None, repr=False, compare=False)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.code for e in self.errors))


@dataclass(frozen=True)
class IngestOutcome:
    """What one ingest request did: ``sent`` records, ``accepted`` and ``failed`` ones.

    :param acknowledged: the count the server acknowledged, as it gave it (checked against
        ``sent`` by the sender); by default ``accepted`` plus the failed records.
    """

    sent: int
    accepted: int
    failed: tuple[RowFailure, ...]
    request_id: str | None = None
    dry_run: bool = False
    warnings: tuple[str, ...] = ()
    acknowledged: Any = field(default=_COUNTS, compare=False)

    def __post_init__(self) -> None:
        if self.acknowledged is _COUNTS:
            object.__setattr__(self, "acknowledged", self.accepted + len(self.failed))

    @property
    def by_code(self) -> Counter[str]:
        """Failed rows per error code (a row with two codes counts under both)."""
        return Counter(code for failure in self.failed for code in failure.codes)


@dataclass
class LoadTotals:
    """Outcomes of a load added up: rows sent, accepted and failed, failed rows per code."""

    sent: int = 0
    accepted: int = 0
    failed: int = 0
    requests: int = 0
    dry_run: bool = False
    by_code: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, outcome: IngestOutcome, *, keep_examples: int = 20) -> None:
        self.requests += 1
        self.sent += outcome.sent
        self.accepted += outcome.accepted
        self.failed += len(outcome.failed)
        self.dry_run = self.dry_run or outcome.dry_run
        self.by_code.update(outcome.by_code)
        for failure in outcome.failed:
            if len(self.examples) >= keep_examples:
                break
            self.examples.extend(str(e) for e in failure.errors[:1])

    def error(self) -> PeakRowsFailedError | None:
        """``PeakRowsFailedError`` when any row failed (the message says the others were accepted)."""
        if not self.failed:
            return None
        return PeakRowsFailedError(
            self.failed, self.accepted, dict(self.by_code), self.examples, dry_run=self.dry_run
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rows_sent": self.sent,
            "rows_accepted": self.accepted,
            "rows_failed": self.failed,
            "failed_by_code": dict(self.by_code),
            "dry_run": self.dry_run,
        }

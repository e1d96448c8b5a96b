"""What a load did: one summary for every Peak API, shown under each API's documented names.

``LoadSummary`` holds the counts in one vocabulary (records, batches); ``IngestSummary`` (v1) and
``V2LoadSummary`` (v2) are the same summary under the names each API's XCom and log have always
used (``records_sent``, ``invalid``; ``rows_sent``, ``rows_invalid``, ``requests_resumed``...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["IngestSummary", "LoadSummary", "V2LoadSummary", "aligned_table"]


def aligned_table(rows: Iterable[tuple[str, Any]]) -> str:
    """A summary for the task log: one ``name  value`` line per row, the values aligned."""
    cells = [(name, _cell(value)) for name, value in rows]
    width = max((len(name) for name, _ in cells), default=0)
    return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in cells)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass(kw_only=True)
class LoadSummary:
    """What a load did; returned to XCom as a dict (``as_dict``) under the API's names.

    ``records_accepted`` / ``records_failed`` are the server's verdicts where it gives them per
    record (v2; in a dry run: what it *would* do); ``records_invalid`` are records the client's
    checks kept back. Batches acknowledged by an earlier try are not sent again: their records are
    ``records_resumed`` (and their failed records, from the checkpoint's notes, are in
    ``records_failed`` and the codes); batches built differently from what an earlier try sent are
    ``batches_changed``. ``checkpoint_writes`` and ``checkpoint_seconds`` are the writes of the
    task run's checkpoint (one per acknowledgement at most; concurrent ones share a write) and the
    time they took.
    """

    table: str
    solution: str | None = None
    operation: str | None = None
    dry_run: bool = False
    records_sent: int = 0
    records_accepted: int = 0
    records_failed: int = 0
    records_invalid: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    invalid_by_code: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    bytes_sent: int = 0
    records_resumed: int = 0
    batches_resumed: int = 0
    batches_changed: int = 0
    checkpoint_writes: int = 0
    checkpoint_seconds: float = 0.0
    retries: int = 0
    rate_limited: int = 0
    max_in_flight: int = 0
    min_concurrency: int = 0
    #: Batches Peak acknowledged with another record count than was sent (see the sender).
    unacknowledged_batches: int = 0
    #: Requests started per second while sending (``None`` for fewer than two requests).
    requests_per_second: float | None = None
    seconds: float = 0.0
    dead_letter_path: str | None = None
    #: Lines this try wrote to the dead-letter file (``None`` in ``as_dict`` without one; the Peak
    #: page and the asset event show the same count).
    dead_letters: int = 0

    #: ``(name shown, field)`` in the order shown; the API's views set their own.
    NAMES: ClassVar[tuple[tuple[str, str], ...]] = tuple(
        (name, name)
        for name in (
            "table",
            "solution",
            "operation",
            "dry_run",
            "records_sent",
            "records_accepted",
            "records_failed",
            "records_invalid",
            "failed_by_code",
            "invalid_by_code",
            "requests",
            "bytes_sent",
            "records_resumed",
            "batches_resumed",
            "batches_changed",
            "checkpoint_writes",
            "checkpoint_seconds",
            "retries",
            "rate_limited",
            "max_in_flight",
            "min_concurrency",
            "unacknowledged_batches",
            "requests_per_second",
            "seconds",
            "dead_letter_path",
        )
    )
    #: What the API calls a record (for ``<noun>_per_second``).
    NOUN: ClassVar[str] = "records"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, attribute in self.NAMES:
            value = getattr(self, attribute)
            if attribute in ("seconds", "checkpoint_seconds"):
                value = round(value, 3)
            elif attribute == "requests_per_second" and value is not None:
                value = round(value, 2)
            elif isinstance(value, dict):
                value = dict(value)
            elif attribute == "dead_letters" and self.dead_letter_path is None:
                value = None  # no dead-letter file: not a figure of this load
            out[name] = value
        out[f"{self.NOUN}_per_second"] = round(self.records_sent / self.seconds) if self.seconds > 0 else None
        return out

    def as_table(self) -> str:
        """A short aligned table for the task log: counts first, then records by code."""
        shown = self.as_dict()
        rows: list[tuple[str, Any]] = [
            (k.replace("_", " "), v) for k, v in shown.items() if v is not None and not isinstance(v, dict)
        ]
        for key, counts in shown.items():
            if isinstance(counts, dict) and key.endswith("_by_code"):
                title = key.removesuffix("_by_code")
                for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]:
                    rows.append((f"{title} {code or '(no code)'}", count))
        return aligned_table(rows)


@dataclass(kw_only=True)
class IngestSummary(LoadSummary):
    """What a load into a Peak table (v1) did; returned to XCom as a dict."""

    NAMES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("table", "table"),
        ("records_sent", "records_sent"),
        ("requests", "requests"),
        ("bytes_sent", "bytes_sent"),
        ("invalid", "records_invalid"),
        ("records_resumed", "records_resumed"),
        ("batches_resumed", "batches_resumed"),
        ("batches_changed", "batches_changed"),
        ("checkpoint_writes", "checkpoint_writes"),
        ("checkpoint_seconds", "checkpoint_seconds"),
        ("retries", "retries"),
        ("rate_limited", "rate_limited"),
        ("max_in_flight", "max_in_flight"),
        ("min_concurrency", "min_concurrency"),
        ("unacknowledged_batches", "unacknowledged_batches"),
        ("seconds", "seconds"),
        ("dead_letter_path", "dead_letter_path"),
        ("dead_letters", "dead_letters"),
    )

    @property
    def invalid(self) -> int:
        return self.records_invalid


@dataclass(kw_only=True)
class V2LoadSummary(LoadSummary):
    """What a load into a v2 solution table did; returned to XCom as a dict.

    ``rows_accepted`` / ``rows_failed`` are the server's verdicts (in a dry run: what it *would*
    do); ``rows_invalid`` are rows the client's schema check kept back (or JSON cannot carry).
    Requests acknowledged by an earlier try are not sent again: their rows are ``rows_resumed``,
    and their failed rows (from the checkpoint's notes) are in ``rows_failed`` and the codes;
    requests built differently from what an earlier try sent are ``requests_changed``.
    """

    NAMES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("solution", "solution"),
        ("table", "table"),
        ("operation", "operation"),
        ("dry_run", "dry_run"),
        ("rows_sent", "records_sent"),
        ("rows_accepted", "records_accepted"),
        ("rows_failed", "records_failed"),
        ("rows_invalid", "records_invalid"),
        ("failed_by_code", "failed_by_code"),
        ("invalid_by_code", "invalid_by_code"),
        ("requests", "requests"),
        ("bytes_sent", "bytes_sent"),
        ("requests_resumed", "batches_resumed"),
        ("rows_resumed", "records_resumed"),
        ("requests_changed", "batches_changed"),
        ("checkpoint_writes", "checkpoint_writes"),
        ("checkpoint_seconds", "checkpoint_seconds"),
        ("retries", "retries"),
        ("rate_limited", "rate_limited"),
        ("max_in_flight", "max_in_flight"),
        ("requests_per_second", "requests_per_second"),
        ("seconds", "seconds"),
        ("dead_letter_path", "dead_letter_path"),
        ("dead_letters", "dead_letters"),
    )
    NOUN: ClassVar[str] = "rows"

    @property
    def rows_sent(self) -> int:
        return self.records_sent

    @property
    def rows_accepted(self) -> int:
        return self.records_accepted

    @property
    def rows_failed(self) -> int:
        return self.records_failed

    @property
    def rows_invalid(self) -> int:
        return self.records_invalid

    @property
    def rows_resumed(self) -> int:
        return self.records_resumed

    @property
    def requests_resumed(self) -> int:
        return self.batches_resumed

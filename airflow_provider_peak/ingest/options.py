"""How a load validates, batches and sends records: one options type and one set of checks.

``IngestOptions`` is every API's; ``V2LoadOptions`` is the same options under v2's names and
defaults (``max_rows``; 16 requests in flight, at most 100, as v2 paces its request *rate*; rows
keep their input order across requests; ``UPSERT`` by default). Every argument is checked when the
options are made, so a DAG fails when it is parsed, naming the argument. The limits default to the
connection's and may not exceed them: ``within`` decides them (``ingest.limits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.ingest.dead_letters import check_dead_letter_target
from airflow_provider_peak.ingest.limits import MIN_MAX_BYTES, IngestLimits
from airflow_provider_peak.ingest.types import STRING, ColumnSpec
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire
from airflow_provider_peak.utils.checks import check_count, check_number

__all__ = [
    "ON_CHANGED_INPUT",
    "ON_INVALID",
    "V2_DEFAULT_MAX_CONCURRENCY",
    "V2_MAX_CONCURRENCY",
    "IngestOptions",
    "V2LoadOptions",
]

#: What happens to an invalid record: nothing is sent (``fail``), it is dropped and counted
#: (``skip``), or it is written with its errors to a JSONL file (``dead_letter``).
ON_INVALID = ("fail", "skip", "dead_letter")
#: What a retry does when it builds other batches than an earlier try of the task run sent: send
#: the batches that differ, under new batch ids, with a warning (``warn``), or send nothing and
#: fail (``fail``).
ON_CHANGED_INPUT = ("warn", "fail")
#: The length of a batch id (``batching.Batch.batch_id``) a ``batch_id_column`` must hold.
BATCH_ID_LENGTH = 35
#: Requests in flight a v2 load asks for when it does not say; the pacer, not this, keeps the rate.
V2_DEFAULT_MAX_CONCURRENCY = 16
V2_MAX_CONCURRENCY = 100


@dataclass(frozen=True, kw_only=True)
class IngestOptions:
    """How records are validated, batched and sent.

    The limits default to the connection's (the tenant's ``max_records``, ``max_bytes`` and
    ``DEFAULT_MAX_CONCURRENCY`` requests in flight); asking for more than the connection allows is
    an error (see ``ingest.limits``). ``within`` returns the options with every limit decided.

    :param max_records: records per request (default and ceiling: the connection's).
    :param max_bytes: bytes per request body (default and ceiling: the connection's).
    :param max_concurrency: requests in flight at most.
    :param on_invalid: ``fail``, ``skip`` or ``dead_letter`` (see ``ingest.pipeline``).
    :param dead_letter_path: the JSONL file (local or object storage) of ``dead_letter``.
    :param dead_letter_conn_id: the connection of an object-storage ``dead_letter_path``
        (``ObjectStoragePath``'s ``conn_id``; e.g. an ``aws`` connection for ``s3://``).
    :param batch_id_column: a string column stamped with a deterministic batch id.
    :param on_changed_input: what a retry does when it builds other batches than an earlier try of
        the task run sent: ``warn`` (send those under new batch ids) or ``fail`` (send nothing).
    :param progress_interval: seconds between progress lines.
    :param pack_window: batches kept open for best-fit packing (see ``batching.pack``); 1 keeps the
        input order.
    :param operation: v2 only: ``upsert`` (on the primary key) or ``append``, any letter case.
    :param dry_run: v2 only: send with ``dryRun``: the server validates, nothing is written.
    """

    max_records: int | None = None
    max_bytes: int | None = None
    max_concurrency: int | None = None
    on_invalid: str = "fail"
    dead_letter_path: str | None = None
    dead_letter_conn_id: str | None = None
    batch_id_column: str | None = None
    on_changed_input: str = "warn"
    progress_interval: float = 10.0
    pack_window: int = 16
    operation: Operation | str | None = None
    dry_run: bool = False

    #: The name of ``max_records`` in messages (v2 calls it ``max_rows``).
    RECORDS_NAME: ClassVar[str] = "max_records"
    #: The most requests in flight the options allow, whatever the connection (``None``: its ceiling).
    MAX_CONCURRENCY: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        if self.operation is not None:
            object.__setattr__(self, "operation", Operation.parse(self.operation))
        if not isinstance(self.dry_run, bool):
            raise PeakConfigError(f"dry_run must be true or false, got {self.dry_run!r}")
        if self.on_invalid not in ON_INVALID:
            raise PeakConfigError(
                f"on_invalid must be one of {', '.join(ON_INVALID)}; got {self.on_invalid!r}"
            )
        if self.on_changed_input not in ON_CHANGED_INPUT:
            raise PeakConfigError(
                f"on_changed_input must be one of {', '.join(ON_CHANGED_INPUT)}; "
                f"got {self.on_changed_input!r}"
            )
        if self.on_invalid == "dead_letter" and not self.dead_letter_path:
            raise PeakConfigError('on_invalid="dead_letter" needs dead_letter_path')
        check_dead_letter_target(self.dead_letter_path, self.dead_letter_conn_id)
        if self.max_records is not None:
            check_count(self.RECORDS_NAME, self.max_records, minimum=1)
        if self.max_bytes is not None:
            check_count("max_bytes", self.max_bytes, minimum=MIN_MAX_BYTES)
        if self.max_concurrency is not None:
            check_count("max_concurrency", self.max_concurrency, minimum=1, maximum=self.MAX_CONCURRENCY)
        check_number("progress_interval", self.progress_interval, positive=True)
        check_count("pack_window", self.pack_window, minimum=1)

    def within(self, limits: IngestLimits) -> IngestOptions:
        """These options with every limit decided under ``limits`` (the connection's ceiling)."""
        records, size, concurrency = limits.narrow(
            max_records=self.max_records, max_bytes=self.max_bytes, max_concurrency=self.max_concurrency
        )
        return replace(self, max_records=records, max_bytes=size, max_concurrency=concurrency)

    def check_columns(self, table: str, columns: Sequence[ColumnSpec]) -> None:
        """What the options ask of the table: ``batch_id_column`` is one of its string columns, long
        enough for a batch id."""
        if self.batch_id_column is not None:
            column = next((c for c in columns if c.name == self.batch_id_column), None)
            if column is None or column.type is not STRING:
                raise PeakConfigError(
                    f"batch_id_column {self.batch_id_column!r} must be a string column of table {table!r}"
                )
            if column.max_length is not None and column.max_length < BATCH_ID_LENGTH:
                raise PeakConfigError(
                    f"batch_id_column {self.batch_id_column!r} of table {table!r} holds at most "
                    f"{column.max_length} characters; a batch id has {BATCH_ID_LENGTH}"
                )


@dataclass(frozen=True, kw_only=True, init=False)
class V2LoadOptions(IngestOptions):
    """How rows are checked, packed and sent to a solution table (``IngestOptions`` under v2's
    names and defaults).

    :param operation: ``upsert`` (on the primary key) or ``append``, any letter case.
    :param dry_run: send with ``dryRun``: the server validates, nothing is written.
    :param on_invalid: ``fail``, ``skip`` or ``dead_letter`` (see ``ingest.pipeline``).
    :param dead_letter_path: the JSONL file (local or object storage) of ``dead_letter``.
    :param dead_letter_conn_id: the connection of an object-storage ``dead_letter_path``.
    :param max_rows: rows per request (default and ceiling: the connection's ``max_rows``).
    :param max_bytes: bytes per request body (default and ceiling: the connection's ``max_bytes``).
    :param max_concurrency: requests in flight at most (1..100); the request *rate* is paced.
    :param progress_interval: seconds between progress lines.
    :param batch_id_column: a string column of the table stamped with a deterministic batch id (a
        request's id), so that rows of a request sent twice can be found.
    :param on_changed_input: ``warn`` or ``fail`` (see ``IngestOptions``).
    """

    RECORDS_NAME: ClassVar[str] = "max_rows"
    MAX_CONCURRENCY: ClassVar[int | None] = V2_MAX_CONCURRENCY

    def __init__(
        self,
        *,
        operation: Operation | str | None = Operation.UPSERT,
        dry_run: bool = False,
        on_invalid: str = "fail",
        dead_letter_path: str | None = None,
        dead_letter_conn_id: str | None = None,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        max_concurrency: int | None = V2_DEFAULT_MAX_CONCURRENCY,
        progress_interval: float = 10.0,
        max_records: int | None = None,
        batch_id_column: str | None = None,
        on_changed_input: str = "warn",
        pack_window: int = 1,
    ) -> None:
        super().__init__(
            max_records=max_rows if max_rows is not None else max_records,
            max_bytes=max_bytes,
            max_concurrency=max_concurrency,
            on_invalid=on_invalid,
            dead_letter_path=dead_letter_path,
            dead_letter_conn_id=dead_letter_conn_id,
            batch_id_column=batch_id_column,
            on_changed_input=on_changed_input,
            progress_interval=progress_interval,
            pack_window=pack_window,
            operation=Operation.UPSERT if operation is None else operation,
            dry_run=dry_run,
        )

    @property
    def max_rows(self) -> int | None:
        return self.max_records

    def within(self, limits: IngestLimits | V2Wire) -> V2LoadOptions:  # type: ignore[override]
        """These options with ``max_rows`` / ``max_bytes`` decided under the connection's limits
        (its ``V2Wire``)."""
        if isinstance(limits, V2Wire):
            limits = IngestLimits(
                max_records=limits.max_rows,
                max_bytes=limits.max_bytes,
                max_in_flight=V2_MAX_CONCURRENCY,
                where="the peak_v2 connection",
                connection="peak_v2",
                records_name=self.RECORDS_NAME,
            )
        return super().within(limits)  # type: ignore[return-value]

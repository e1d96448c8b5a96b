"""Every error the provider raises, defined once and without Airflow.

The core (``ingest/``, ``transport/``, the connection reader) raises these and imports nothing of
Airflow, so it runs, and is tested, in a process without it. Each class has a twin of the same
name in ``airflow_provider_peak.exceptions`` that is also an ``AirflowException``: once Airflow is
loaded in the process, constructing a class of this module returns an instance of its twin. So
inside Airflow every error is the class documented in ``exceptions`` (``except
PeakConfigError:`` works with either module's class), an ``AirflowException``, and picklable with
its fields; without Airflow it is the plain class of this module.

The tree (see ``exceptions`` for what each class means)::

    PeakError
    ├── PeakConfigError (ValueError)
    │   ├── SchemaError
    │   │   └── FormatError
    │   ├── SolutionTableNotFoundError
    │   ├── FeedNameError
    │   ├── PeakaSpecError
    │   └── MissingExtraError
    ├── RecordValidationError (ValueError)
    │   └── RowValidationError
    ├── RecordTooLargeError (ValueError)
    ├── StagedConversionError (ValueError)
    ├── PeakRowsFailedError
    ├── PeakConnectionError
    ├── PeakHTTPError
    │   ├── PeakRedirectError, PeakValidationError, PeakAuthError, PeakNotFoundError
    │   ├── PeakConflictError, PeakPayloadTooLargeError, PeakRateLimitError, PeakServerError
    │   └── PeakAuthError > PeakCredentialsError
    ├── PeakAcknowledgementError
    ├── PeakCheckpointError
    ├── PeakChangedInputError
    ├── PeakCancelledError
    ├── PeakRestAuthError
    ├── PeakaCacheFailedError
    ├── PeakaBatchCacheError
    ├── PeakaTriggerUnknownError
    ├── PeakWorkflowFailedError
    ├── PeakWorkflowTimeoutError
    ├── PeakWorkflowStartUnknownError
    ├── FetchProcessError
    └── UnsafePathError

    FeedAborted (BaseException): a signal, not an error (see its docstring)
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any, TypeVar, cast

from airflow_provider_peak.utils.redaction import neutral

_E = TypeVar("_E", bound="PeakError")

#: Each class of this module -> its twin with ``AirflowException`` mixed in (``exceptions``).
_TWINS: dict[type[BaseException], type[BaseException]] = {}
_twins_loaded = False


def register_twin(core: type[PeakError], twin: type[PeakError]) -> None:
    """Make ``core(...)`` construct ``twin`` (a subclass of ``core``), from now on."""
    global _twins_loaded
    if not issubclass(twin, core):
        raise TypeError(f"{twin.__qualname__} is not a subclass of {core.__qualname__}")
    _TWINS[core] = twin
    _twins_loaded = True


def _load_twins() -> None:
    """Register the twins when Airflow is loaded in this process (and ``exceptions`` was not
    imported yet); in a process without Airflow, nothing."""
    global _twins_loaded
    if sys.modules.get("airflow") is None:  # not loaded, or blocked (``sys.modules["airflow"] = None``)
        return
    with contextlib.suppress(ImportError):  # an Airflow too broken to import from: the plain classes
        importlib.import_module("airflow_provider_peak.exceptions")
    _twins_loaded = True


class PeakError(Exception):
    """Base class of every error raised by this provider."""

    def __new__(cls: type[_E], *args: Any, **kwargs: Any) -> _E:
        if not _twins_loaded:
            _load_twins()
        return cast(_E, super().__new__(_TWINS.get(cls, cls), *args, **kwargs))


class PeakConfigError(PeakError, ValueError):
    """A connection or operator argument that cannot work (named in the message)."""


class SchemaError(PeakConfigError):
    """A table or column definition that the Peak API would reject."""


class FormatError(SchemaError):
    """A date/time pattern that cannot be compiled."""


class FeedNameError(PeakConfigError):
    """A feed name that Peak would refuse; ``rule`` is the rule that failed.

    :ivar name: the refused name.
    :ivar rule: ``empty``, ``characters``, ``start``, ``end`` or ``length``.
    """

    def __init__(self, name: object, rule: str, reason: str) -> None:
        self.name = name
        self.rule = rule
        self.reason = reason
        super().__init__(f"invalid feed_name {name!r}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the typed fields when the error crosses a process boundary.
        return (type(self), (self.name, self.rule, self.reason))


class PeakaSpecError(PeakConfigError):
    """A Peaka table spec or schedule that Peaka would refuse (named in the message)."""


class MissingExtraError(PeakConfigError):
    """A feature used without the extra that installs what it needs.

    :ivar extra: the extra to install, as in ``pip install 'airflow-provider-peak[<extra>]'``.
    :ivar feature: what needed it.
    :ivar missing: the modules that could not be found.
    """

    def __init__(self, extra: str, feature: str, missing: tuple[str, ...]) -> None:
        self.extra, self.feature, self.missing = extra, feature, missing
        super().__init__(
            f"{feature} needs the {extra!r} extra: pip install 'airflow-provider-peak[{extra}]' "
            f"(missing: {', '.join(missing)})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.extra, self.feature, self.missing))


class SolutionTableNotFoundError(PeakConfigError):
    """A table that a v2 solution's schema does not list.

    :ivar solution: the solution name.
    :ivar table: the table asked for.
    :ivar available: the full table names the schema lists.
    """

    def __init__(self, solution: str, table: str, available: list[str]) -> None:
        self.solution, self.table, self.available = solution, table, list(available)
        shown = ", ".join(repr(name[:80]) for name in self.available[:20]) or "none"
        more = f" (+{len(self.available) - 20} more)" if len(self.available) > 20 else ""
        super().__init__(f"solution {solution[:80]!r} has no table {table[:80]!r}; its tables: {shown}{more}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.solution, self.table, self.available))


#: How many errors ``RecordValidationError`` lists in its message.
MESSAGE_ERROR_LIMIT = 20


class RecordValidationError(PeakError, ValueError):
    """Records that the Peak API would reject; nothing was sent.

    :ivar errors: the first errors found (``RecordError``: record index, column, value, reason), at
        most the caller's limit (20 by default).
    :ivar count: how many records were invalid in total.
    """

    def __init__(self, errors: list[Any], count: int) -> None:
        self.errors = list(errors)
        self.count = count
        shown = self.errors[:MESSAGE_ERROR_LIMIT]
        head = f"{count:,} invalid record{'s' if count != 1 else ''}"
        if not shown:
            message = head
        else:
            lines = "\n".join(f"  {error}" for error in shown)
            more = ""
            hidden = count - len({e.record for e in shown})
            if hidden > 0:
                more = f"\n  ... and {hidden:,} more invalid record{'s' if hidden != 1 else ''}"
            message = f"{head}; first {len(shown)} error{'s' if len(shown) != 1 else ''}:\n{lines}{more}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors, self.count))


class RowValidationError(RecordValidationError):
    """v2 rows that the solution schema rejects, found before sending; nothing was sent.

    :ivar errors: the first errors (``ingest.v2.rows.RowError``: row, column, code, category, message).
    :ivar count: how many rows were invalid in total.
    """


class RecordTooLargeError(PeakError, ValueError):
    """One encoded record is larger than a request body may be; no packing can send it.

    :ivar record: the record's index in the input.
    :ivar size: its encoded size in bytes.
    :ivar max_bytes: the body limit it exceeds (with the two brackets).
    """

    def __init__(self, record: int, size: int, max_bytes: int) -> None:
        self.record = record
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(
            f"record {record} is {size:,} bytes of JSON; a request body holds at most {max_bytes:,} bytes "
            f"including its brackets, so it can never be sent (shrink the record or raise max_bytes)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.record, self.size, self.max_bytes))


class PeakRowsFailedError(PeakError):
    """Peak's v2 API reported rows in ``failed``; it accepted the other rows of the same requests.

    v2 is not all-or-nothing: good rows are written (or buffered) while bad rows are refused, so
    the rows counted in ``accepted`` stay in Peak.

    :ivar failed: how many rows failed.
    :ivar accepted: how many rows were accepted.
    :ivar by_code: failed rows per error code (a row with two codes counts under both).
    :ivar examples: a few failures as text (row, column, code, message; never a value).
    :ivar dry_run: the requests were dry runs: nothing was written at all.
    """

    def __init__(
        self,
        failed: int,
        accepted: int,
        by_code: dict[str, int],
        examples: list[str] | None = None,
        *,
        dry_run: bool = False,
    ) -> None:
        self.failed, self.accepted, self.by_code = failed, accepted, dict(by_code)
        self.examples, self.dry_run = list(examples or []), dry_run
        total = failed + accepted
        codes = ", ".join(
            f"{neutral(str(code))} x{n:,}" for code, n in sorted(by_code.items(), key=lambda i: -i[1])[:10]
        )
        verb = "would reject" if dry_run else "rejected"
        text = f"Peak {verb} {failed:,} of {total:,} rows" + (f" ({codes})" if codes else "")
        if dry_run:
            text += "; dry run: nothing was written"
        elif accepted:
            text += (
                f"; the other {accepted:,} rows were accepted (v2 ingests the good rows of a request, "
                "so they stay in Peak)"
            )
        if self.examples:
            text += ":\n" + "\n".join(f"  {line}" for line in self.examples[:MESSAGE_ERROR_LIMIT])
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_rows_failed,
            (type(self), self.failed, self.accepted, self.by_code, self.examples, self.dry_run),
        )


def _rebuild_rows_failed(cls: type[PeakRowsFailedError], *args: Any) -> PeakRowsFailedError:
    failed, accepted, by_code, examples, dry_run = args
    return cls(failed, accepted, by_code, examples, dry_run=dry_run)


class PeakConnectionError(PeakError):
    """The API could not be reached (DNS, refused, reset, TLS, time-out) after all retries."""


class PeakHTTPError(PeakError):
    """The API answered with an error status.

    :ivar status: the HTTP status code.
    :ivar method: the request method.
    :ivar path: the request path, query values sanitized.
    :ivar code: the server's error code (``VALIDATION_ERROR``, ``TABLE_NOT_FOUND``...), if any.
    :ivar message: the server's message, truncated.
    :ivar details: the server's details (for validation errors: record, column, reason).
    """

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        message: str = "",
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after
        text = f"{status} {code or 'error'} on {method} {path}"
        if message:
            text += f": {message}"
        if self.details:
            shown = "; ".join(_detail_text(d) for d in self.details[:20])
            more = f" (+{len(self.details) - 20} more)" if len(self.details) > 20 else ""
            text += f" [{shown}{more}]"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the typed fields when the error crosses a process boundary (pickling).
        return (
            _rebuild,
            (
                type(self),
                self.status,
                self.method,
                self.path,
                self.message,
                self.code,
                self.details,
                self.retry_after,
            ),
        )


def _rebuild(cls: type[PeakHTTPError], *args: Any) -> PeakHTTPError:
    status, method, path, message, code, details, retry_after = args
    return cls(status, method, path, message, code=code, details=details, retry_after=retry_after)


def _detail_text(detail: dict[str, Any]) -> str:
    where = [f"record {detail['record']}"] if detail.get("record") is not None else []
    if detail.get("column") is not None:
        where.append(f"column {detail['column']!r}")
    reason = str(detail.get("reason", ""))
    return f"{', '.join(where)}: {reason}" if where else reason


class PeakRedirectError(PeakHTTPError):
    """3xx: the API redirected; the provider never follows (credentials stay with the host)."""


class PeakValidationError(PeakHTTPError):
    """400: the server rejected the request or a record in it; nothing was written."""


class PeakAuthError(PeakHTTPError):
    """401/403: the credentials were refused (after one token refresh for OAuth)."""


class PeakCredentialsError(PeakAuthError):
    """401/403 on a request that carried a connection's credentials, after the one token refresh:
    the message names the connection, the field to fix and the host. Inside Airflow it also fails
    the task without its retries, which would send the same credentials again."""


class PeakNotFoundError(PeakHTTPError):
    """404: the table (or path) does not exist."""


class PeakConflictError(PeakHTTPError):
    """409: the table already exists."""


class PeakPayloadTooLargeError(PeakHTTPError):
    """413: over the per-request record count or byte ceiling."""


class PeakRateLimitError(PeakHTTPError):
    """429: too many requests in flight; ``retry_after`` holds the server's hint in seconds."""


class PeakServerError(PeakHTTPError):
    """5xx: a server-side failure; retried when transient (502, 503, 504)."""


_BY_STATUS: dict[int, type[PeakHTTPError]] = {
    400: PeakValidationError,
    401: PeakAuthError,
    403: PeakAuthError,
    404: PeakNotFoundError,
    409: PeakConflictError,
    413: PeakPayloadTooLargeError,
    429: PeakRateLimitError,
}


def error_class_for(status: int) -> type[PeakHTTPError]:
    """The typed error for an HTTP status."""
    if status >= 500:
        return PeakServerError
    if 300 <= status < 400:
        return PeakRedirectError
    return _BY_STATUS.get(status, PeakHTTPError)


class PeakAcknowledgementError(PeakError):
    """Peak answered 2xx to ingest requests but acknowledged another record count than was sent (or
    one that cannot be read). Those batches are recorded as applied and never sent again by the
    provider: check the table before re-sending them yourself.

    :ivar table: the table.
    :ivar batches: ``(batch id, records sent, acknowledged)`` per batch.
    """

    def __init__(self, table: str, batches: list[tuple[str, int, Any]]) -> None:
        self.table = table
        self.batches = list(batches)
        shown = "; ".join(
            f"batch {batch}: sent {sent}, acknowledged {neutral(str(acked))[:40]}"
            for batch, sent, acked in self.batches[:20]
        )
        more = f" (+{len(self.batches) - 20} more)" if len(self.batches) > 20 else ""
        super().__init__(
            f"Peak acknowledged another record count than was sent for {len(self.batches)} batch"
            f"{'es' if len(self.batches) != 1 else ''} of table {table!r}: {shown}{more}. They are "
            "recorded as applied and were not sent again; check the table before re-sending them"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.table, self.batches))


class PeakCheckpointError(PeakError):
    """The record of the batches Peak acknowledged in this task run (its checkpoint, kept in
    Airflow) cannot be read or written. The load stops rather than send batches that Peak may
    already hold: the message names the record and how to clear it.

    :ivar where: the record (a task state store key or an Airflow Variable).
    :ivar reason: what is wrong with it.
    :ivar remedy: what was done, and how to clear the record.
    """

    def __init__(self, where: str, reason: str, remedy: str) -> None:
        self.where, self.reason, self.remedy = where, reason, remedy
        super().__init__(f"the checkpoint of this load ({where}) {reason}. {remedy}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.where, self.reason, self.remedy))


class PeakChangedInputError(PeakError):
    """A retry of a task run built other batches than an earlier try had sent and Peak had
    acknowledged (``on_changed_input="fail"``); nothing was sent by this try.

    :ivar table: the table.
    :ivar batch: the number of the first batch that differs.
    :ivar detail: how it differs.
    """

    def __init__(self, table: str, batch: int, detail: str) -> None:
        self.table, self.batch, self.detail = table, batch, detail
        super().__init__(
            f"the input of table {table!r} changed between tries of this task run: {detail}. "
            "Nothing was sent by this try (on_changed_input='fail'). Make the input the same on "
            "every try (a fixed order, a snapshot), or pass on_changed_input='warn' to send the "
            "batches that differ under new batch ids"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.table, self.batch, self.detail))


class PeakCancelledError(PeakError):
    """A request that was not started, or was abandoned in flight, because the task is ending
    (its ``execution_timeout`` passed or it was killed): the hook sends nothing more."""


class PeakRestAuthError(PeakError):
    """A REST source's Custom Auth token request failed, or its reply held no token."""


class PeakaCacheFailedError(PeakError):
    """A cache reached FAILED, CANCELLED or DELETED while it was awaited.

    :ivar cache_id: the cache.
    :ivar status: the status it reached.
    """

    def __init__(self, cache_id: str, status: str, message: str) -> None:
        self.cache_id, self.status = cache_id, status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.cache_id, self.status, str(self)))


class PeakaTriggerUnknownError(PeakError):
    """A request to start a Peaka cache run got no clear answer (a 5xx, a lost reply, a missed
    deadline), and no new run of the cache could be found: the run may have started, or be queued.
    Nothing was sent again (a second request could start a second run).

    :ivar cache_id: the cache.
    :ivar mode: ``incremental`` or ``full``.
    """

    def __init__(self, cache_id: str, mode: str, message: str) -> None:
        self.cache_id, self.mode = cache_id, mode
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.cache_id, self.mode, str(self)))


class PeakaBatchCacheError(PeakError):
    """Some tables of a batch got no cache; ``failed`` maps each table to Peaka's error."""

    def __init__(self, failed: dict[str, str], total: int) -> None:
        self.failed, self.total = failed, total
        lines = "\n".join(f"  {table}: {error}" for table, error in failed.items())
        super().__init__(f"{len(failed)} of {total} Peaka caches were not created:\n{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failed, self.total))


class PeakWorkflowFailedError(PeakError):
    """A Peak workflow run ended ``Failed`` or ``Stopped`` (or another status than the one awaited).

    :ivar workflow_id: the workflow.
    :ivar execution_id: the run.
    :ivar status: the status it ended in.
    :ivar failed_steps: the names of its steps that failed.
    """

    def __init__(
        self, workflow_id: str, execution_id: str, status: str, failed_steps: list[str], message: str
    ) -> None:
        self.workflow_id, self.execution_id, self.status = workflow_id, execution_id, status
        self.failed_steps = list(failed_steps)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.workflow_id, self.execution_id, self.status, self.failed_steps, str(self)),
        )


class PeakWorkflowTimeoutError(PeakError):
    """A Peak workflow run did not end in time. Peak has no call to stop a run: it goes on.

    :ivar workflow_id: the workflow.
    :ivar execution_id: the run, still going on in Peak.
    :ivar status: its last status seen.
    """

    def __init__(self, workflow_id: str, execution_id: str, status: str, message: str) -> None:
        self.workflow_id, self.execution_id, self.status = workflow_id, execution_id, status
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.workflow_id, self.execution_id, self.status, str(self)))


class PeakWorkflowStartUnknownError(PeakError):
    """A request to start a Peak workflow run got no answer, and no new run could be found: the run
    may have started. Nothing was sent again (a second request could start a second run).

    :ivar workflow_id: the workflow.
    :ivar requested_at: when the request was sent (ISO 8601, UTC).
    """

    def __init__(self, workflow_id: str, requested_at: str, message: str) -> None:
        self.workflow_id, self.requested_at = workflow_id, requested_at
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.workflow_id, self.requested_at, str(self)))


class FetchProcessError(PeakError):
    """The fetch failed inside the virtualenv (the message holds its traceback), or the virtualenv
    could not be built (the message holds the command to run by hand)."""


class StagedConversionError(PeakError, ValueError):
    """A warehouse refused to convert a feed run's records to the table's columns while staging;
    nothing was committed.

    :ivar warehouse: the warehouse's name (``Snowflake``).
    :ivar column: the column whose type a value does not fit, when it was found.
    :ivar record: a short ``repr`` of one record that does not fit, when it was found.
    """

    def __init__(
        self,
        warehouse: str,
        table: str,
        cause: object,
        column: str | None = None,
        record: str | None = None,
    ) -> None:
        self.warehouse, self.table, self.column, self.record = warehouse, table, column, record
        self.reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        where = f"column {column}" if column else "its columns"
        example = f"; e.g. record {record}" if record else ""
        super().__init__(
            f"{warehouse} could not convert the records to {where} of {table}{example} ({self.reason}). "
            "Nothing was committed by this run: every destination and the feed state are unchanged; "
            "fix the records or the column's type before retrying"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.warehouse, self.table, self.reason, self.column, self.record))


class UnsafePathError(PeakError):
    """A folder or file where the provider keeps state on a worker (virtualenvs, checkpoints,
    locks, spools) could be changed by another local account, or is a symlink; nothing in it was
    used (see ``utils.workdir``).

    :ivar path: the folder or file.
    :ivar reason: why it is not trusted.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(
            f"{self.path!r} {reason}: the provider keeps nothing where another local account could "
            "change it. Fix its owner and mode, or point [peak] work_dir (AIRFLOW__PEAK__WORK_DIR) "
            "at a folder of this worker's user"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))


class FeedAborted(BaseException):
    """Raised inside a REST feed's fetch (at its next ``write``), and by a destination's
    ``StagedRecords.wait_for_commit()``, when the run is stopping because a destination failed; the
    run then fails with that destination's error.

    A signal rather than an error, so not a ``PeakError``: a ``BaseException``, as Airflow's own
    ``AirflowTaskTimeout`` is, so that a fetch script's ``except Exception:`` does not swallow it and
    keep fetching for a run that is over. Let it propagate (clean up in ``finally``).
    """

"""Typed errors raised by the Peak hooks and operators.

Every HTTP failure keeps its status, method, path, the server's error code and details, so callers
branch on the type (never on the message). No message ever carries a credential.
"""

from __future__ import annotations

from typing import Any

from airflow.exceptions import AirflowException


class PeakError(AirflowException):
    """Base class of every error raised by this provider."""


class PeakConfigError(PeakError, ValueError):
    """A connection or operator argument that cannot work (named in the message)."""


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
    where = f"record {detail.get('record')}"
    if detail.get("column") is not None:
        where += f", column {detail['column']!r}"
    return f"{where}: {detail.get('reason', '')}"


class PeakValidationError(PeakHTTPError):
    """400: the server rejected the request or a record in it; nothing was written."""


class PeakAuthError(PeakHTTPError):
    """401/403: the credentials were refused (after one token refresh for OAuth)."""


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
    return _BY_STATUS.get(status, PeakHTTPError)

"""A reply read into a ``Reply``, or mapped to the typed errors of ``errors``: one mapping for the
sync and the async transport.

Every string of every error (message, code, details) is scrubbed of every registered secret, made
one line and truncated; an error body keeps at most ``ERROR_BODY_LIMIT`` bytes. A redirect is an
error naming its status and ``Location``: the provider never follows one. No Airflow import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_peak.errors import (
    PeakConnectionError,
    PeakError,
    PeakHTTPError,
    PeakRedirectError,
    error_class_for,
)
from airflow_provider_peak.transport.retry import parse_retry_after
from airflow_provider_peak.utils.redaction import neutral_value, safe_text, sanitize_url, scrub

#: Bytes of an error body kept for its message; the rest is never read.
ERROR_BODY_LIMIT = 64 * 1024
#: What reading a server's JSON raises: ``ValueError`` for a body that is not JSON,
#: ``RecursionError`` for one nested too deeply (``[[[[...``) to parse or to walk.
UNREADABLE_JSON = (ValueError, RecursionError)


@dataclass
class Reply:
    """A successful reply, read whole (bounded)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# ----------------------------------------------------------------------------- error bodies
#: ``(code, message, details)`` read from an error reply's body.
ErrorFields = tuple[str | None, str | None, list[dict[str, Any]]]


def _detail(item: Any) -> dict[str, Any]:
    """One entry of a server's details, as ``{"record"?, "column"?, "reason"}``."""
    if isinstance(item, Mapping):
        if "msg" in item:  # FastAPI: {"loc": [...], "msg": "...", "type": "..."}
            location = item.get("loc")
            where = ".".join(str(part) for part in location) if isinstance(location, list) else None
            return {"column": where, "reason": str(item["msg"])}
        reason = item.get("reason", item.get("message", item.get("detail", "")))
        out = {
            "record": item.get("record"),
            "column": item.get("column", item.get("field")),
            "reason": reason,
        }
        return {k: v for k, v in out.items() if v is not None}
    return {"reason": str(item)}


def error_fields(payload: Any) -> ErrorFields:
    """The server's words from every error shape the Peak family sends: Peak's
    ``{"error": {"code", "message", "details"}}``, FastAPI's ``{"detail": str | list}``, a gateway's
    ``{"status", "error", "message"}``, ``{"message"}`` and ``{"errors": [...]}``."""
    code: str | None = None
    message: str | None = None
    details: list[dict[str, Any]] = []
    if isinstance(payload, list):
        return None, None, [_detail(item) for item in payload]
    if not isinstance(payload, Mapping):
        return None, str(payload) if payload not in (None, "") else None, []
    error = payload.get("error")
    if isinstance(error, Mapping):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = _text(error.get("message"))
        raw_details = error.get("details")
        if isinstance(raw_details, list):
            details = [_detail(item) for item in raw_details]
    elif isinstance(error, str) and error:
        code = error.upper().replace(" ", "_")
    if isinstance(payload.get("code"), str) and code is None:
        code = payload["code"]
    detail = payload.get("detail")
    if isinstance(detail, list):
        details = details or [_detail(item) for item in detail]
        message = message or "; ".join(str(d.get("reason", "")) for d in details[:5])
    elif detail is not None:
        message = message or _text(detail)
    message = message or _text(payload.get("message"))
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        details = details or [_detail(item) for item in errors]
        message = message or "; ".join(str(d.get("reason", "")) for d in details[:5])
    return code, message, details


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def http_error(
    status: int,
    reason: str,
    body: bytes,
    retry_after_header: str | None,
    method: str,
    path: str,
    secrets: tuple[str, ...] = (),
) -> PeakHTTPError:
    """The typed error for an error reply."""
    text = body.decode("utf-8", errors="replace")
    try:
        # Scrubbed before it is read: a secret holding a quote, a backslash or non-ASCII would no
        # longer match once ``_text`` re-encodes a structured message as (escaped) JSON.
        code, message, details = error_fields(scrub(json.loads(text), secrets))
    except UNREADABLE_JSON:
        code, message, details = None, text.strip() or None, []
    return error_class_for(status)(
        status,
        method,
        sanitize_url(path),
        safe_text(message or reason or "", secrets=secrets),
        code=safe_text(code, 80, secrets=secrets) if code else None,
        details=neutral_value(scrub(details[:100], secrets)),
        retry_after=parse_retry_after(retry_after_header),
    )


def redirect_error(
    status: int, location: str | None, method: str, path: str, secrets: tuple[str, ...] = ()
) -> PeakRedirectError:
    """The error for a 3xx: where it led (its credentials and secret query values masked)."""
    shown = sanitize_url(location or "(no Location)")
    shown = safe_text(shown, 200, secrets=secrets)  # it may echo a credential
    return PeakRedirectError(
        status,
        method,
        sanitize_url(path),
        f"redirected to {shown}; the provider does not follow redirects "
        "(credentials and records stay with the connection's host): set the connection's "
        "Host to the address that answers",
    )


def reply_error(
    service: str, method: str, path: str, *, complete: bool, unreadable: str | None, limit: int
) -> PeakError | None:
    """Why a successful reply's body cannot be used: a refused or corrupt content coding, or more
    than ``limit`` bytes; ``None`` when it was read whole."""
    if unreadable is not None:
        return PeakError(
            f"{service} answered {method} {sanitize_url(path)} with a body the provider "
            f"does not read: {unreadable}"
        )
    if not complete:
        return PeakError(
            f"{service} answered {method} {sanitize_url(path)} with more than "
            f"{limit:,} bytes (the connection's max_reply_bytes); nothing was read"
        )
    return None


def too_slow(service: str, method: str, path: str, seconds: float) -> PeakConnectionError:
    """The error for an exchange that passed its deadline."""
    return PeakConnectionError(
        f"{service} did not reply to {method} {sanitize_url(path)} within {seconds:g} s "
        "(the connection's connect_timeout + timeout)"
    )


def unreachable(
    service: str, method: str, path: str, exc: BaseException, secrets: tuple[str, ...] = ()
) -> PeakConnectionError:
    """The error for a transport failure (its text masked: the client names the URL it failed on)."""
    reason = safe_text(f"{type(exc).__name__}: {exc}", secrets=secrets)
    return PeakConnectionError(f"could not reach {service} for {method} {sanitize_url(path)}: {reason}")


def json_body(service: str, method: str, path: str, body: bytes) -> Any:
    """A successful reply's JSON (``None`` for an empty body); ``PeakError`` if it is not JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except UNREADABLE_JSON:
        raise PeakError(
            f"{service} answered {method} {sanitize_url(path)} with a body that is not JSON"
        ) from None

"""The retry policy of every request the provider sends to Peak, Peak v2 and Peaka, in one place.

* **What is retried**: 429, 502, 503 and 504 replies and transport failures (a missed deadline
  included), never a TLS error; never 400, 401 (the token refresh is the auth's, once), 403, 404,
  409, 413 or 500.
* **A request that must not be repeated** (``idempotent=False``: starting a Peak workflow run or
  a Peaka cache run) is
  retried only when the server surely did not act on it: a 429 (refused), or a connection that was
  never made. A reply lost after the request was sent, a missed deadline or a 5xx may hide a
  request that took effect: the caller decides (``may_have_reached``).
* **How long to wait**: capped exponential back-off with jitter (``backoff_initial`` doubling up
  to ``backoff_max``, a random half to whole of it); a ``Retry-After`` (seconds or an HTTP date) is
  honoured instead, raised to ``retry_after_floor`` (never spin), capped at ``retry_after_max``,
  plus up to ``retry_after_floor`` of jitter. Under a request pacer (Peak v2) a 429 is retried at
  once: the pacer holds every start back for the ``Retry-After`` and slows down, so waiting here
  too would wait twice.
* **How often**: ``max_retries`` retries after the first attempt; a token request is one attempt
  inside the retries of the request that needed it.
* **How much slower after a 429**: ``RATE_LIMIT_DECREASE`` of the request rate (``ingest.pacer``)
  or of the requests in flight (``ingest.sender``), recovering step by step on successes.

The numbers are connection settings (``hooks._connection``); a caller may replace any tenacity
argument (``api_retry_args``). No Airflow import.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import tenacity

from airflow_provider_peak.errors import PeakConnectionError, PeakHTTPError, PeakRateLimitError

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
#: Seconds after a request that may have started a run got no clear answer at which the caller
#: looks for that run (a Peak workflow's runs, a Peaka cache's status), to adopt it.
ADOPT_DELAYS = (0.0, 2.0, 5.0)
#: How a client sending too fast slows down on a 429: its request rate (the v2 pacer) or the
#: requests it keeps in flight (the v1 sender) are multiplied by this; successes bring them back.
RATE_LIMIT_DECREASE = 0.5


def should_retry(exc: BaseException) -> bool:
    """The retry predicate: 429/502/503/504 and transport failures, except TLS errors."""
    if isinstance(exc, PeakHTTPError):
        return exc.status in RETRYABLE_STATUS
    if not isinstance(exc, PeakConnectionError):
        return False
    from requests.exceptions import SSLError  # imported when a failure is judged, not with the core

    return not isinstance(exc.__cause__, SSLError)


def _causes(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and what it wraps: ``__cause__``, and the ``reason`` or first argument that
    ``requests`` and ``urllib3`` keep a lower error in (``MaxRetryError.reason``)."""
    found: list[BaseException] = []
    while exc is not None and all(exc is not seen for seen in found) and len(found) < 10:
        found.append(exc)
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        exc = inner if isinstance(inner, BaseException) else exc.__cause__
    return found


def never_sent(exc: BaseException | None) -> bool:
    """Whether a transport failure happened before any byte of the request left: no connection
    could be made (refused, unknown host, connect time-out), with ``requests`` or ``httpx``."""
    from requests.exceptions import ConnectTimeout, SSLError
    from urllib3.exceptions import NewConnectionError

    causes = _causes(exc.__cause__ if isinstance(exc, PeakConnectionError) else exc)
    if not causes or any(isinstance(cause, SSLError) for cause in causes):
        return False
    for cause in causes:
        if isinstance(cause, (ConnectTimeout, NewConnectionError)):  # NameResolutionError too
            return True
        kind = type(cause)
        if kind.__module__.startswith("httpx") and kind.__name__ in ("ConnectError", "ConnectTimeout"):
            return True
    return False


def should_retry_unsent(exc: BaseException) -> bool:
    """The retry predicate of a request that must not be repeated: a 429 (the server refused it)
    or a connection that was never made."""
    if isinstance(exc, PeakHTTPError):
        return exc.status == 429
    return isinstance(exc, PeakConnectionError) and never_sent(exc)


def may_have_reached(exc: BaseException | None) -> bool:
    """Whether a failed request may have taken effect on the server: a 5xx, a lost reply, a
    missed deadline; not a 4xx (the server answered it) nor a connection never made. An error
    raised while handling such a failure (the look-up of the run an unanswered request may have
    started, or the error saying none was found) may have too: its causes and contexts are
    followed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PeakHTTPError) and exc.status >= 500:
            return True
        if isinstance(exc, PeakConnectionError) and not never_sent(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; ``None`` when absent,
    unreadable, NaN or negative."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class RetrySettings(Protocol):
    """The connection settings the policy reads (``hooks._settings.ConnectionSettings``)."""

    # Read-only members, so that frozen dataclasses satisfy it.
    @property
    def max_retries(self) -> int: ...

    @property
    def backoff_initial(self) -> float: ...

    @property
    def backoff_max(self) -> float: ...

    @property
    def retry_after_floor(self) -> float: ...

    @property
    def retry_after_max(self) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """The policy of one connection (see the module docstring).

    :param paced: a request pacer holds every start back for a 429's ``Retry-After``: the retry
        of a 429 does not wait on its own.
    """

    max_retries: int
    backoff_initial: float
    backoff_max: float
    retry_after_floor: float
    retry_after_max: float
    paced: bool = False

    @classmethod
    def of(cls, settings: RetrySettings, *, paced: bool = False) -> RetryPolicy:
        return cls(
            settings.max_retries,
            settings.backoff_initial,
            settings.backoff_max,
            settings.retry_after_floor,
            settings.retry_after_max,
            paced,
        )

    def wait(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait before retrying after attempt number ``attempt`` (1 for the first)
        failed with ``error``."""
        if self.paced and isinstance(error, PeakRateLimitError):
            return 0.0
        hint = error.retry_after if isinstance(error, PeakHTTPError) else None
        if hint is not None:
            # Honour the server, but never spin: floor it, and cap absurd values.
            base = min(max(hint, self.retry_after_floor), self.retry_after_max)
            return base + random.uniform(0, self.retry_after_floor)
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def wait_for(self, state: tenacity.RetryCallState) -> float:
        """``wait`` as tenacity asks it."""
        error = state.outcome.exception() if state.outcome else None
        return self.wait(state.attempt_number, error)

    def tenacity_args(
        self,
        *,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
        overrides: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` or ``AsyncRetrying``; ``overrides`` win, except
        that a request that must not be repeated (``idempotent=False``) keeps its predicate."""
        args: dict[str, Any] = {
            "retry": tenacity.retry_if_exception(should_retry),
            "stop": tenacity.stop_after_attempt(self.max_retries + 1),
            "wait": self.wait_for,
            "reraise": True,
        }
        if before_sleep is not None:
            args["before_sleep"] = before_sleep
        args.update(overrides or {})
        if not idempotent:
            args["retry"] = tenacity.retry_if_exception(should_retry_unsent)
        return args

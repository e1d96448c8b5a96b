"""The retry policy, in one place: what is retried, how long each wait is, and what a caller's
``api_retry_args`` replace."""

from __future__ import annotations

import pytest
import requests
import tenacity

from airflow_provider_peak import errors
from airflow_provider_peak.transport.retry import RetryPolicy, should_retry

POLICY = RetryPolicy(
    max_retries=3, backoff_initial=0.5, backoff_max=4.0, retry_after_floor=0.25, retry_after_max=120.0
)


def http(status: int, retry_after: float | None = None) -> errors.PeakHTTPError:
    return errors.error_class_for(status)(status, "GET", "/t", retry_after=retry_after)


def connection_error(cause: BaseException) -> errors.PeakConnectionError:
    try:
        raise errors.PeakConnectionError("could not reach Peak") from cause
    except errors.PeakConnectionError as exc:
        return exc


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504])
def test_what_is_retried(status):
    assert should_retry(http(status)) == (status in {429, 502, 503, 504})


def test_transport_failures_are_retried_but_not_tls_errors():
    assert should_retry(connection_error(requests.exceptions.ConnectionError("reset")))
    assert not should_retry(connection_error(requests.exceptions.SSLError("bad certificate")))
    assert not should_retry(ValueError("not a transport error"))


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 10])
def test_back_off_is_jittered_between_half_and_the_whole_capped_ceiling(attempt):
    ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
    waits = [POLICY.wait(attempt, http(503)) for _ in range(200)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert max(waits) - min(waits) > ceiling / 10  # jittered, not fixed


@pytest.mark.parametrize(("hint", "low", "high"), [(0.0, 0.25, 0.5), (3.0, 3.0, 3.25), (1e6, 120.0, 120.25)])
def test_retry_after_is_floored_capped_and_jittered(hint, low, high):
    assert all(low <= POLICY.wait(1, http(429, hint)) <= high for _ in range(50))


def test_under_a_pacer_a_429_is_retried_at_once_and_other_failures_still_back_off():
    paced = RetryPolicy(3, 0.5, 4.0, 0.25, 120.0, paced=True)
    assert paced.wait(1, http(429, 30.0)) == 0.0
    assert 0.25 <= paced.wait(1, http(503)) <= 0.5
    assert 2.0 <= paced.wait(1, http(503, 2.0)) <= 2.25


def test_attempts_and_overrides():
    args = POLICY.tenacity_args()
    assert args["stop"].max_attempt_number == 4 and args["reraise"] is True
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise http(503)

    replaced = POLICY.tenacity_args(overrides={"wait": tenacity.wait_none()})
    with pytest.raises(errors.PeakServerError):
        tenacity.Retrying(**replaced)(fail)
    assert len(calls) == 4


def _raised_while_handling(error: BaseException, handled: BaseException, *, chained: bool) -> BaseException:
    """``error`` as raised in an ``except`` block of ``handled`` (``raise ... from`` when chained)."""
    try:
        try:
            raise handled
        except type(handled):
            if chained:
                raise error from handled
            raise error  # noqa: B904 (its context: handled, as a look-up that fails raises it)
    except type(error) as exc:
        return exc


def test_an_error_raised_while_handling_a_request_that_may_have_reached_may_have_too():
    from airflow_provider_peak.transport.retry import may_have_reached

    assert may_have_reached(http(503)) and not may_have_reached(http(404))
    # The error saying no run of an unanswered request was found, raised from its 5xx.
    unknown = _raised_while_handling(errors.PeakError("no new run found"), http(503), chained=True)
    assert may_have_reached(unknown)
    # A 404 from the look-up of the run, raised while handling the 5xx.
    assert may_have_reached(_raised_while_handling(http(404), http(502), chained=False))
    # Nothing in the chain reached the server: a 4xx, then a 404.
    assert not may_have_reached(_raised_while_handling(http(404), http(400), chained=False))
    assert not may_have_reached(errors.PeakError("no request at all"))

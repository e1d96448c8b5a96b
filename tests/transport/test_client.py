"""One exchange, sync and async: the same server answer gives the same reply or the same typed
error (same message) on the hooks' ``requests`` path and on the triggerer's ``httpx`` path, over
real HTTP on loopback: retries and ``Retry-After``, redirects, deadlines, bounds, content codings,
scrubbing, and credentials kept to their origin."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from typing import Any

import pytest

from airflow_provider_peak import errors
from airflow_provider_peak.hooks._auth import ApiKeyAuth
from airflow_provider_peak.hooks._connection import PeakaSettings
from airflow_provider_peak.transport.client import JsonClient
from tests.fixtures import Answer

KEY = "client-test-key-4f8a2c"


def client(url: str, **extra: Any) -> JsonClient:
    settings = PeakaSettings.from_connection(
        host=url,
        password=KEY,
        extra={"backoff_initial": 0.01, "backoff_max": 0.02, "retry_after_floor": 0.01, **extra},
    )
    return JsonClient(settings, auth=ApiKeyAuth(KEY, settings.base_url, prefix="Bearer "), service="Peaka")


def call(mode: str, made: JsonClient, path: str) -> Any:
    """``GET path`` as JSON, sync or async; the error it raised if it did."""
    try:
        if mode == "sync":
            return made.json("GET", path)

        async def run() -> Any:
            try:
                return await made.ajson("GET", path)
            finally:
                await made.aclose()

        return asyncio.run(run())
    except errors.PeakError as exc:
        return exc
    finally:
        made.close()


def both(url: str, path: str, **extra: Any) -> tuple[Any, Any]:
    return call("sync", client(url, **extra), path), call("async", client(url, **extra), path)


def same_error(sync: Any, asynchronous: Any, kind: type[Exception]) -> Exception:
    assert isinstance(sync, kind) and type(asynchronous) is type(sync)
    assert str(asynchronous) == str(sync)
    return sync


def test_retry_after_is_honoured_then_the_reply_is_read(scripted):
    attempts: list[int] = []

    def answer(seen):
        attempts.append(1)
        if len(attempts) % 2:
            return Answer.json({"error": {"code": "SLOW_DOWN"}}, status=429, **{"Retry-After": "0"})
        return Answer.json({"status": "COMPLETED"})

    server = scripted(answer)
    assert both(server.url, "/c/status") == ({"status": "COMPLETED"}, {"status": "COMPLETED"})
    assert len(server.seen) == 4  # two attempts each


@pytest.mark.parametrize(
    ("answer", "kind", "words", "attempts"),
    [
        (Answer(503, b"busy"), errors.PeakServerError, "503 error on GET /c/status: busy", 3),
        (
            Answer(302, headers={"Location": "https://elsewhere.invalid/x?token=t-123"}),
            errors.PeakRedirectError,
            "redirected to https://elsewhere.invalid/x?token=***",
            1,
        ),
        (Answer.json({"detail": f"bad key {KEY}"}, status=401), errors.PeakAuthError, "bad key ***", 1),
        (Answer(200, b"<html>", {"Content-Type": "text/html"}), errors.PeakError, "body that is not JSON", 1),
        (Answer(200, b"x" * 5000), errors.PeakError, "more than 2,048 bytes", 1),
        (
            Answer(200, gzip.compress(gzip.compress(b"{}")), {"Content-Encoding": "gzip, gzip"}),
            errors.PeakError,
            "stacked content encodings are refused",
            1,
        ),
    ],
    ids=["503-retried", "redirect", "401-scrubbed", "not-json", "too-large", "stacked-gzip"],
)
def test_the_same_answer_is_the_same_error(scripted, answer, kind, words, attempts):
    server = scripted(lambda seen: answer)
    sync, asynchronous = both(server.url, "/c/status", max_retries=2, max_reply_bytes=2048)
    error = same_error(sync, asynchronous, kind)
    assert words in str(error)
    assert len(server.seen) == 2 * attempts
    assert KEY not in str(error)


def test_a_trickling_server_is_cut_at_the_deadline(scripted):
    server = scripted(lambda seen: Answer(200, iter([b" "] * 50), pause=0.1))
    sync, asynchronous = both(server.url, "/c/status", timeout=0.5, connect_timeout=0.2, max_retries=0)
    error = same_error(sync, asynchronous, errors.PeakConnectionError)
    assert "did not reply to GET /c/status within 0.7 s" in str(error)


def test_the_key_goes_to_the_connections_origin_only(scripted):
    other = scripted(lambda seen: Answer.json({}))
    server = scripted(lambda seen: Answer.json({}))
    assert both(server.url, f"{other.url}/x") == ({}, {})
    assert [seen.headers.get("Authorization") for seen in other.seen] == [None, None]
    assert both(server.url, "/x") == ({}, {})
    assert [seen.headers.get("Authorization") for seen in server.seen] == [f"Bearer {KEY}"] * 2


def test_a_pacer_starts_every_attempt_and_hears_of_each_429(scripted):
    class Pacer:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def acquire(self) -> float:
            self.events.append("start")
            return float(len(self.events))

        def on_success(self, started: float | None = None) -> None:
            self.events.append("ok")

        def on_rate_limited(self, retry_after: float | None = None, started: float | None = None) -> None:
            self.events.append(("429", retry_after))

    answers = iter([Answer.json({}, status=429, **{"Retry-After": "30"}), Answer.json({"done": True})])
    server = scripted(lambda seen: next(answers))
    pacer = Pacer()
    made = client(server.url)
    made = JsonClient(made.settings, auth=made.auth, pacer=pacer)
    # The pacer holds the next start back for Retry-After: the retry itself does not wait 30 s.
    assert made.json("GET", "/x") == {"done": True}
    assert pacer.events == ["start", ("429", 30.0), "start", "ok"]


# ----------------------------------------------------------------------------- cancellation
def test_cancel_abandons_the_exchange_in_flight_and_starts_no_other(scripted):
    """A server that holds the request: ``cancel`` from another thread ends it at once (not at the
    20 s deadline), with ``PeakCancelledError``; later requests are refused without being sent."""
    arrived, release = threading.Event(), threading.Event()

    def answer(seen):
        arrived.set()
        release.wait(30)
        return Answer.json({})

    server = scripted(answer)
    made = client(server.url, timeout=20, max_retries=3)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(call("sync", made, "/held")))
    try:
        started = time.monotonic()
        worker.start()
        assert arrived.wait(10)
        made.cancellation.cancel()
        worker.join(10)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert not worker.is_alive() and elapsed < 10
    (error,) = outcome
    assert isinstance(error, errors.PeakCancelledError) and "not sent: the task is ending" in str(error)
    assert len(server.seen) == 1  # no retry of the abandoned request
    later = call("sync", made, "/later")
    assert isinstance(later, errors.PeakCancelledError) and len(server.seen) == 1


def test_cancel_ends_a_back_off_at_once(scripted):
    """A 503 with a long back-off ahead: ``cancel`` ends the wait, and the retry is never sent."""
    answered = threading.Event()

    def answer(seen):
        answered.set()
        return Answer(503)

    server = scripted(answer)
    made = client(server.url, backoff_initial=30, backoff_max=30, max_retries=3)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(call("sync", made, "/busy")))
    worker.start()
    assert answered.wait(10)
    made.cancellation.cancel()
    worker.join(10)
    assert not worker.is_alive()
    assert isinstance(outcome[0], errors.PeakCancelledError) and len(server.seen) == 1

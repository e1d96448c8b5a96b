"""A server's words reach log lines and exceptions on one line, control and formatting characters
written as escapes: an error body cannot forge a task-log line or hide text from the reader."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_peak.exceptions import PeakServerError, PeakValidationError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.hooks.peaka import PeakaHook
from tests.fixtures import FAST_RETRIES, PEAKA_FAST_RETRIES, Answer

FORGED = (
    "busy\n[2026-01-01, 00:00:00 UTC] {taskinstance.py:1225} INFO - Marking task as SUCCESS."
    "\r\x1b[2K\x1b[32mdone\x1b[0m\u202e"
)


def peak(set_conn, url, **extra):
    set_conn(
        "peak_default",
        conn_type="peak",
        host=url,
        password="key-server-text-1",
        extra={**FAST_RETRIES, **extra},
    )
    return PeakHook()


def test_a_forged_log_line_in_an_error_body_stays_on_one_line(scripted, set_conn, caplog):
    server = scripted(lambda seen: Answer(503, FORGED.encode(), {"Content-Type": "text/plain"}))
    caplog.set_level(logging.WARNING)
    with pytest.raises(PeakServerError) as caught:
        peak(set_conn, server.url, max_retries=2).get_table("orders")
    warnings = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(warnings) == 2
    for text in [*warnings, str(caught.value)]:
        assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\u202e" not in text
        assert "busy\\n[2026-01-01, 00:00:00 UTC]" in text and "\\x1b[32mdone" in text and "\\u202e" in text


def test_structured_messages_codes_and_details_are_neutralised(scripted, set_conn):
    body = {
        "error": {
            "code": "BAD\nINFO - Marking task as SUCCESS",
            "message": "line one\nline two",
            "details": [{"record": 0, "column": "id\n", "reason": "no\x1b[31m"}],
        }
    }
    server = scripted(lambda seen: Answer.json(body, status=400))
    with pytest.raises(PeakValidationError) as caught:
        peak(set_conn, server.url).get_table("orders")
    error = caught.value
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert error.code == "BAD\\nINFO - Marking task as SUCCESS"
    assert error.details == [{"record": 0, "column": "id\\n", "reason": "no\\x1b[31m"}]


def test_peaka_run_errors_reach_the_log_on_one_line(scripted, set_conn):
    status = {
        "id": "c-1",
        "status": "FAILED",
        "lastIncrementalCacheExecution": {"id": "r\n2", "status": "FAILED", "error": {"message": FORGED}},
    }
    server = scripted(
        lambda seen: Answer(200, json.dumps(status).encode(), {"Content-Type": "application/json"})
    )
    set_conn(
        "peaka_default",
        conn_type="peaka",
        host=server.url,
        password="peaka-key-server-text",
        extra={"project_id": "p", **PEAKA_FAST_RETRIES},
    )
    found = PeakaHook().get_cache_status("c-1")
    run = found.executions["incremental"]
    assert "\n" not in run.id + (run.error or "") and "\x1b" not in (run.error or "")
    assert "Marking task as SUCCESS" in (run.error or "")

"""``WorkflowExecution``: a run's duration in Peak from the times Peak gives."""

from __future__ import annotations

import pytest

from airflow_provider_peak.models.peak_workflow import WorkflowExecution


@pytest.mark.parametrize(
    ("executed_at", "finished_at", "seconds"),
    [
        ("2026-01-01T00:00:00.000Z", "2026-01-01T00:01:30.500Z", 90.5),
        ("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:02Z", 2.0),  # offsets
        ("2026-01-01T00:00:00", "2026-01-01T00:00:03Z", 3.0),  # no offset: UTC
        ("2026-01-01T00:00:00Z", None, None),  # still running
        ("2026-01-01T00:00:05Z", "2026-01-01T00:00:00Z", None),  # ends before it starts
        ("yesterday", "2026-01-01T00:00:00Z", None),  # not a time
    ],
)
def test_seconds_come_from_peaks_times_or_are_none(executed_at, finished_at, seconds):
    run = WorkflowExecution("1", "e", "Success", executed_at=executed_at, finished_at=finished_at)
    assert run.seconds == seconds
    assert run.summary()["seconds"] == seconds

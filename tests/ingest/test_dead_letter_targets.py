"""Where dead letters go: a local file (private folder, no symlink) or any object storage path with
its connection (``dead_letter_conn_id``); a connection with a local path is a configuration error."""

from __future__ import annotations

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.dead_letters import RECORD_LETTERS, DeadLetterWriter, open_text
from airflow_provider_peak.ingest.options import IngestOptions, V2LoadOptions
from airflow_provider_peak.ingest.record_errors import RecordError


@pytest.mark.parametrize("options", [IngestOptions, V2LoadOptions])
def test_a_connection_with_a_local_path_is_refused_naming_both(options):
    with pytest.raises(PeakConfigError, match="dead_letter_conn_id='aws_moto'") as info:
        options(on_invalid="dead_letter", dead_letter_path="/tmp/dead.jsonl", dead_letter_conn_id="aws_moto")
    assert "'/tmp/dead.jsonl' is a local path" in str(info.value)


@pytest.mark.parametrize("options", [IngestOptions, V2LoadOptions])
def test_a_templated_path_is_checked_once_rendered(options):
    from dataclasses import replace

    parsed = options(
        on_invalid="dead_letter", dead_letter_path="{{ params.where }}", dead_letter_conn_id="aws_moto"
    )
    assert replace(parsed, dead_letter_path="s3://b/dead.jsonl").dead_letter_conn_id == "aws_moto"
    with pytest.raises(PeakConfigError, match="is a local path"):
        replace(parsed, dead_letter_path="dead.jsonl")


def test_open_text_refuses_a_connection_for_a_local_file(tmp_path):
    with pytest.raises(PeakConfigError, match="is a local path"):
        open_text(str(tmp_path / "dead.jsonl"), "aws_moto")
    assert not (tmp_path / "dead.jsonl").exists()


def test_dead_letters_are_written_to_object_storage_with_the_connection(s3):
    url = f"s3://{s3.bucket}/loads/run 1/dead.jsonl"
    with open_text(url, "aws_moto") as stream:
        writer = DeadLetterWriter(stream, RECORD_LETTERS)
        writer.invalid(3, {"id": "x"}, [RecordError(3, "id", None, "not an integer")])
    assert writer.written == 1
    body = s3.get_object(Bucket=s3.bucket, Key="loads/run 1/dead.jsonl")["Body"].read().decode()
    assert body == (
        '{"record_index":3,"errors":[{"column":"id","reason":"not an integer"}],"record":{"id":"x"}}\n'
    )

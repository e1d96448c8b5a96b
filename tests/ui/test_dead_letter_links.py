"""The "Dead letters" link: the object's page in its cloud console, or ``[peak]
dead_letter_url_template``; every part quoted, so no key can move the link to another host or page."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ui.links import PeakDeadLettersLink, dead_letter_figures, dead_letter_url
from tests.fixtures import make_context

S3_PAGE = "https://s3.console.aws.amazon.com/s3/object/"
GCS_PAGE = "https://console.cloud.google.com/storage/browser/_details/"
TEMPLATE_ENV = "AIRFLOW__PEAK__DEAD_LETTER_URL_TEMPLATE"


def test_s3_and_gcs_objects_open_in_their_consoles():
    assert dead_letter_url("s3://letters/loads/2026-12-06/orders.jsonl") == (
        S3_PAGE + "letters?prefix=loads%2F2026-12-06%2Forders.jsonl"
    )
    assert dead_letter_url("gs://letters/loads/orders.jsonl") == GCS_PAGE + "letters/loads/orders.jsonl"
    # As Airflow's ObjectStoragePath reads it, "aws_prod@" names the connection: never in a link.
    assert dead_letter_url("s3://aws_prod@letters/a.jsonl") == S3_PAGE + "letters?prefix=a.jsonl"
    assert dead_letter_url("s3://AKIA:s3cr3t@letters/a.jsonl") == S3_PAGE + "letters?prefix=a.jsonl"


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "/tmp/dead.jsonl",
        "relative/dead.jsonl",
        "file:///tmp/dead.jsonl",
        "local:///tmp/dead.jsonl",
        "memory://bucket/dead.jsonl",
        "abfs://container/dead.jsonl",  # Azure's portal needs the subscription and resource group
        "az://container/dead.jsonl",
        "hdfs://namenode/dead.jsonl",
        "s3://bucket",  # no object
        "s3://bucket/",
        "s3:///key",  # no bucket
        "java script://bucket/key",
        "s3://bucket/\ud800",  # text no object store holds (a lone surrogate)
    ],
)
def test_local_files_and_schemes_without_a_console_have_no_link(path):
    assert dead_letter_url(path) is None


@pytest.mark.parametrize(
    "path",
    ["s3://b/a/../../evil", "gs://b/..", "gs://b/./x", "s3://b/x/.", "s3://../x", "gs://./x"],
)
def test_a_dot_segment_a_browser_would_resolve_away_makes_no_link(path):
    assert dead_letter_url(path) is None
    assert dead_letter_url(path, "https://viewer.example/{bucket}/{path}") is None


@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("a b.jsonl", "a%20b.jsonl"),
        ("what?x=1&y=2", "what%3Fx%3D1%26y%3D2"),
        ("frag#ment", "frag%23ment"),
        ("a..b/c", "a..b%2Fc"),
        ("plus+colon:2026-12-06T12:00:00+00:00", "plus%2Bcolon%3A2026-12-06T12%3A00%3A00%2B00%3A00"),
        ("@evil.example/x", "%40evil.example%2Fx"),
        ("//evil.example/x", "%2F%2Fevil.example%2Fx"),
        ("back\\slash", "back%5Cslash"),
        ("line\r\nbreak", "line%0D%0Abreak"),
        ("%2e%2e/encoded", "%252e%252e%2Fencoded"),
        ("ünï", "%C3%BCn%C3%AF"),
    ],
)
def test_hostile_keys_stay_inside_the_s3_query(key, quoted):
    url = dead_letter_url(f"s3://bucket/{key}")
    assert url == f"{S3_PAGE}bucket?prefix={quoted}"
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "s3.console.aws.amazon.com",
        "/s3/object/bucket",
        "",
    )
    assert parse_qsl(parts.query, keep_blank_values=True) == [("prefix", key)]


KEYS = st.text(min_size=1, max_size=40).filter(lambda k: not {".", ".."} & set(k.split("/")))


@settings(max_examples=300, deadline=None)
@given(key=KEYS, bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True))
def test_no_key_changes_the_host_or_the_page(key, bucket):
    s3 = urlsplit(dead_letter_url(f"s3://{bucket}/{key}"))
    assert (s3.netloc, s3.path, s3.fragment) == ("s3.console.aws.amazon.com", f"/s3/object/{bucket}", "")
    assert parse_qsl(s3.query, keep_blank_values=True) == [("prefix", key)]
    gcs = urlsplit(dead_letter_url(f"gs://{bucket}/{key}"))
    assert (gcs.netloc, gcs.query, gcs.fragment) == ("console.cloud.google.com", "", "")
    prefix = f"/storage/browser/_details/{bucket}/"
    assert gcs.path.startswith(prefix)
    segments = gcs.path[len(prefix) :].split("/")
    assert [unquote(s) for s in segments] == key.split("/")
    # No segment is one a browser resolves (".", "..", or their percent-encoded forms).
    assert not any(re.fullmatch(r"(\.|%2e){1,2}", s, re.IGNORECASE) for s in segments)


def test_the_template_gets_each_field_quoted():
    template = "https://viewer.example/{scheme}/{bucket}/{path}?key={key}"
    url = dead_letter_url("abfs://letters/runs/a b?#.jsonl", template)
    assert url == "https://viewer.example/abfs/letters/runs/a%20b%3F%23.jsonl?key=runs%2Fa%20b%3F%23.jsonl"
    # The template replaces the consoles too.
    assert dead_letter_url("s3://b/k", template) == "https://viewer.example/s3/b/k?key=k"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("https://viewer.example/{base_url}/{key}", "not {base_url}"),
        ("https://viewer.example/{key", "not a valid template"),
        ("javascript:alert(1)//{key}", "must make an http(s) URL"),
        ("{path}", "must make an http(s) URL"),
    ],
)
def test_a_template_that_cannot_make_a_link_names_the_option(template, reason):
    with pytest.raises(PeakConfigError, match=r"\[peak\] dead_letter_url_template") as info:
        dead_letter_url("s3://b/k", template)
    assert reason in str(info.value)


def test_the_link_is_stored_only_when_the_task_wrote_dead_letters():
    context = make_context()
    assert PeakDeadLettersLink.persist(context, "s3://b/dead.jsonl", 0) is None
    assert context["ti"].pushed == {}
    assert PeakDeadLettersLink.persist(context, "/tmp/dead.jsonl", 3) is None
    assert context["ti"].pushed == {}
    url = PeakDeadLettersLink.persist(context, "s3://b/dead.jsonl", 3)
    assert url == S3_PAGE + "b?prefix=dead.jsonl"
    assert context["ti"].pushed == {"peak_dead_letters_url": url}


def test_the_configured_template_is_used_and_a_bad_one_leaves_no_link(monkeypatch, caplog):
    monkeypatch.setenv(TEMPLATE_ENV, "https://minio.example/browser/{bucket}/{path}")
    context = make_context()
    assert PeakDeadLettersLink.persist(context, "s3://b/x y.jsonl", 1) == (
        "https://minio.example/browser/b/x%20y.jsonl"
    )
    monkeypatch.setenv(TEMPLATE_ENV, "ftp://minio.example/{path}")
    assert PeakDeadLettersLink.persist(make_context(), "s3://b/x.jsonl", 1) is None
    assert "dead_letter_url_template must make an http(s) URL" in caplog.text


def test_the_summary_and_the_asset_event_say_where_the_dead_letters_are():
    summary = {"invalid": 2, "dead_letter_path": "s3://b/dead.jsonl"}
    extra = dead_letter_figures(make_context(), "s3://b/dead.jsonl", 2, summary)
    url = S3_PAGE + "b?prefix=dead.jsonl"
    assert summary["dead_letter_url"] == url
    assert extra == {"dead_letters": 2, "dead_letter_path": "s3://b/dead.jsonl", "dead_letter_url": url}
    json.dumps(extra)  # an asset event's extra is JSON
    nothing = {"invalid": 0, "dead_letter_path": "s3://b/dead.jsonl"}
    assert dead_letter_figures(make_context(), "s3://b/dead.jsonl", 0, nothing) == {}
    assert "dead_letter_url" not in nothing

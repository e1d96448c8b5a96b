from __future__ import annotations

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.hooks._connection import PeakSettings


def build(**kwargs):
    base = {"host": "https://peak.example", "login": None, "password": "k"}
    return PeakSettings.from_connection(**{**base, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"base_url": "https://peak.example", "auth_mode": "api_key", "api_key": "k"}),
        ({"host": "peak.example/", "schema": "http", "port": 8080}, {"base_url": "http://peak.example:8080"}),
        (
            {"login": "cid", "password": "sec"},
            {"auth_mode": "oauth", "client_id": "cid", "client_secret": "sec"},
        ),
        ({"extra": {"audience": "aud", "token_url": "https://auth.example/t"}}, {"audience": "aud"}),
        (
            {"extra": {"timeout": "12.5", "max_retries": "2", "verify": "false"}},
            {"timeout": 12.5, "max_retries": 2, "verify": False},
        ),
        ({"extra": {"verify": "/etc/ca.pem"}}, {"verify": "/etc/ca.pem"}),
        (
            {"extra": {"next_token_param": "NextToken", "records_ingested_key": "count"}},
            {"next_token_param": "NextToken", "records_ingested_key": "count"},
        ),
        ({"extra": {"extra__peak__audience": "legacy"}}, {"audience": "legacy"}),
        ({"login": "ignored", "extra": {"auth_type": "api_key"}}, {"auth_mode": "api_key", "api_key": "k"}),
    ],
)
def test_connection_fields_and_extras(kwargs, expected):
    settings = build(**kwargs)
    for key, value in expected.items():
        assert getattr(settings, key) == value


def test_hook_arguments_beat_extras():
    settings = build(extra={"timeout": 5, "max_retries": 9}, overrides={"timeout": 1.0, "max_retries": None})
    assert settings.timeout == 1.0
    assert settings.max_retries == 9


def test_token_url_may_be_relative_or_absolute():
    assert build().absolute_token_url == "https://peak.example/api/v1/oauth/token"
    assert build(extra={"token_url": "https://auth.example/t"}).absolute_token_url == "https://auth.example/t"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"password": None}, "has no password"),
        ({"host": None}, "has no Host: put the base URL"),
        ({"host": "  "}, "has no Host"),
        ({"extra": {"auth_type": "oauth"}}, "no login"),
        ({"extra": {"auth_type": "kerberos"}}, "auth_type must be"),
        ({"extra": {"timeot": 3}}, "unknown extras on the peak connection: timeot"),
        ({"extra": {"max_retries": "many"}}, "extra 'max_retries' must be int"),
        ({"extra": {"max_retries": -1}}, "max_retries must be 0 or more"),
        ({"extra": {"max_bytes": 0}}, "max_bytes must be positive"),
        ({"extra": {"timeout": "nan"}}, "timeout must be a finite number"),
        ({"extra": {"timeout": "inf"}}, "timeout must be a finite number"),
        ({"extra": {"timeout": 0}}, "timeout must be positive"),
        ({"extra": {"connect_timeout": True}}, "'connect_timeout' must be a number"),
        ({"extra": {"max_retries": 2.5}}, "extra 'max_retries' must be int"),
        ({"extra": {"max_retries": True}}, "extra 'max_retries' must be int"),
        ({"extra": {"max_in_flight": "8.5"}}, "extra 'max_in_flight' must be int"),
        ({"extra": {"max_pages": 0}}, "max_pages must be positive"),
        ({"extra": {"extra_headers": "[1, 2]"}}, "extra 'extra_headers' must be a JSON object"),
        ({"extra": {"tables_key": {"a": 1}}}, "extra 'tables_key' must be text"),
    ],
)
def test_bad_connections_say_what_to_fix(kwargs, message):
    with pytest.raises(PeakConfigError, match=message):
        build(**kwargs)


def test_repr_hides_secrets():
    settings = build(login="cid", password="super-secret-value")
    assert "super-secret-value" not in repr(settings)
    assert "super-secret-value" not in repr(build(password="super-secret-value"))


def test_what_a_form_stores_for_an_untouched_field_means_the_default(caplog):
    """Airflow's form saves an empty field as null, and masks defaults of fields named like secrets
    (a stored "***"): both mean "the default", said once in the log at DEBUG."""
    import logging

    with caplog.at_level(logging.DEBUG, logger="airflow_provider_peak"):
        settings = build(
            extra={
                "api_key_header": "***",
                "api_key_prefix": None,
                "next_token_key": "",
                "token_url": "***",
                "timeout": None,
                "max_records": "",
            }
        )
    assert settings.api_key_header == "Authorization" and settings.api_key_prefix == ""
    assert settings.next_token_key == "nextToken" and settings.token_url == "/api/v1/oauth/token"
    assert settings.timeout == 60.0 and settings.max_records == 500
    assert caplog.text.count("using the default") == 1
    assert "api_key_header, api_key_prefix, max_records, next_token_key, timeout, token_url" in caplog.text
    # A form-saved connection's normal state: at DEBUG, never in a task log at INFO.
    assert [r.levelname for r in caplog.records if "using the default" in r.getMessage()] == ["DEBUG"]


def test_hook_arguments_are_strict_too():
    with pytest.raises(PeakConfigError, match="timeout must be a number"):
        build(overrides={"timeout": "12"})
    with pytest.raises(PeakConfigError, match="max_retries must be an integer"):
        build(overrides={"max_retries": 2.0})

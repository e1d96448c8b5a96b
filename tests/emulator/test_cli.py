"""The emulator's command line: its help, the start-up warning, and ``show``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_provider_peak.emulator.__main__ import _serve_parser, _show_parser, main
from airflow_provider_peak.hooks.peak import PeakHook
from tests.fixtures import unique_table


@pytest.mark.parametrize("parser", [_serve_parser(), _show_parser()], ids=["serve", "show"])
def test_every_option_says_its_default(parser):
    for action in parser._actions:
        if action.dest != "help":
            assert action.help and ("default" in action.help or "required" in action.help), action.dest
    text = parser.format_help()
    assert "(default: 8080)" in text or "(default: 20)" in text


def test_the_usage_line_names_both_commands():
    usage = _serve_parser().format_usage()
    assert "[serve] [options]" in usage
    assert "show --url URL [TABLE] [--limit N] [--json]" in usage


def _start(*args: str) -> tuple[str, str]:
    """Start the server, wait for its 'listening' line, stop it; returns (stdout line, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_peak.emulator", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return line, err


def test_start_up_warns_that_without_a_key_every_request_is_401():
    line, err = _start()
    assert "listening on http://127.0.0.1:" in line
    assert "no --api-key or --client given, so Peak's API answers 401" in err


def test_no_warning_with_a_key():
    _, err = _start("--api-key", "k")
    assert "warning" not in err


def test_show_tables_rows_and_a_missing_table(emu, peak_conn, request, capsys):
    peak_conn()
    table = unique_table(request)
    PeakHook().create_table(table, [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}])
    PeakHook().load_records(table, [{"id": i, "note": f"n{i}"} for i in range(5)])

    assert main(["show", "--url", emu.url]) == 0
    assert table in capsys.readouterr().out

    assert main(["show", "--url", emu.url, table.upper(), "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "|", "note"]
    assert len(out) == 4  # header, rule, two rows

    assert main(["show", "--url", emu.url, "never_created"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no table 'never_created' in the emulator" in captured.err
    assert table in captured.err


def test_show_names_an_unreachable_url(capsys):
    assert main(["show", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot read the emulator at http://127.0.0.1:9" in capsys.readouterr().err

"""The emulator's command line: its help, the keys it generates and prints, and ``show``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from airflow_provider_peak.hooks.peak import PeakHook
from peak_emulator.__main__ import _serve_parser, _show_parser, main
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


def _start(*args: str, lines: int = 1) -> tuple[list[str], str]:
    """Start the server, read its first stdout lines, stop it; returns (every stdout line, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "peak_emulator", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        read = [proc.stdout.readline() for _ in range(lines)]
    finally:
        proc.terminate()
        rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return read + rest.splitlines(keepends=True), err


@contextmanager
def _serving(*args: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A running emulator: its URL and the keys it printed (by the API's name)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "peak_emulator", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        keys = {}
        for _ in range(3):
            name, key = re.fullmatch(r"(.+?): (\S+) \(generated; .*\)\n", proc.stdout.readline()).groups()  # type: ignore[union-attr]
            keys[name] = key
        yield url, keys
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_without_keys_it_generates_random_ones_and_prints_them():
    with _serving() as (url, keys):
        peak, peaka = keys["Peak API key"], keys["Peaka API key"]
        v2 = keys["v2 personal access token (tenant demo)"]
        assert len({peak, peaka, v2}) == 3 and all(len(k) >= 20 for k in (peak, peaka, v2))
        assert requests.get(f"{url}/api/v1/tables", headers={"Authorization": peak}, timeout=10).ok
        peaka_url = f"{url}/peaka/api/v1/data/projects/p/cache/status"
        assert requests.get(peaka_url, headers={"Authorization": f"Bearer {peaka}"}, timeout=10).ok
        assert requests.get(f"{url}/api/v2/schema/solutions", headers={"Authorization": v2}, timeout=10).ok
        # The keys this emulator used to accept by default are refused.
        for path, key in [
            ("/api/v1/tables", "demo-api-key"),
            ("/api/v2/schema/solutions", "demo-pat"),
            ("/peaka/api/v1/data/projects/p/cache/status", "Bearer demo-peaka-key"),
        ]:
            assert requests.get(f"{url}{path}", headers={"Authorization": key}, timeout=10).status_code == 401
    with _serving() as (_, again):
        assert set(again.values()).isdisjoint(keys.values())  # new ones on every start


def test_keys_given_are_not_printed():
    lines, err = _start("--api-key", "k", "--peaka-api-key", "pk", "--v2-token", "t:acme")
    assert len(lines) == 1 and "listening on http://127.0.0.1:" in lines[0]
    assert "warning" not in err


def test_an_oauth_client_alone_needs_no_api_key():
    lines, _ = _start("--client", "id:secret", lines=3)
    assert not any("Peak API key" in line for line in lines)
    assert sum("(generated;" in line for line in lines) == 2  # Peaka's and v2's


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

"""The fetch session of a ``requirements=`` virtualenv is the transport's own: its modules load by
path with the standard library and ``requests`` alone (no Airflow, no provider), and the child
builds its session from them, with the worker's origin rules, bounds and one 401 refresh."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_peak.feed import venv
from tests.fixtures import Answer

#: What ``requests`` needs, and nothing else: a virtualenv's site-packages as the child finds it.
REQUESTS_ONLY = ("requests", "urllib3", "idna", "charset_normalizer", "certifi")

#: The child's ``make_session``, run with ``-I -S`` and a path holding ``requests`` alone.
CHILD = """
import importlib.util, json, os, sys
sys.path.insert(0, sys.argv[1])
sys.modules["airflow"] = None
sys.modules["airflow_provider_peak"] = None
spec = importlib.util.spec_from_file_location("child", sys.argv[2])
child = importlib.util.module_from_spec(spec)
spec.loader.exec_module(child)
base, other = sys.argv[3], sys.argv[4]
channel = child.Channel(os.dup(1))
session = child.make_session(
    {
        "base_url": base,
        "headers": {"Authorization": "Bearer old-token-1234", "X-Tenant": "acme"},
        "provider_headers": ["X-Tenant"],
        "refreshable": True,
        "timeout": 5,
        "connect_timeout": 2,
        "max_reply_bytes": 4096,
    },
    channel,
)
import requests
items = session.get("/items")
elsewhere = session.get(other + "/x")
try:
    session.get("/bomb").content
    bomb = "read"
except requests.exceptions.ContentDecodingError as exc:
    bomb = str(exc)
channel.send("D", {
    "items": [items.status_code, items.json(), len(items.history)],
    "elsewhere": elsewhere.status_code,
    "bomb": bomb,
    "session": type(session).__module__ + "." + type(session).__name__,
    "provider": sorted(m for m in sys.modules if m.startswith(("airflow", "_peak")) and sys.modules[m]),
}, flush=True)
"""


def requests_only(folder: Path) -> Path:
    """A folder holding ``requests`` and its dependencies (links to the test's own)."""
    for name in REQUESTS_ONLY:
        module = __import__(name)
        source = Path(module.__file__ or "").parent
        (folder / name).symlink_to(source, target_is_directory=True)
    return folder


def test_the_child_session_needs_only_requests_and_refreshes_once(scripted, tmp_path):
    def answer(seen):
        if seen.path == "/bomb":
            body = gzip.compress(bytes(1024 * 1024))
            return Answer(200, body, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
        if seen.headers.get("Authorization") != "Bearer new-token-5678":
            return Answer.json({"error": "expired"}, status=401)
        return Answer.json({"ok": True})

    source = scripted(answer)
    other = scripted(lambda seen: Answer.json({}))
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            CHILD,
            str(requests_only(tmp_path)),
            str(venv.CHILD),
            source.url,
            other.url,
        ],
        input=json.dumps({"Authorization": "Bearer new-token-5678"}) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PEAK_FEED_TRANSPORT": str(venv.TRANSPORT), "PEAK_FEED_SPOOL": str(venv.SPOOL)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "A{}"  # one refresh asked of the parent
    result = json.loads(lines[-1][1:])
    assert result["items"] == [200, {"ok": True}, 1]
    assert [seen.headers.get("Authorization") for seen in source.seen[:2]] == [
        "Bearer old-token-1234",
        "Bearer new-token-5678",
    ]
    assert source.seen[0].headers["X-Tenant"] == "acme"
    # Another origin gets none of the connection's headers.
    assert result["elsewhere"] == 200
    assert not {"authorization", "x-tenant"} & {name.lower() for name in other.seen[0].headers}
    assert "larger than 4,096 bytes" in result["bomb"]
    assert result["session"] == "_peak_transport.session.RestSession"
    assert "airflow" not in " ".join(result["provider"])
    assert "_peak_transport.session" in result["provider"]


def test_the_worker_hands_fetch_code_the_same_session_class():
    from airflow_provider_peak.hooks import peak_rest
    from airflow_provider_peak.transport import session

    assert peak_rest.RestSession is session.RestSession

"""What the fetch writes is what the destinations get: copied when written, in one JSON form
whether the fetch runs in this process or in a virtualenv's."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_peak.exceptions import RecordValidationError
from airflow_provider_peak.feed.destinations.spool import PartWriter, encode_line
from airflow_provider_peak.feed.stream import OutputStream
from airflow_provider_peak.feed.venv import run_in_venv


def test_nested_values_are_copied_when_written() -> None:
    chunks: list[list[dict[str, Any]]] = []
    stream = OutputStream(chunks.append, chunk_size=10)
    meta: dict[str, Any] = {"page": 0, "tags": []}
    for page in (1, 2, 3):  # one nested dict (and list) reused and changed after each write
        meta["page"] = page
        meta["tags"].append(page)
        stream.write({"id": page, "meta": meta})
    stream.flush()
    (records,) = chunks
    assert [r["meta"] for r in records] == [
        {"page": 1, "tags": [1]},
        {"page": 2, "tags": [1, 2]},
        {"page": 3, "tags": [1, 2, 3]},
    ]


FETCH = """
def fetch(output_stream):
    import datetime, decimal, uuid
    output_stream.write({
        "amount": decimal.Decimal("12.50"),
        "precise": decimal.Decimal("0.1000000000000000055511151231257827"),
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 1, 2),
        "key": uuid.UUID(int=7),
    })
"""


def test_a_virtualenv_fetch_writes_values_as_the_destinations_do(tmp_path: Path) -> None:
    record = {
        "amount": Decimal("12.50"),
        "precise": Decimal("0.1000000000000000055511151231257827"),
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2026, 1, 2),
        "key": uuid.UUID(int=7),
    }
    received: list[Any] = []
    config = {
        "kind": "callable",
        "source": FETCH,
        "name": "fetch",
        "filename": str(tmp_path / "fetch.py"),
        "state": None,
        "context": {},
        "op_kwargs": {},
        "session": None,
    }
    # The child is standard library only: this interpreter runs it as a virtualenv's would.
    run_in_venv(
        Path(sys.executable),
        config,
        write=received.append,
        save=lambda state: None,
        refresh_headers=None,
        logger=logging.getLogger(__name__),
    )
    assert received == [json.loads(encode_line(record))]
    assert received[0]["at"] == "2026-01-02T03:04:05+00:00"  # isoformat, not str()


def test_the_virtualenv_child_loads_its_modules_with_the_standard_library_alone() -> None:
    # -I -S: no site-packages, no PYTHONPATH, no current directory; as in a bare virtualenv.
    from airflow_provider_peak.feed import venv

    code = (
        "import importlib.util, sys\n"
        "for name, path in zip(('a', 'b', 'c', 'd'), sys.argv[1:]):\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    sys.modules[name] = module\n"
        "    spec.loader.exec_module(module)\n"
        "print(sys.modules['a'].encode_line({'x': 1}).decode(), end='')\n"
    )
    paths = [str(venv.SPOOL), str(venv.TRANSPORT / "__init__.py"), str(venv.TRANSPORT / "urls.py")]
    paths.append(str(venv.USER_CODE))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *paths], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"x":1}\n'


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "NaN and infinity have no JSON form"),
        ({"nested": float("inf")}, "NaN and infinity have no JSON form"),
        (object(), "a record holds a object, which has no JSON form"),
    ],
)
def test_a_value_json_cannot_hold_names_the_record_and_the_key(
    tmp_path: Path, value: Any, reason: str
) -> None:
    writer = PartWriter(lambda part: None, directory=tmp_path)
    writer.write({"id": 0, "price": 1.5})
    with pytest.raises(RecordValidationError) as raised:
        writer.write({"id": 1, "price": value})
    (error,) = raised.value.errors
    assert (error.record, error.column, error.reason) == (1, "price", reason)
    writer.discard()

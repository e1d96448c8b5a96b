"""Records to gzipped JSON Lines parts on local disk, handed over one finished part at a time.

The warehouse and S3 destinations stage through this: records are encoded as they arrive and a
part is closed (and given to ``on_part``, which uploads it) when it reaches ``max_records`` or
``max_bytes`` of JSON, so memory use does not depend on the number of records.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where needed at run time: a virtualenv's fetch loads this file alone
    from airflow_provider_peak.exceptions import RecordValidationError

DEFAULT_PART_RECORDS = 250_000
DEFAULT_PART_BYTES = 128 * 1024 * 1024
#: Fast gzip: parts are staging files, read once.
COMPRESSLEVEL = 3


def json_default(value: Any) -> Any:
    """JSON for the Python values a fetch may emit besides plain JSON types."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        # Exact when the float prints back to the same decimal; else keep every digit as text.
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"a record holds a {type(value).__name__}, which has no JSON form")


_encoder = json.JSONEncoder(default=json_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_line(record: Any) -> bytes:
    """One JSON Lines line (with its newline) for ``record``."""
    return (_encoder.encode(record) + "\n").encode("utf-8")


def _unwritable(index: int, record: Any, exc: Exception) -> RecordValidationError:
    """The error for a record ``encode_line`` refused: the first key whose value it refuses."""
    from airflow_provider_peak.exceptions import RecordValidationError
    from airflow_provider_peak.ingest.validation import RecordError, short_repr

    for key, value in record.items() if isinstance(record, dict) else ():
        try:
            _encoder.encode(value)
        except (TypeError, ValueError) as refused:
            reason = str(refused)
            if "not JSON compliant" in reason:  # the standard library's words for NaN and infinity
                reason = "NaN and infinity have no JSON form"
            return RecordValidationError([RecordError(index, str(key), short_repr(value), reason)], 1)
    return RecordValidationError([RecordError(index, None, short_repr(record), str(exc))], 1)


@dataclass
class Part:
    """A finished part: its local path, how many records and uncompressed bytes it holds, its number."""

    path: Path
    number: int
    records: int
    raw_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


class PartWriter:
    """Writes records to ``part-00000.jsonl.gz``, ``part-00001.jsonl.gz``... in ``directory``.

    :param on_part: called with each finished part (upload it; the file is deleted afterwards).
    :param max_records: records per part.
    :param max_bytes: uncompressed JSON bytes per part.
    :param directory: where parts are written (by default a new folder in the private work folder,
        ``utils.workdir``).
    """

    def __init__(
        self,
        on_part: Callable[[Part], None],
        *,
        max_records: int = DEFAULT_PART_RECORDS,
        max_bytes: int = DEFAULT_PART_BYTES,
        directory: str | Path | None = None,
    ) -> None:
        self.on_part = on_part
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._own_dir = directory is None
        if directory is None:
            # Imported here: a virtualenv's fetch loads this file alone, for ``json_default``.
            from airflow_provider_peak.utils.workdir import spool_dir

            directory = spool_dir("peak-feed-")
        self.directory = Path(directory)
        self.parts: list[Part] = []
        self.records = 0
        self._file: IO[bytes] | gzip.GzipFile | None = None
        self._current: Part | None = None

    def write(self, record: Any) -> None:
        """Write one record (the run's record number ``self.records``); a value JSON cannot hold
        is a ``RecordValidationError`` naming the record and the key."""
        try:
            line = encode_line(record)
        except (TypeError, ValueError) as exc:
            raise _unwritable(self.records, record, exc) from None
        if self._current is None:
            self._open()
        assert self._file is not None and self._current is not None
        self._file.write(line)
        self._current.records += 1
        self._current.raw_bytes += len(line)
        self.records += 1
        if self._current.records >= self.max_records or self._current.raw_bytes >= self.max_bytes:
            self._finish()

    def _open(self) -> None:
        number = len(self.parts)
        path = self.directory / f"part-{number:05d}.jsonl.gz"
        # Kept open across ``write`` calls; closed by ``_finish`` or ``discard``.
        self._file = gzip.open(path, "wb", compresslevel=COMPRESSLEVEL)  # noqa: SIM115
        self._current = Part(path, number, 0, 0)

    def _finish(self) -> None:
        if self._file is None or self._current is None:
            return
        self._file.close()
        part, self._file, self._current = self._current, None, None
        self.parts.append(part)
        try:
            self.on_part(part)
        finally:
            part.path.unlink(missing_ok=True)

    def close(self) -> list[Part]:
        """Finish the last part; returns every part."""
        self._finish()
        return self.parts

    def discard(self) -> None:
        """Drop the part being written and the temporary directory (after a failure)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._current is not None:
            self._current.path.unlink(missing_ok=True)
            self._current = None
        if self._own_dir:
            for leftover in self.directory.glob("*"):
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

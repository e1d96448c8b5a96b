"""The spool of a validate-first load: its packed batches on a temporary file until the whole
input has validated, then read back, in order, to be sent.

A batch is written as a header (its number in the load, body length, record count, first record
index, number of record indices, fingerprint), its records' input indices (64-bit) and its body,
exactly as it will be sent.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO

from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.utils.workdir import spool_file

__all__ = ["Spool"]

#: Batch number, body length, record count, first record index, record indices, fingerprint.
_HEAD = struct.Struct("<QQIQI16s")
_INDEX = array("q").itemsize


class Spool:
    """Batches on a temporary file (removed when closed): ``write`` them all, then ``read`` them."""

    def __init__(self) -> None:
        self._file: IO[bytes] = spool_file("peak-spool-")
        self.count = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._file.close()

    def write(self, batches: Iterable[Batch]) -> int:
        """Write every batch; the number written."""
        file = self._file
        for batch in batches:
            head = (batch.index, len(batch.body), batch.count, batch.first_record, len(batch.indices))
            file.write(_HEAD.pack(*head, batch.fingerprint.encode("ascii")))
            file.write(array("q", batch.indices).tobytes())
            file.write(batch.body)
            self.count += 1
        return self.count

    def read(self, run_key: str | None = None) -> Iterator[Batch]:
        """The batches written, in order, with their numbers and fingerprints (``run_key`` as they
        had it)."""
        file = self._file
        file.seek(0)
        for _ in range(self.count):
            index, size, count, first, length, content = _HEAD.unpack(file.read(_HEAD.size))
            indices = array("q")
            indices.frombytes(file.read(length * _INDEX))
            body = file.read(size)
            yield Batch(index, body, count, first, run_key, tuple(indices), content.decode("ascii"))

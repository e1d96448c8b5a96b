"""v2 ingest request bodies: encoded rows packed by rows and bytes, wrapped in the request object.

A body is ``{"solutionName":..,"operationType":..,"data":[rows]}`` (plus ``"dryRun":true`` for a dry
run; ``dryRun`` is left out otherwise, as the oldest revision does not know it). The rows are
packed by ``ingest.batching`` (the pipeline's ``EncodeAndPack``, or ``pack_requests`` for encoded
rows); the wrapper's bytes are taken off its byte budget, so the whole body, as sent, stays within
``max_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import msgspec

from airflow_provider_peak.ingest.batching import Batch, pack
from airflow_provider_peak.ingest.v2.wire import Operation, V2Wire

_DECODE = msgspec.json.Decoder(float_hook=Decimal)


class RequestBody:
    """The fixed part of every body of one load: solution, operation and dry run."""

    def __init__(
        self, solution: str, operation: Operation | str, *, dry_run: bool = False, wire: V2Wire | None = None
    ) -> None:
        wire = wire or V2Wire()
        self.solution = solution
        self.operation = Operation.parse(operation)
        self.dry_run = dry_run
        head: dict[str, object] = {wire.solution_key: solution, wire.operation_key: self.operation.value}
        if dry_run:
            head[wire.dry_run_key] = True
        text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)
        self.prefix = f"{text[:-1]},{json.dumps(wire.data_key, ensure_ascii=False)}:".encode()
        self.suffix = b"}"

    @property
    def overhead(self) -> int:
        """Bytes a body adds around the rows array."""
        return len(self.prefix) + len(self.suffix)

    def wrap(self, data: bytes) -> bytes:
        """The body around an encoded rows array (``[...]``)."""
        return self.prefix + data + self.suffix


class V2Request(Batch):
    """One ingest request: a ``Batch`` under v2's names.

    :param index: 0-based number of the request in the load.
    :param body: the exact body.
    :param rows: the input index of each of its rows, in order (``failed`` indices map through it).
    """

    def __init__(self, index: int, body: bytes, rows: tuple[int, ...]) -> None:
        super().__init__(index, body, len(rows), rows[0] if rows else 0, indices=tuple(rows))

    @property
    def rows(self) -> tuple[int, ...]:
        return self.indices


def records_sent(body: bytes, data_key: str) -> list[Any] | None:
    """The rows of a request body exactly as sent (numbers exact), or ``None`` if unreadable."""
    try:
        sent = _DECODE.decode(body).get(data_key)
    except (msgspec.DecodeError, AttributeError):
        return None
    return sent if isinstance(sent, list) else None


def pack_requests(
    encoded: Iterable[tuple[int, bytes]],
    body: RequestBody,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    wire: V2Wire | None = None,
) -> Iterator[V2Request]:
    """Pack ``(input index, encoded row)`` pairs into requests of at most ``max_rows`` rows and
    ``max_bytes`` bytes of body (defaults: the wire's limits). Rows keep their input order.

    ``RecordTooLargeError`` if one row cannot fit a body on its own (its limit is the byte budget
    of the rows array: ``max_bytes`` less the wrapper).
    """
    wire = wire or V2Wire()
    rows_limit = wire.max_rows if max_rows is None else max_rows
    bytes_limit = (wire.max_bytes if max_bytes is None else max_bytes) - body.overhead
    for batch in pack(encoded, max_records=rows_limit, max_bytes=bytes_limit):
        yield V2Request(batch.index, body.wrap(batch.body), batch.indices)

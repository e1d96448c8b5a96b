"""Pack encoded records into request bodies that respect the ingest limits.

A request body is ``[`` + records joined by ``,`` + ``]``: at most ``max_records`` records (500)
and at most ``max_bytes`` bytes (1,000,000) *as sent*, brackets and commas included. Records
arrive already encoded (``RecordEncoder.encode``), so the size of each is known exactly.

Everything streams: ``pack`` holds at most ``window`` batches being filled, so any number of
records passes through in bounded memory. ``window=1`` keeps the input order across batches;
a larger window lets a record join any of the open batches it fits (best fit), which reaches the
order-free optimum much more closely when records are large. Records inside a batch always keep
their input order; batches are sent concurrently anyway, so their order was never guaranteed.

Validating everything before sending anything: a single pass cannot promise "all or nothing",
since batches before an invalid record may already be out. ``pipeline.ingest_records`` spools the
batches of ``EncodeAndPack(..., on_invalid="fail")`` to a temporary file and sends from it only
once the whole input validated. With ``on_invalid="fail"``, ``EncodeAndPack`` stops producing
batches at the first invalid record, still validates the rest of the input so the error reports
the total count, then raises ``RecordValidationError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_peak.exceptions import RecordTooLargeError, RecordValidationError
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder, RecordError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "ENCODE_ON_INVALID",
    "Batch",
    "EncodeAndPack",
    "RecordTooLargeError",
    "pack",
]

DEFAULT_MAX_RECORDS = 500
DEFAULT_MAX_BYTES = 1_000_000
#: What ``EncodeAndPack`` does with an invalid record: raise (after validating the rest), drop it
#: keeping the first ``error_limit`` errors, or drop it keeping every error.
ENCODE_ON_INVALID = ("fail", "skip", "collect")
#: ``len(b"[]")``: the bytes a body adds around its records.
BRACKETS = 2


@dataclass
class Batch:
    """One request body.

    :param index: 0-based number of the batch in the run.
    :param body: the exact request body: ``[`` + records joined by ``,`` + ``]``.
    :param count: how many records it holds.
    :param first_record: the input index of its first record (indices of skipped invalid records
        are not reused, so a batch's records are not always ``first_record .. first_record+count-1``).
    :param run_key: optional caller key (e.g. a DAG run id) for ``batch_id``.
    """

    index: int
    body: bytes
    count: int
    first_record: int
    run_key: str | None = field(default=None, repr=False, compare=False)
    _id_cache: tuple[bytes, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def batch_id(self) -> str:
        """A deterministic id, the same for the same input on every try.

        With a ``run_key``: ``<first 12 hex of sha256(run_key)>-<index, 9 digits>``. Without: the first
        32 hex digits of ``sha256(index + body)``. Computed on first access (and again if ``body`` is
        replaced).
        """
        cached = self._id_cache
        if cached is not None and cached[0] is self.body:
            return cached[1]
        if self.run_key is not None:
            value = f"{hashlib.sha256(self.run_key.encode()).hexdigest()[:12]}-{self.index:09d}"
        else:
            digest = hashlib.sha256(b"%d:" % self.index)
            digest.update(self.body)
            value = digest.hexdigest()[:32]
        self._id_cache = (self.body, value)
        return value


def _check_limits(max_records: int, max_bytes: int) -> None:
    if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
        raise ValueError(f"max_records must be a positive integer, got {max_records!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < BRACKETS + 2:
        raise ValueError(
            f"max_bytes must be an integer of at least {BRACKETS + 2} (the body [{{}}]), got {max_bytes!r}"
        )


def pack(
    encoded: Iterable[tuple[int, bytes]],
    *,
    max_records: int = DEFAULT_MAX_RECORDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    run_key: str | None = None,
    window: int = 1,
) -> Iterator[Batch]:
    """Pack ``(index, encoded record)`` pairs into ``Batch`` bodies.

    ``window=1`` is greedy in order: a record joins the current batch if the batch stays within
    ``max_records`` and ``len(body) <= max_bytes``; otherwise the batch is emitted and a new one
    starts. No in-order split uses fewer requests (the tests check it against a dynamic-programming
    optimum), and while records are small next to ``max_bytes`` it stays within 2% of the lower
    bound ``max(ceil(n / max_records), ceil(total_bytes / max_bytes))``. With large records it
    cannot: 300-900 KB records under 1 MB rarely pair in order (~1.4x the bound; no packer at all
    can put two records over 500 KB in one request), and a mix of 60 KB records with tiny ones
    costs ~3% in order.

    ``window > 1`` keeps up to ``window`` batches open and puts each record in the fullest one it
    fits (best fit); when none has room and the window is full, the fullest is emitted. That wins
    back most of what order costs (see ``benchmarks/``) for ``window`` MB of memory at most.

    ``RecordTooLargeError`` if one record alone exceeds ``max_bytes - 2``.
    """
    if window > 1:
        yield from _pack_best_fit(encoded, max_records, max_bytes, run_key, window)
        return
    _check_limits(max_records, max_bytes)
    pieces: list[bytes] = []
    size = 0  # len(body) of the batch being filled, brackets and commas included
    first = 0
    number = 0
    for index, body in encoded:
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray)):
                raise TypeError(
                    f"pack() takes (index, bytes) pairs; record {index} is {type(body).__name__} "
                    "(filter out invalid records first)"
                )
            body = bytes(body)
        length = len(body)
        if pieces:
            grown = size + 1 + length
            if grown <= max_bytes and len(pieces) < max_records:
                pieces.append(body)
                size = grown
                continue
            batch = Batch(number, b"[" + b",".join(pieces) + b"]", len(pieces), first, run_key)
            pieces = []
            number += 1
            yield batch
            del batch
        if length + BRACKETS > max_bytes:
            raise RecordTooLargeError(index, length, max_bytes)
        pieces.append(body)
        size = length + BRACKETS
        first = index
    if pieces:
        yield Batch(number, b"[" + b",".join(pieces) + b"]", len(pieces), first, run_key)


class _OpenBatch:
    __slots__ = ("count", "first", "pieces", "size")

    def __init__(self, index: int, body: bytes) -> None:
        self.pieces = [body]
        self.size = len(body) + BRACKETS
        self.count = 1
        self.first = index


def _pack_best_fit(
    encoded: Iterable[tuple[int, bytes]], max_records: int, max_bytes: int, run_key: str | None, window: int
) -> Iterator[Batch]:
    _check_limits(max_records, max_bytes)
    open_batches: list[_OpenBatch] = []
    number = 0
    smallest = max_bytes  # the smallest record seen: a batch with less room than that is done

    def emit(batch: _OpenBatch) -> Batch:
        nonlocal number
        out = Batch(number, b"[" + b",".join(batch.pieces) + b"]", batch.count, batch.first, run_key)
        number += 1
        return out

    for index, body in encoded:
        length = len(body)
        if length + BRACKETS > max_bytes:
            raise RecordTooLargeError(index, length, max_bytes)
        smallest = min(smallest, length)
        fits = [b for b in open_batches if b.count < max_records and b.size + 1 + length <= max_bytes]
        best = max(fits, key=lambda b: b.size) if fits else None
        if best is not None:
            best.pieces.append(body)
            best.size += 1 + length
            best.count += 1
            if best.count == max_records or max_bytes - best.size - 1 < smallest:
                open_batches.remove(best)  # full: no record seen so far could join it
                yield emit(best)
            continue
        if len(open_batches) >= window:
            fullest = max(open_batches, key=lambda b: b.size)
            open_batches.remove(fullest)
            yield emit(fullest)
        fresh = _OpenBatch(index, body)
        if max_bytes - fresh.size - 1 < smallest or max_records == 1:
            yield emit(fresh)
        else:
            open_batches.append(fresh)
    for batch in sorted(open_batches, key=lambda b: b.first):
        yield emit(batch)


class EncodeAndPack:
    """Encode, validate and pack a stream of records; iterate it for ``Batch`` objects.

    Counters are live while iterating and final afterwards: ``records`` (read), ``invalid``,
    ``batches`` and ``bytes`` (yielded), ``errors`` (the first ``error_limit``, or all with
    ``"collect"``).

    :param on_invalid: ``"fail"``: stop yielding at the first invalid record, validate the rest,
        then raise ``RecordValidationError`` (see the module docstring for the all-or-nothing
        recipes); ``"skip"``: drop invalid records, keep the first ``error_limit`` errors;
        ``"collect"``: drop them and keep every error (memory grows with the number of errors).
    :param on_rejected: optional ``callback(index, record, errors)`` for each invalid record, e.g. to
        write a dead-letter file.
    :param run_key: passed to each ``Batch`` for a deterministic ``batch_id``.
    """

    def __init__(
        self,
        schema: TableSchema | RecordEncoder,
        records: Iterable[Any],
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_invalid: str = "fail",
        error_limit: int = 20,
        run_key: str | None = None,
        on_rejected: Callable[[int, Any, list[RecordError]], None] | None = None,
        window: int = 1,
    ) -> None:
        if on_invalid not in ENCODE_ON_INVALID:
            raise ValueError(f"on_invalid must be one of {', '.join(ENCODE_ON_INVALID)}; got {on_invalid!r}")
        _check_limits(max_records, max_bytes)
        self.encoder = schema if isinstance(schema, RecordEncoder) else RecordEncoder(schema)
        self.on_invalid = on_invalid
        self.error_limit = error_limit
        self.max_records, self.max_bytes = max_records, max_bytes
        self.run_key = run_key
        self.on_rejected = on_rejected
        self.window = window
        self._source: Iterable[Any] | None = records
        self.records = 0
        self.invalid = 0
        self.batches = 0
        self.bytes = 0
        self.errors: list[RecordError] = []

    def _valid(self, records: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
        encode = self.encoder.encode
        index = -1
        try:
            for index, record in enumerate(records):
                result = encode(record, index)
                if type(result) is bytes:
                    yield index, result
                    continue
                self._reject(index, record, result)  # type: ignore[arg-type]
                if self.on_invalid == "fail":
                    for later, rest in enumerate(records, index + 1):
                        result = encode(rest, later)
                        if type(result) is not bytes:
                            self._reject(later, rest, result)  # type: ignore[arg-type]
                        index = later
                    return
        finally:
            self.records = index + 1

    def _reject(self, index: int, record: Any, errors: list[RecordError]) -> None:
        self.invalid += 1
        if self.on_invalid == "collect":
            self.errors.extend(errors)
        else:
            room = self.error_limit - len(self.errors)
            if room > 0:
                self.errors.extend(errors[:room])
        if self.on_rejected is not None:
            self.on_rejected(index, record, errors)

    def __iter__(self) -> Iterator[Batch]:
        if self._source is None:
            raise RuntimeError("an EncodeAndPack stream can be iterated only once")
        source, self._source = iter(self._source), None
        for batch in pack(
            self._valid(source),
            max_records=self.max_records,
            max_bytes=self.max_bytes,
            run_key=self.run_key,
            window=self.window,
        ):
            if self.invalid and self.on_invalid == "fail":
                break  # the batch holds records read before the invalid one: do not hand it out
            self.batches += 1
            self.bytes += len(batch.body)
            yield batch
        if self.invalid and self.on_invalid == "fail":
            raise RecordValidationError(self.errors, self.invalid)

"""Pack encoded records into request bodies that respect the ingest limits.

A request body is ``[`` + records joined by ``,`` + ``]``: at most ``max_records`` records (500)
and at most ``max_bytes`` bytes (1,000,000) *as sent*, brackets and commas included. Records
arrive already encoded (``RecordEncoder.encode``), so the size of each is known exactly.

Everything streams: ``pack`` holds at most ``window`` batches' worth of records, so any number of
records passes through in bounded memory. ``window=1`` keeps the input order across batches.
A larger window packs the records it holds by size (first-fit decreasing, largest first, ties by
input index) and sends the batches that later records could not improve; that comes within about
1% of packing the whole input at once when records are large, where order costs 40%. It is a
function of the input alone, so a retried task rebuilds the same batches (the checkpoint skips
acknowledged ones by position and fingerprint). Records inside a batch always keep their input order;
batches are sent concurrently anyway, so their order was never guaranteed.

Validating everything before sending anything: a single pass cannot promise "all or nothing",
since batches before an invalid record may already be out. ``pipeline.ingest_records`` spools the
batches of ``EncodeAndPack(..., on_invalid="fail")`` to a temporary file and sends from it only
once the whole input validated. With ``on_invalid="fail"``, ``EncodeAndPack`` stops producing
batches at the first invalid record, still validates the rest of the input so the error reports
the total count, then raises ``RecordValidationError``.

``EncodeAndPack`` reads records in blocks and encodes each block with
``RecordEncoder.encode_many`` (the columnar path). A block of a generator's records is read ahead
of encoding, so a dict record is copied as it is read: a generator that reuses and refills one dict
still gets each state encoded. (Nested values are not copied: a generator must not change a value
it has already yielded.)
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, islice, repeat
from operator import add
from typing import Any

from airflow_provider_peak.errors import RecordTooLargeError
from airflow_provider_peak.ingest.checkpoint import fingerprint
from airflow_provider_peak.ingest.record_errors import RecordError
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "ENCODE_ON_INVALID",
    "Batch",
    "EncodeAndPack",
    "Packer",
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
    :param indices: the input index of each of its records, in order (``Packer`` fills them in).
    :param content: its fingerprint, when it is not the body's own (the pipeline takes a batch's
        fingerprint before it writes the batch's id into the body); ``None``: the body's.
    """

    index: int
    body: bytes
    count: int
    first_record: int
    run_key: str | None = field(default=None, repr=False, compare=False)
    indices: tuple[int, ...] = field(default=(), repr=False, compare=False)
    content: str | None = field(default=None, repr=False, compare=False)
    _id_cache: tuple[bytes, str] | None = field(default=None, init=False, repr=False, compare=False)
    _fp_cache: tuple[bytes, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """What the batch holds (``checkpoint.fingerprint``): the same records give the same
        fingerprint on every try. Computed on first access (and again if ``body`` is replaced)."""
        if self.content is not None:
            return self.content
        cached = self._fp_cache
        if cached is not None and cached[0] is self.body:
            return cached[1]
        value = fingerprint(self.body)
        self._fp_cache = (self.body, value)
        return value

    @property
    def key(self) -> str:
        """``"<index>:<fingerprint>"`` (``checkpoint.batch_key`` of its body when ``content`` is
        not set): the same position and the same records."""
        return f"{self.index}:{self.fingerprint}"

    @property
    def batch_id(self) -> str:
        """A deterministic id: the same for the same records on every try, another for other records.

        With a ``run_key``: ``<first 12 hex of sha256(run_key)>-<index, 9 digits>-<first 12 hex of
        the fingerprint>``. Without: the first 32 hex digits of ``sha256(index + body)``. Computed
        on first access (and again if ``body`` is replaced).
        """
        cached = self._id_cache
        if cached is not None and cached[0] is self.body:
            return cached[1]
        if self.run_key is not None:
            run = hashlib.sha256(self.run_key.encode()).hexdigest()[:12]
            value = f"{run}-{self.index:09d}-{self.fingerprint[:12]}"
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

    ``window > 1`` holds up to ``window * max_bytes`` bytes (or ``window * max_records`` records)
    and packs them by size (see ``Packer``): within about 1% of first-fit-decreasing over the whole
    input, for ``window`` MB of memory at most.

    ``RecordTooLargeError`` if one record alone exceeds ``max_bytes - 2``.
    """
    packer = Packer(max_records=max_records, max_bytes=max_bytes, run_key=run_key, window=window)
    for index, body in encoded:
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray)):
                raise TypeError(
                    f"pack() takes (index, bytes) pairs; record {index} is {type(body).__name__} "
                    "(filter out invalid records first)"
                )
            body = bytes(body)
        try:
            batches = packer.add(index, body)
        except _Oversized as oversized:
            yield from oversized.batches
            raise oversized.error from None
        yield from batches
    yield from packer.finish()


#: A record waiting in a window: its input index and its encoded bytes.
Member = tuple[int, bytes]


class _Bin:
    """A batch being planned: its body length so far, its record count and its records."""

    __slots__ = ("count", "members", "size")

    def __init__(self, member: Member, length: int) -> None:
        self.size = length + BRACKETS
        self.count = 1
        self.members = [member]

    def add(self, member: Member, length: int) -> None:
        self.size += 1 + length
        self.count += 1
        self.members.append(member)


class _Oversized(Exception):
    """Raised by ``Packer`` for a record that can never fit, with the batches completed before it."""

    def __init__(self, batches: list[Batch], error: RecordTooLargeError) -> None:
        super().__init__(str(error))
        self.batches = batches
        self.error = error


class Packer:
    """Packs records into batches incrementally: ``add`` or ``add_many`` records, then ``finish``.

    Each call returns the batches it completed, numbered in the order they are returned. The result
    depends only on the sequence of records, not on how it was split into calls.
    """

    #: A window of records no larger than ``max_bytes / SMALL`` is cut in input order: it then wastes
    #: less than 1/SMALL of a batch, and sorting would only cost time.
    SMALL = 64
    #: A batch at least this full goes out at once.
    FULL = 0.99
    #: Open batches are kept up to this share of the window; beyond it the least promising go out.
    KEEP = 0.9

    def __init__(
        self,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        run_key: str | None = None,
        window: int = 1,
    ) -> None:
        _check_limits(max_records, max_bytes)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.max_records, self.max_bytes, self.run_key, self.window = max_records, max_bytes, run_key, window
        self.number = 0
        # window == 1: the batch being filled (pieces, body length so far, their indices).
        self._pieces: list[bytes] = []
        self._size = 0
        self._indices: list[int] = []
        # window > 1: the records held, their sizes (length + 1 comma) and the smallest seen so far.
        self._held: list[int] = []  # indices
        self._held_bodies: list[bytes] = []
        self._held_sizes: list[int] = []
        self._held_bytes = 0
        self._smallest = max_bytes

    # ------------------------------------------------------------------ feeding
    def add(self, index: int, body: bytes) -> list[Batch]:
        """Add one record; the batches it completed (``add_many`` for one record, faster)."""
        length = len(body)
        if length + BRACKETS > self.max_bytes:
            return self.add_many((index,), (body,))  # raises _Oversized
        if self.window > 1:
            self._held.append(index)
            self._held_bodies.append(body)
            self._held_sizes.append(length)
            self._held_bytes += length + 1
            if length < self._smallest:
                self._smallest = length
            if (
                self._held_bytes >= self.window * self.max_bytes
                or len(self._held) >= self.window * self.max_records
            ):
                out: list[Batch] = []
                self._flush(out, final=False)
                return out
            return []
        pieces = self._pieces
        if pieces:
            grown = self._size + 1 + length
            if grown <= self.max_bytes and len(pieces) < self.max_records:
                pieces.append(body)
                self._indices.append(index)
                self._size = grown
                return []
            done = [self._batch(pieces, self._indices)]
        else:
            done = []
        self._pieces, self._size, self._indices = [body], length + BRACKETS, [index]
        return done

    def add_many(self, indices: Sequence[int], bodies: Sequence[bytes]) -> list[Batch]:
        """Add records in order (``indices[i]`` is the input index of ``bodies[i]``)."""
        sizes = list(map(len, bodies))
        if not sizes:
            return []
        out: list[Batch] = []
        limit = self.max_bytes - BRACKETS
        if max(sizes) > limit:  # pack what comes before the record that can never fit, then say so
            at = next(i for i, size in enumerate(sizes) if size > limit)
            out = self.add_many(indices[:at], bodies[:at])
            if self.window == 1 and self._pieces:  # in order, the batch before it is complete
                out.append(self._batch(self._pieces, self._indices))
                self._pieces = []
            raise _Oversized(out, RecordTooLargeError(indices[at], sizes[at], self.max_bytes))
        if self.window == 1:
            self._in_order(indices, bodies, sizes, out)
        else:
            self._hold(indices, bodies, sizes, out)
        return out

    def finish(self) -> list[Batch]:
        """The batches still open."""
        out: list[Batch] = []
        if self.window == 1:
            if self._pieces:
                out.append(self._batch(self._pieces, self._indices))
                self._pieces = []
        elif self._held:
            self._flush(out, final=True)
        return out

    # ------------------------------------------------------------------ window == 1
    def _in_order(
        self, indices: Sequence[int], bodies: Sequence[bytes], sizes: list[int], out: list[Batch]
    ) -> None:
        max_bytes, max_records = self.max_bytes, self.max_records
        # ends[i]: the bytes records 0..i-1 add to a body (each its length plus one comma).
        ends = list(accumulate(map(add, sizes, repeat(1)), initial=0))
        n, i = len(sizes), 0
        while i < n:
            if not self._pieces:
                self._pieces, self._size, self._indices = [bodies[i]], sizes[i] + BRACKETS, [indices[i]]
                i += 1
                continue
            # As many of the next records as fit, by bisection over the running totals.
            room = max_bytes - self._size
            last = min(n, i + max_records - len(self._pieces))
            end = bisect_right(ends, ends[i] + room, i, last + 1) - 1
            if end > i:
                self._pieces.extend(bodies[i:end])
                self._indices.extend(indices[i:end])
                self._size += ends[end] - ends[i]
                i = end
            if i < n:  # the next record does not fit: this batch is done
                out.append(self._batch(self._pieces, self._indices))
                self._pieces = []

    # ------------------------------------------------------------------ window > 1
    def _hold(
        self, indices: Sequence[int], bodies: Sequence[bytes], sizes: list[int], out: list[Batch]
    ) -> None:
        capacity_bytes = self.window * self.max_bytes
        capacity_records = self.window * self.max_records
        # ends[i]: the bytes the first i records add (each its length plus a comma).
        ends = list(accumulate(map(add, sizes, repeat(1)), initial=0))
        i, n = 0, len(sizes)
        while i < n:
            # Take records until the window is full (by bytes or by count), then pack it.
            by_bytes = bisect_left(ends, capacity_bytes - self._held_bytes + ends[i], i + 1)
            end = min(n, by_bytes, i + capacity_records - len(self._held))
            # The smallest record *held*: one still to come must not change how this window is
            # settled, or a retry that reads the input in other blocks would build other batches.
            self._smallest = min(self._smallest, min(sizes[i:end]))
            self._held.extend(indices[i:end])
            self._held_bodies.extend(bodies[i:end])
            self._held_sizes.extend(sizes[i:end])
            self._held_bytes += ends[end] - ends[i]
            i = end
            if self._held_bytes >= capacity_bytes or len(self._held) >= capacity_records:
                self._flush(out, final=False)

    def _flush(self, out: list[Batch], *, final: bool) -> None:
        indices, bodies, sizes = self._held, self._held_bodies, self._held_sizes
        if max(sizes) * self.SMALL <= self.max_bytes:
            # Small records: the in-order split is within 1/SMALL of optimal; keep the last batch open.
            cuts = self._cut_in_order(sizes)
            done = len(cuts) - 1 if final else len(cuts) - 2
            for k in range(done):
                out.append(self._batch(bodies[cuts[k] : cuts[k + 1]], indices[cuts[k] : cuts[k + 1]]))
            keep = cuts[done]
            self._held, self._held_bodies, self._held_sizes = indices[keep:], bodies[keep:], sizes[keep:]
        else:
            held = list(zip(indices, bodies, strict=True))
            bins = self._first_fit_decreasing(held)
            settled, open_bins = (bins, []) if final else self._settle(bins)
            settled.sort(key=lambda b: b.members[0][0])  # by first input index
            for b in settled:
                out.append(self._batch([body for _, body in b.members], [index for index, _ in b.members]))
            kept = sorted((m for b in open_bins for m in b.members), key=lambda m: m[0])
            self._held = [index for index, _ in kept]
            self._held_bodies = [body for _, body in kept]
            self._held_sizes = list(map(len, self._held_bodies))
        self._held_bytes = sum(self._held_sizes) + len(self._held_sizes)

    def _cut_in_order(self, sizes: list[int]) -> list[int]:
        """The in-order greedy split of records of these sizes: the positions where batches start,
        and their end."""
        ends = list(accumulate(map(add, sizes, repeat(1)), initial=0))
        cuts = [0]
        i, n = 0, len(sizes)
        while i < n:
            # A batch from i: as many records as fit in max_bytes (each adds its length and a comma).
            last = min(n, i + self.max_records)
            i = bisect_right(ends, ends[i] + self.max_bytes - 1, i + 1, last + 1) - 1
            cuts.append(i)
        return cuts

    def _first_fit_decreasing(self, held: list[Member]) -> list[_Bin]:
        """Largest record first (ties by index), each into the first bin it fits; each bin's records
        then in input order."""
        bins: list[_Bin] = []
        max_bytes, max_records = self.max_bytes, self.max_records
        for member in sorted(held, key=lambda m: (-len(m[1]), m[0])):
            length = len(member[1])
            for b in bins:
                if b.count < max_records and b.size + 1 + length <= max_bytes:
                    b.add(member, length)
                    break
            else:
                bins.append(_Bin(member, length))
        for b in bins:
            b.members.sort(key=lambda m: m[0])
        return bins

    def _settle(self, bins: list[_Bin]) -> tuple[list[_Bin], list[_Bin]]:
        """Which bins to send now. A bin goes when it is full (by count, or nearly by bytes), or when
        it holds a record over half the ceiling (no other such record can join) and no record seen
        so far fits its room. The rest stay and are packed again with the records that follow:
        small records above all, as they can still complete a large one. Beyond ``KEEP`` of the
        window, the bins least likely to improve go: large ones first, then the fullest."""
        max_bytes, half = self.max_bytes, (self.max_bytes - 3) // 2
        done: list[_Bin] = []
        kept: list[tuple[bool, int, int, _Bin]] = []
        for b in bins:
            large = any(len(body) > half for _, body in b.members)
            if (
                b.count >= self.max_records
                or b.size >= self.FULL * max_bytes
                or (large and max_bytes - b.size - 1 < self._smallest)
            ):
                done.append(b)
            else:
                kept.append((not large, -b.size, b.members[0][0], b))
        kept.sort(key=lambda k: k[:3])
        budget = self.KEEP * self.window * max_bytes
        total = sum(k[3].size for k in kept)
        position = 0
        while position < len(kept) and total > budget:
            total -= kept[position][3].size
            done.append(kept[position][3])
            position += 1
        return done, [k[3] for k in kept[position:]]

    # ------------------------------------------------------------------ batches
    def _batch(self, pieces: list[bytes], indices: Sequence[int]) -> Batch:
        body = b"[" + b",".join(pieces) + b"]"
        batch = Batch(self.number, body, len(pieces), indices[0], self.run_key, tuple(indices))
        self.number += 1
        return batch


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
    :param lenient: a record the encoder refuses is still valid when this encoder writes it (a v2
        dry run sends what JSON can carry: the server's verdict is the preview).
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
        lenient: RecordEncoder | None = None,
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
        self.lenient = lenient
        self._source: Iterable[Any] | None = records
        self._largest = 0  # the largest encoded record so far (sizes the blocks)
        self.records = 0
        self.invalid = 0
        self.batches = 0
        self.bytes = 0
        self.errors: list[RecordError] = []
        #: Invalid records per error code (where the API codes its errors; a record counts once per code).
        self.invalid_by_code: Counter[str] = Counter()

    def _blocks(self, records: Iterable[Any]) -> Iterator[tuple[int, list[Any]]]:
        """``(first index, records)`` blocks, sized so that a block holds a few MB at most."""
        size = FIRST_BLOCK
        if isinstance(records, (list, tuple)):
            start = 0
            while start < len(records):
                block = list(records[start : start + size])
                yield start, block
                start += len(block)
                size = self._next_block_size(size)
            return
        iterator, start = iter(records), 0
        while True:
            block = []
            try:
                # Read ahead of encoding: copy dicts as they are read (see the module docstring).
                block.extend(map(_own, islice(iterator, size)))
            except BaseException:
                if block:  # what was read before the source failed is processed first
                    yield start, block
                raise
            if not block:
                return
            yield start, block
            start += len(block)
            size = self._next_block_size(size)

    def _next_block_size(self, size: int) -> int:
        largest = self._largest or 1
        return max(1, min(LARGEST_BLOCK, size * 2, BLOCK_BYTES // largest))

    def _reject(self, index: int, record: Any, errors: list[RecordError]) -> None:
        self.invalid += 1
        if errors[0].code is not None:
            self.invalid_by_code.update(dict.fromkeys(e.code or "" for e in errors).keys())
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
        source, self._source = self._source, None
        packer = Packer(
            max_records=self.max_records, max_bytes=self.max_bytes, run_key=self.run_key, window=self.window
        )
        encode_many = self.encoder.encode_many
        failing = False
        for start, block in self._blocks(source):
            results = encode_many(block, start)
            self.records = start + len(block)
            if self.lenient is not None and set(map(type, results)) != {bytes}:
                results = self._leniently(block, start, results)
            if failing:
                for offset, result in enumerate(results):
                    if type(result) is not bytes:
                        self._reject(start + offset, block[offset], result)  # type: ignore[arg-type]
                continue
            if set(map(type, results)) == {bytes}:
                bodies: list[bytes] = results  # type: ignore[assignment]
                self._largest = max(self._largest, max(map(len, bodies)))
                yield from self._add(packer, range(start, start + len(bodies)), bodies)
                continue
            indices: list[int] = []
            bodies = []
            for offset, result in enumerate(results):
                if type(result) is bytes:
                    indices.append(start + offset)
                    bodies.append(result)  # type: ignore[arg-type]
                    continue
                if not failing:
                    yield from self._add(packer, indices, bodies)
                    indices, bodies = [], []
                self._reject(start + offset, block[offset], result)  # type: ignore[arg-type]
                failing = failing or self.on_invalid == "fail"
            if bodies and not failing:
                self._largest = max(self._largest, max(map(len, bodies)))
                yield from self._add(packer, indices, bodies)
        if failing:
            raise self.encoder.rules.validation_error(self.errors, self.invalid)
        yield from self._counted(packer.finish())

    def _leniently(
        self, block: list[Any], start: int, results: list[bytes | list[RecordError]]
    ) -> list[bytes | list[RecordError]]:
        encode = self.lenient.encode  # type: ignore[union-attr]
        out: list[bytes | list[RecordError]] = []
        for offset, result in enumerate(results):
            if type(result) is not bytes:
                written = encode(block[offset], start + offset)
                result = written if type(written) is bytes else result
            out.append(result)
        return out

    def _add(self, packer: Packer, indices: Sequence[int], bodies: Sequence[bytes]) -> Iterator[Batch]:
        try:
            batches = packer.add_many(indices, bodies)
        except _Oversized as oversized:
            yield from self._counted(oversized.batches)
            raise oversized.error from None
        yield from self._counted(batches)

    def _counted(self, batches: list[Batch]) -> Iterator[Batch]:
        for batch in batches:
            self.batches += 1
            self.bytes += len(batch.body)
            yield batch


#: Records in the first block; blocks then double, up to ``LARGEST_BLOCK`` records and about
#: ``BLOCK_BYTES`` of encoded records (so a few near-ceiling records make a block).
FIRST_BLOCK = 32
LARGEST_BLOCK = 512
BLOCK_BYTES = 4_000_000


def _own(record: Any) -> Any:
    """A dict record copied (so that a generator may refill the one it yielded); others as they are."""
    return record.copy() if type(record) is dict else record

"""What a fetch sees: ``outputStream`` (records out) and ``metadata`` (the saved state).

These mirror the two objects of a Peak REST API connector script. Records written to the
``OutputStream`` are collected into chunks and handed to a sink (the run's fan-out to the
destinations), which blocks while the destinations are busy: the fetch can never run ahead of the
slowest destination by more than a few chunks, whatever the number of records.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_provider_peak.errors import FeedAborted

__all__ = ["DEFAULT_CHUNK_SIZE", "FeedAborted", "Fetch", "Metadata", "OutputStream", "run_to_limit"]

#: Records per chunk handed to the destinations (one queue item).
DEFAULT_CHUNK_SIZE = 500


class _LimitReached(BaseException):
    """Raised inside the fetch when a stream with a ``limit`` has that many records (a preview has
    what it asked for); ``run_to_limit`` ends the fetch there."""


_NOT_SAVED = object()


class Metadata(dict):
    """The feed's state: a dict holding the last saved state (``{}`` on the first run).

    ``metadata.save(obj)`` records the state for the next run; it is committed only when every
    destination has accepted every record of this run. The dict shows the latest saved value when
    it is a JSON object; any JSON value can be saved and is available as ``metadata.value``.

    :param state: the state committed by the last successful run (``None`` or ``{}`` on the first).
    """

    def __init__(self, state: Any = None) -> None:
        super().__init__()
        self.initial = _json_copy({} if state is None else state, "the stored state")
        self._value: Any = self.initial
        self._saved: Any = _NOT_SAVED
        self.saves = 0
        self._show(self.initial)

    def _show(self, value: Any) -> None:
        self.clear()
        if isinstance(value, Mapping):
            self.update(value)

    def save(self, obj: Any) -> None:
        """Save ``obj`` (any JSON value) as the state the next run starts from.

        The value is copied now, so changing ``obj`` afterwards does not change what is saved.
        """
        value = _json_copy(obj, "metadata.save()")
        self._value = value
        self._saved = value
        self.saves += 1
        self._show(value)

    @property
    def value(self) -> Any:
        """The latest state: saved in this run, else the one this run started from."""
        return self._value

    @property
    def saved(self) -> bool:
        """Whether the fetch called ``save`` in this run."""
        return self._saved is not _NOT_SAVED

    def __repr__(self) -> str:
        return f"Metadata({self._value!r})"


def _json_copy(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} needs a JSON-serializable value (dict, list, str, number...): {exc}"
        ) from None


class OutputStream:
    """``outputStream``: ``write(obj)`` emits one record, ``write_many(objs)`` several.

    Each record is a JSON object (a ``dict``); it is copied when written (nested dicts and lists
    too), so a fetch may reuse and change its dict afterwards. Records are passed on in chunks of
    ``chunk_size``.

    :param sink: receives each chunk (a list of records); may block (back-pressure) or raise
        ``FeedAborted``.
    :param chunk_size: records per chunk.
    :param limit: stop the fetch once this many records were written (see ``run_to_limit``).
    """

    def __init__(
        self,
        sink: Callable[[list[dict[str, Any]]], None],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        limit: int | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self._sink = sink
        self._chunk_size = chunk_size
        self._limit = limit
        self._buffer: list[dict[str, Any]] = []
        self.count = 0
        self.closed = False

    def write(self, obj: Mapping[str, Any]) -> None:
        """Emit one record (a ``dict``)."""
        if self.closed:
            raise RuntimeError("outputStream is closed: the fetch has already finished")
        if not isinstance(obj, Mapping):
            hint = "; use write_many() for several records" if isinstance(obj, (list, tuple)) else ""
            raise TypeError(f"outputStream.write() takes one record (a dict), not {type(obj).__name__}{hint}")
        record = dict(obj)
        for key, value in record.items():
            if isinstance(value, (dict, list)):  # the fetch may change nested values afterwards too
                record[key] = copy.deepcopy(value)
        self._buffer.append(record)
        self.count += 1
        if len(self._buffer) >= self._chunk_size:
            self.flush()
        if self._limit is not None and self.count >= self._limit:
            self.flush()
            raise _LimitReached

    def write_many(self, objs: Iterable[Mapping[str, Any]]) -> None:
        """Emit every record of ``objs`` in order."""
        for obj in objs:
            self.write(obj)

    def flush(self) -> None:
        if self._buffer:
            chunk, self._buffer = self._buffer, []
            self._sink(chunk)

    def close(self) -> None:
        """Hand over the last partial chunk; later writes are an error."""
        if not self.closed:
            self.flush()
            self.closed = True


#: A fetch ready to run: called once with the run's ``OutputStream``.
Fetch = Callable[[OutputStream], None]


def run_to_limit(fetch: Fetch, stream: OutputStream) -> None:
    """Run ``fetch`` with ``stream``: a fetch stopped at the stream's ``limit`` ends normally."""
    with contextlib.suppress(_LimitReached):
        fetch(stream)

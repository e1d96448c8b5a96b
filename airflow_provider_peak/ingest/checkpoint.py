"""Which batches Peak acknowledged in a task run, kept where a retry on any worker reads them.

A load's checkpoint maps each batch Peak acknowledged, by its position in the load, to a
*fingerprint* of what the batch held (and, for v2, how many of its rows the server refused, by
code). A retry skips a batch only when it rebuilds the same position with the same fingerprint; a
batch that differs is the input changing between tries, which the pipeline reports.

**Where it lives.** In a store of small JSON values that outlives the worker process: inside an
Airflow task, Airflow's task state store (3.3+) or Airflow Variables (``utils.task_run_store``,
which ``hooks._checkpoint`` gets); outside Airflow, files in the worker user's private folder
(``LocalStore``). Entries are grouped by position into chunks (``CHUNK`` batches per key), and a
head key names the chunks, so every write stays small (about 2 KB) however large the load.

**When it is written.** ``Checkpoint.ack`` returns only once the acknowledgement is in the store,
and the sender holds the request's slot until then: a request is *in flight* from its start until
its acknowledgement is stored. Concurrent acknowledgements share writes (one writer at a time
writes every chunk changed since the last write: a group commit). So after a kill at any moment,
the batches Peak may hold that the checkpoint does not know are at most the requests in flight.

**Read strictly.** A record that is not what this module writes (garbage, a wrong shape, another
load's) is a ``PeakCheckpointError`` naming it and how to clear it, never a silent full re-send; a
store that cannot be written stops the load the same way.

**Removed** by the owner of the task run's records (``RunRecords.remove``: ``hooks._checkpoint``
calls it once Airflow has recorded the task's success), or by the caller of a local checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from airflow_provider_peak.errors import PeakCheckpointError, PeakError
from airflow_provider_peak.utils.workdir import private_dir, private_file, work_dir

__all__ = [
    "CHUNK",
    "FOLDER",
    "Ack",
    "Checkpoint",
    "LocalStore",
    "RunRecords",
    "Store",
    "batch_key",
    "fingerprint",
    "local_checkpoint",
]

log = logging.getLogger(__name__)

#: The folder under ``[peak] work_dir`` that holds local checkpoints (loads outside Airflow).
FOLDER = "checkpoints"
#: Batches per chunk key: a chunk of 64 entries is about 2 KB of JSON.
CHUNK = 64
#: The version of the layout below; a record of another version is refused.
FORMAT = 1
#: Chunks a head may name (64 x 1,000,000 batches: far beyond any load).
MAX_CHUNKS = 1_000_000
#: What a load that met a record it cannot read (before it sends) or write (while it sends) did.
NOTHING_SENT = "Nothing was sent by this try, so that no batch Peak already holds is sent again. "
NOTHING_MORE = "Nothing more was sent, so that no batch Peak already holds is sent again. "
_FINGERPRINT = re.compile(r"[0-9a-f]{16}\Z")
_INDEX = re.compile(r"(0|[1-9][0-9]{0,11})\Z")
_CODE = re.compile(r"[^\x00-\x1f\x7f]{0,200}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"[A-Za-z0-9._-]{1,200}\Z")


def fingerprint(body: bytes) -> str:
    """What a batch held, in 16 hex digits (the first 64 bits of the SHA-256 of its body)."""
    return hashlib.sha256(body).hexdigest()[:16]


def batch_key(index: int, body: bytes) -> str:
    """``"<index>:<fingerprint>"``: a batch by its position and what it held."""
    return f"{index}:{fingerprint(body)}"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


class Store(Protocol):
    """Small JSON values under short keys (``[A-Za-z0-9._-]``), kept beyond the worker process.

    ``get`` returns ``None`` for a key that is not there; a value that cannot be read raises.
    ``describe`` names a key as a user finds it; ``remedy`` says how to delete what this store holds
    for the task run (both appear in errors).
    """

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def describe(self, key: str) -> str: ...

    @property
    def remedy(self) -> str: ...


@dataclass(frozen=True)
class Ack:
    """One acknowledged batch: what it held and the records the server refused (v2), by code."""

    fingerprint: str
    failed: int = 0
    by_code: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> Any:
        if not self.failed:
            return self.fingerprint
        return [self.fingerprint, self.failed, dict(self.by_code)]


class Checkpoint:
    """The acknowledged batches of one load in one task run (every try of the run shares it).

    :param store: where it lives (see the module docstring).
    :param prefix: its keys' prefix in the store (``<prefix>.head``, ``<prefix>.<chunk>``).
    :param run_key: the load it belongs to (``dag/task/run/map_index/<load>``); a record of
        another load under the same keys is refused.
    :param before_first_write: called once before this checkpoint first writes (``RunRecords``
        lists the record there, so that it can be removed).
    """

    def __init__(
        self,
        store: Store,
        prefix: str,
        *,
        run_key: str,
        meta: Mapping[str, Any] | None = None,
        before_first_write: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.run_key = run_key
        self.meta = {k: v for k, v in (meta or {}).items() if isinstance(v, (str, int, float, bool))}
        self.chunk = CHUNK
        self._before_first_write = before_first_write
        self._acks: dict[int, Ack] = {}
        self._chunks = 0  # chunks the stored head names
        self._cond = threading.Condition(threading.Lock())
        self._dirty: set[int] = set()
        self._writing = False
        self._next = 1  # the number of the next write to start
        self._durable = 0  # the number of the last write that completed
        self._failure: PeakCheckpointError | None = None
        #: Writes to the store, and the seconds they took (the summary reports both).
        self.writes = 0
        self.write_seconds = 0.0

    # ------------------------------------------------------------------ keys and errors
    @property
    def head_key(self) -> str:
        return f"{self.prefix}.head"

    def chunk_key(self, chunk: int) -> str:
        return f"{self.prefix}.{chunk}"

    @property
    def where(self) -> str:
        return self.store.describe(self.head_key)

    def _error(self, key: str, reason: str, *, sending: bool = False) -> PeakCheckpointError:
        done = NOTHING_MORE if sending else NOTHING_SENT
        return PeakCheckpointError(self.store.describe(key), reason, done + self.store.remedy)

    def _get(self, key: str) -> Any:
        try:
            return self.store.get(key)
        except PeakError:  # an unsafe folder, or a record already found unreadable: as it is
            raise
        except Exception as exc:
            raise self._error(
                key, f"cannot be read ({type(exc).__name__}: {_shown(str(exc), 200)})"
            ) from None

    # ------------------------------------------------------------------ reading
    def load(self) -> Checkpoint:
        """Read what earlier tries of the run acknowledged (``PeakCheckpointError`` when the record
        cannot be read: the load must not start)."""
        head = self._get(self.head_key)
        acks: dict[int, Ack] = {}
        chunks, size = 0, CHUNK
        if head is not None:
            chunks, size = self._read_head(head)
            for chunk in range(chunks):
                value = self._get(self.chunk_key(chunk))
                if value is None:  # the head is written before a new chunk: a kill between them
                    continue
                acks.update(self._read_chunk(chunk, value, size))
        with self._cond:
            self._acks, self._chunks, self.chunk = acks, chunks, size
        return self

    def _read_head(self, head: Any) -> tuple[int, int]:
        key = self.head_key
        if not isinstance(head, dict):
            raise self._error(key, f"holds {type(head).__name__}, not the object the provider writes")
        if head.get("format") != FORMAT:
            raise self._error(key, f"has format {_shown(head.get('format'))}, not {FORMAT}")
        if head.get("run") != self.run_key:
            raise self._error(
                key, f"belongs to another load ({_shown(head.get('run'))}), not to {self.run_key!r}"
            )
        size, chunks = head.get("chunk"), head.get("chunks")
        if _count(size, 1, 4096) and _count(chunks, 0, MAX_CHUNKS):
            return chunks, size
        raise self._error(key, f"names {_shown(chunks)} chunks of {_shown(size)} batches")

    def _read_chunk(self, chunk: int, value: Any, size: int) -> dict[int, Ack]:
        key = self.chunk_key(chunk)
        entries = value.get("acks") if isinstance(value, dict) and set(value) == {"acks"} else None
        if not isinstance(entries, dict):
            raise self._error(key, "is not an object holding the acknowledged batches")
        out: dict[int, Ack] = {}
        for name, entry in entries.items():
            index = int(name) if isinstance(name, str) and _INDEX.match(name) else -1
            if not chunk * size <= index < (chunk + 1) * size:
                raise self._error(key, f"names batch {_shown(name)}, outside its chunk")
            ack = _read_ack(entry)
            if ack is None:
                raise self._error(key, f"holds {_shown(entry)} for batch {index}")
            out[index] = ack
        return out

    def acked(self, index: int) -> Ack | None:
        """What an earlier try (or this one) sent at position ``index`` and Peak acknowledged."""
        return self._acks.get(index)

    def holds(self, index: int, fingerprint: str) -> bool:
        ack = self._acks.get(index)
        return ack is not None and ack.fingerprint == fingerprint

    @property
    def last_index(self) -> int:
        """The highest position acknowledged (-1: none)."""
        return max(self._acks, default=-1)

    def __len__(self) -> int:
        return len(self._acks)

    # ------------------------------------------------------------------ writing
    def ack(
        self, index: int, fingerprint: str, *, failed: int = 0, by_code: Mapping[str, int] | None = None
    ) -> None:
        """Record an acknowledged batch; returns once it is in the store (see the module docstring).

        ``PeakCheckpointError`` when the store cannot be written: the batch is then in doubt, and
        the load must stop sending.
        """
        codes: dict[str, int] = {}
        for code, count in (by_code or {}).items():  # a server's codes, kept as plain short text
            shown = _CONTROL.sub("", str(code))[:200]
            codes[shown] = codes.get(shown, 0) + int(count)
        entry = Ack(fingerprint, int(failed), codes)
        with self._cond:
            if self._failure is not None:
                raise self._failure
            self._acks[index] = entry
            self._dirty.add(index // self.chunk)
            mine = self._next  # the next write to start holds this entry
            while self._durable < mine:
                if self._failure is not None:
                    raise self._failure
                if self._writing:
                    self._cond.wait()
                    continue
                self._lead_write()

    def _lead_write(self) -> None:
        """Write every chunk changed since the last write (lock held on entry and on return)."""
        self._writing = True
        number, self._next = self._next, self._next + 1
        dirty, self._dirty = sorted(self._dirty), set()
        chunks = max(self._chunks, dirty[-1] + 1)
        values = {chunk: self._chunk_value(chunk) for chunk in dirty}
        first = self._before_first_write
        failure: PeakCheckpointError | None = None
        self._cond.release()
        started = time.monotonic()
        key = self.head_key
        try:
            if first is not None:
                first()
            if chunks > self._chunks:  # the head first: a chunk is only ever read through it
                self.store.set(key, self._head(chunks))
            for chunk, value in values.items():
                key = self.chunk_key(chunk)
                self.store.set(key, value)
        except PeakCheckpointError as exc:
            failure = exc
        except Exception as exc:
            failure = self._error(key, f"could not be written ({type(exc).__name__}: {exc})", sending=True)
        finally:
            elapsed = time.monotonic() - started
            self._cond.acquire()
            self._writing = False
            self.writes += 1
            self.write_seconds += elapsed
            if failure is None:
                self._chunks = chunks
                self._durable = number
                self._before_first_write = None
            else:
                self._failure = failure
            self._cond.notify_all()
        if failure is not None:
            raise failure

    def _head(self, chunks: int) -> dict[str, Any]:
        head = {"format": FORMAT, "run": self.run_key, "chunk": self.chunk, "chunks": chunks}
        return {**head, "meta": self.meta} if self.meta else head

    def _chunk_value(self, chunk: int) -> dict[str, Any]:
        low, high = chunk * self.chunk, (chunk + 1) * self.chunk
        return {"acks": {str(i): a.as_json() for i, a in sorted(self._acks.items()) if low <= i < high}}

    # ------------------------------------------------------------------ removal
    def remove(self) -> None:
        """Delete every key of this checkpoint (the chunks its head names, then the head; a head
        that cannot be read: the head alone)."""
        try:
            head = self.store.get(self.head_key)
        except Exception as exc:
            log.warning("Removing %s: it cannot be read (%s); removing the head only", self.where, exc)
            head = None
        named = head.get("chunks") if isinstance(head, dict) else 0
        chunks = named if _count(named, 0, MAX_CHUNKS) else 0
        for chunk in range(chunks):
            self.store.delete(self.chunk_key(chunk))
        self.store.delete(self.head_key)


def _count(value: Any, low: int, high: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _read_ack(entry: Any) -> Ack | None:
    if isinstance(entry, str):
        return Ack(entry) if _FINGERPRINT.match(entry) else None
    if not (isinstance(entry, list) and len(entry) == 3):
        return None
    fp, failed, codes = entry
    if not (isinstance(fp, str) and _FINGERPRINT.match(fp) and _count(failed, 0, 10**9)):
        return None
    if not isinstance(codes, dict) or len(codes) > 1000:
        return None
    if not all(isinstance(c, str) and _CODE.match(c) and _count(n, 0, 10**9) for c, n in codes.items()):
        return None
    return Ack(fp, failed, dict(codes))


def _shown(value: Any, limit: int = 80) -> str:
    """A stored value as an error shows it: short, one line, control characters escaped."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr)
    except ValueError:  # a cycle
        text = repr(type(value))
    return text if len(text) <= limit else text[:limit] + "..."


# ----------------------------------------------------------------------------- a task run's records
class RunRecords:
    """Everything the provider keeps for one task run in one store: the checkpoint of each of its
    loads and the REST feed's record of a delivered run, listed in an index key so that they can
    all be removed once the task run succeeded (``remove``).

    :param run_key: the task run (``dag/task/run/map_index``).
    """

    INDEX = "index"
    #: Serialises index updates of every task run in the process (they are rare: one per record).
    _lock = threading.Lock()

    def __init__(self, store: Store, run_key: str) -> None:
        self.store = store
        self.run_key = run_key

    def checkpoint(self, load: str, **meta: Any) -> Checkpoint:
        """The checkpoint of ``load`` (a name unique within the task run, e.g. ``v1/<table>``),
        loaded; ``PeakCheckpointError`` when it cannot be read."""
        prefix = f"ckpt.{_digest(load, 16)}"
        return Checkpoint(
            self.store,
            prefix,
            run_key=f"{self.run_key}/{load}",
            meta=meta,
            before_first_write=lambda: self._list(prefix),
        ).load()

    def get(self, name: str) -> Any:
        """The plain record ``name`` (``None`` when absent)."""
        return self.store.get(self._plain(name))

    def put(self, name: str, value: Any) -> None:
        """Store the plain record ``name`` (listed in the index first, so ``remove`` finds it)."""
        key = self._plain(name)
        self._list(key)
        self.store.set(key, value)

    @staticmethod
    def _plain(name: str) -> str:
        return f"rec.{_digest(name, 16)}"

    def _read_index(self) -> list[str]:
        value = self.store.get(self.INDEX)
        if value is None:
            return []
        entries = value.get("records") if isinstance(value, dict) else None
        if (
            not isinstance(value, dict)
            or value.get("format") != FORMAT
            or value.get("run") != self.run_key
            or not isinstance(entries, list)
            or not all(isinstance(e, str) and _KEY.match(e) for e in entries)
        ):
            raise PeakCheckpointError(
                self.store.describe(self.INDEX),
                "is not the index of this task run's records the provider writes",
                NOTHING_MORE + self.store.remedy,
            )
        return entries

    def _list(self, key: str) -> None:
        with self._lock:
            listed = self._read_index()
            if key not in listed:
                self.store.set(self.INDEX, {"format": FORMAT, "run": self.run_key, "records": [*listed, key]})

    def remove(self) -> None:
        """Delete every record of the task run and the index (a record that cannot be read is
        deleted as far as it can be, with a warning; nothing raises)."""
        try:
            listed = self._read_index()
        except Exception as exc:
            log.warning("The provider's records of task run %s were not removed: %s", self.run_key, exc)
            return
        for key in listed:
            try:
                if key.startswith("ckpt."):
                    Checkpoint(self.store, key, run_key="").remove()
                else:
                    self.store.delete(key)
            except Exception as exc:
                log.warning("Could not remove %s: %s", self.store.describe(key), exc)
        try:
            self.store.delete(self.INDEX)
        except Exception as exc:
            log.warning("Could not remove %s: %s", self.store.describe(self.INDEX), exc)


# ----------------------------------------------------------------------------- outside Airflow
class LocalStore:
    """A store in a private folder of the worker's user (for loads outside Airflow): one JSON file
    per key, replaced atomically. The folder is checked as ``utils.workdir`` checks its own: a
    record another account could have written would make a load skip batches."""

    def __init__(self, run_key: str, directory: str | os.PathLike[str] | None = None) -> None:
        base = private_dir(directory) if directory else work_dir(FOLDER)
        self.folder: Path = private_dir(base, _digest(run_key, 24))

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a checkpoint key: {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any:
        try:
            with private_file(self._path(key), "r", encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def set(self, key: str, value: Any) -> None:
        path = self._path(key)
        temporary = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        with private_file(temporary, "w", encoding="utf-8") as handle:
            json.dump(value, handle, separators=(",", ":"))
        os.replace(temporary, path)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))
        with contextlib.suppress(OSError):  # the last key gone: the folder goes too
            self.folder.rmdir()

    def describe(self, key: str) -> str:
        return f"file {self.folder / (key + '.json')}"

    @property
    def remedy(self) -> str:
        return (
            f"To start the load over (every batch is sent again: Peak may already hold some), delete "
            f"the folder {self.folder}"
        )


def local_checkpoint(
    run_key: str, *, directory: str | os.PathLike[str] | None = None, **meta: Any
) -> Checkpoint:
    """A checkpoint kept in local files, for a load outside Airflow (inside a task, the hooks keep
    the task run's checkpoint in Airflow), loaded. The caller removes it (``remove``) once the
    load is complete."""
    return Checkpoint(LocalStore(run_key, directory), "ckpt", run_key=run_key, meta=meta).load()

"""Which batches Peak has acknowledged in this run, so a retried task does not send them again.

A batch is identified by ``"<index>:<hash of its body>"``: a retry skips it only when the same
batch (same position, same bytes) was acknowledged before, so a changed input is sent in full
rather than silently skipped. Acknowledgements are appended to a local log at once (survives a
killed worker process on the same machine) and mirrored to an Airflow Variable every few seconds
and when the task ends (so a retry on another worker resumes too). The checkpoint is deleted when
the task succeeds.

The local log lives in the worker user's private folder (``utils.workdir``: ``checkpoints`` under
``[peak] work_dir``) or a ``directory`` the caller gives, which is checked the same way: a log
another account could have written would make a load skip batches, so it is never read from a
folder that account can change, and never through a symlink.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_peak.utils.workdir import private_dir, private_file, work_dir

log = logging.getLogger(__name__)

#: The folder under ``[peak] work_dir`` that holds the local logs.
FOLDER = "checkpoints"


def batch_key(index: int, body: bytes) -> str:
    return f"{index}:{hashlib.sha256(body).hexdigest()[:16]}"


class Mirror(Protocol):
    """A cross-worker copy of a checkpoint (``PeakHook`` keeps one in an Airflow Variable)."""

    key: str

    def load(self) -> set[str]: ...

    def save(self, acked: set[str], meta: dict[str, Any]) -> None: ...

    def delete(self) -> None: ...


class Checkpoint:
    """Acknowledged batches of one task run (keyed by DAG, task, run and map index; not by try).

    :param run_key: identifies the run, e.g. ``dag_id/task_id/run_id/map_index/table``.
    :param directory: where the local log lives (default: ``checkpoints`` in the private work folder).
    :param mirror: the cross-worker copy; ``None`` for a local-only checkpoint.
    :param interval: seconds between mirror writes.
    """

    def __init__(
        self,
        run_key: str,
        *,
        directory: Path | str | None = None,
        mirror: Mirror | None = None,
        interval: float = 5.0,
        meta: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        digest = hashlib.sha256(run_key.encode()).hexdigest()[:24]
        self.run_key = run_key
        folder = private_dir(directory) if directory else work_dir(FOLDER)
        self.path = folder / f"{digest}.log"
        self.mirror = mirror
        self.interval = interval
        self.meta = {"run_key": run_key, **(meta or {})}
        self._clock = clock
        self._lock = threading.Lock()
        self._acked: set[str] = set()
        self._last_mirror = clock()
        self._dirty = False
        self._file: Any = None

    @staticmethod
    def variable_key(run_key: str) -> str:
        return f"peak_ingest_checkpoint_{hashlib.sha256(run_key.encode()).hexdigest()[:24]}"

    def load(self) -> set[str]:
        """Read what earlier tries acknowledged."""
        acked: set[str] = set()
        try:
            with private_file(self.path, "r", encoding="ascii") as handle:
                acked.update(line.strip() for line in handle if line.strip())
        except FileNotFoundError:
            pass
        if self.mirror is not None:
            try:
                acked |= self.mirror.load()
            except Exception as exc:  # the local log still protects a retry on this machine
                log.warning("Could not read the checkpoint Variable %s: %s", self.mirror.key, exc)
                self.mirror = None
        self._acked = acked
        return set(acked)

    def __contains__(self, key: str) -> bool:
        return key in self._acked

    def ack(self, key: str) -> None:
        """Record an acknowledged batch: appended to the local log immediately."""
        with self._lock:
            if self._file is None:
                self._file = private_file(self.path, "a", encoding="ascii")  # closed in close()
            self._file.write(key + "\n")
            self._file.flush()
            self._acked.add(key)
            self._dirty = True
            if self.mirror is not None and self._clock() - self._last_mirror >= self.interval:
                self._flush_mirror()

    def _flush_mirror(self) -> None:
        if self.mirror is None or not self._dirty:
            return
        try:
            self.mirror.save(self._acked, self.meta)
            self._dirty = False
        except Exception as exc:
            log.warning("Could not write the checkpoint Variable %s: %s", self.mirror.key, exc)
            self.mirror = None
        self._last_mirror = self._clock()

    def close(self, *, success: bool) -> None:
        """On success the checkpoint is removed; otherwise it is flushed for the next try."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if success:
                if self.path.exists():
                    os.unlink(self.path)
                if self.mirror is not None:
                    try:
                        self.mirror.delete()
                    except Exception as exc:
                        log.warning("Could not delete the checkpoint Variable %s: %s", self.mirror.key, exc)
            else:
                self._flush_mirror()

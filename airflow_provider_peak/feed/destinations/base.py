"""The destination interface and the record stream each destination reads.

A feed run has two phases. While the fetch runs, every destination *stages* the records it
receives (a spool file, a staging table, S3 parts) without making them visible. When the fetch has
finished and every destination has staged everything, the run lets each destination *commit* in
turn (``wait_for_commit`` returns); a failure anywhere before that makes ``wait_for_commit`` raise
``FeedAborted`` and the destination removes what it staged.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.stream import FeedAborted

if TYPE_CHECKING:
    from airflow_provider_peak.ingest.checkpoint import RunRecords

LOAD_TYPES = ("incremental", "truncate_insert")
#: The counts of a destination's result worth a line in the log (the XCom summary has them all).
COUNT_DETAILS = ("rows_inserted", "rows_deleted", "requests", "files", "parts", "invalid", "records_resumed")
_END = object()
#: Seconds between checks of the abort flag while blocked on a queue.
POLL = 0.2


@dataclass
class RunInfo:
    """What a destination knows about the run it is part of.

    :param feed_name: the feed.
    :param load_type: ``incremental`` or ``truncate_insert``.
    :param run_key: identifies this task run across tries (``dag/task/run/map_index/feed``).
    :param run_token: a short, file-name-safe id of this try, for staging object names.
    :param earlier_tokens: the ``run_token`` of each earlier try of the task run (what a killed try
        may have left behind).
    :param logger: where progress goes (the task log).
    :param in_task: running inside an Airflow task (Variables and XCom are reachable).
    :param records: the task run's records in Airflow (``ingest.checkpoint.RunRecords``: where a
        destination keeps a checkpoint); ``None`` outside a task.
    """

    feed_name: str
    load_type: str = "incremental"
    run_key: str = ""
    run_token: str = "run"
    earlier_tokens: tuple[str, ...] = ()
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("airflow.task"))
    in_task: bool = False
    records: RunRecords | None = None


class StagedRecords:
    """The records of one run as one destination sees them, plus the commit gate.

    Iterate it for chunks (lists of records, shared with the other destinations: never modify
    them), or use ``records()`` for single records. After the last chunk, the destination finishes
    staging and calls ``wait_for_commit()``, which returns when it may make the records visible
    and raises ``FeedAborted`` when the run failed.
    """

    def __init__(self, name: str, abort: threading.Event, max_chunks: int = 4) -> None:
        self.name = name
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_chunks)
        self._abort = abort
        self._go = threading.Event()
        self.staged = threading.Event()
        self.committing = False
        self.records_read = 0

    # -- producer side (the run) --------------------------------------------------------------
    def put(self, item: Any) -> None:
        while True:
            try:
                self._queue.put(item, timeout=POLL)
                return
            except queue.Full:
                if self._abort.is_set():
                    raise FeedAborted from None

    def end(self) -> None:
        self.put(_END)

    def grant_commit(self) -> None:
        self._go.set()

    # -- consumer side (the destination) ------------------------------------------------------
    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            try:
                item = self._queue.get(timeout=POLL)
            except queue.Empty:
                if self._abort.is_set():
                    raise FeedAborted from None
                continue
            if item is _END:
                return
            if self._abort.is_set():
                raise FeedAborted
            self.records_read += len(item)
            yield item

    def records(self, *, then_wait: bool = False) -> Iterator[dict[str, Any]]:
        """Every record in order; with ``then_wait``, waits for the commit decision after the last one
        (for a pipeline that stages and commits inside one call, such as ``PeakHook.load_records``)."""
        for chunk in self:
            yield from chunk
        if then_wait:
            self.wait_for_commit()

    def wait_for_commit(self) -> None:
        """Report that everything is staged; block until this destination may commit."""
        self.staged.set()
        while not self._go.wait(POLL):
            if self._abort.is_set():
                raise FeedAborted
        if self._abort.is_set():
            raise FeedAborted
        self.committing = True


def count_details(counts: dict[str, Any]) -> str:
    """``requests=1, invalid=2``: the non-zero counts of a destination's result worth showing."""
    return ", ".join(
        f"{k}={counts[k]:,}" for k in COUNT_DETAILS if isinstance(counts.get(k), int) and counts[k]
    )


def describe_counts(counts: dict[str, Any]) -> str:
    """``60 records (requests=1, invalid=2)``: a destination's result, short enough for one line."""
    records = counts.get("records", 0)
    text = f"{records:,} records" if isinstance(records, int) else f"{records} records"
    details = count_details(counts)
    return f"{text} ({details})" if details else text


class Destination(ABC):
    """Where a feed's records go. Subclasses are small: ``load`` stages then commits.

    ``template_fields`` of a destination are rendered with the operator's (Airflow renders nested
    objects that declare them).
    """

    #: Short type name used in logs and the run summary.
    kind: ClassVar[str] = "destination"
    #: Whether ``load_type="truncate_insert"`` is possible; ``truncate_reason`` says why not.
    supports_truncate_insert: ClassVar[bool] = True
    truncate_reason: ClassVar[str] = ""
    #: Commit order, lowest first: a destination that cannot roll back commits before the
    #: transactional ones, so its failure leaves them untouched.
    commit_order: ClassVar[int] = 50
    template_fields: Sequence[str] = ()

    @property
    @abstractmethod
    def target(self) -> str:
        """What this destination writes, for logs and the summary (a table, a bucket prefix)."""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"

    def check(self, load_type: str) -> None:
        """Called when the DAG is parsed; raise ``PeakConfigError`` for a combination that cannot work."""
        if load_type not in LOAD_TYPES:
            raise PeakConfigError(f"load_type must be one of {LOAD_TYPES}, got {load_type!r}")
        if load_type == "truncate_insert" and not self.supports_truncate_insert:
            raise PeakConfigError(
                f"load_type='truncate_insert' is not possible with {type(self).__name__}: "
                f"{self.truncate_reason}"
            )

    @abstractmethod
    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        """Stage every record, call ``records.wait_for_commit()``, commit, and return counts.

        Runs on its own thread. On ``FeedAborted`` (or any error) remove what was staged.
        """

    def finalize(self, success: bool) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Called after the feed state was committed (``success``) or the run failed."""

    def restore(self, counts: dict[str, Any], run: RunInfo) -> None:  # noqa: B027 - optional, a no-op
        """An earlier try of this task run committed the run (``counts``: what ``load`` returned
        then) and died before the feed's state was saved: this try saves the state without
        fetching again, then calls ``finalize(True)``. Prepare what ``finalize`` needs."""

    def cancel(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """The task is ending (killed, or past its ``execution_timeout``): stop sending at once
        (called from another thread; ``load`` then fails)."""

    def lineage_output(self, facets: Any, counts: dict[str, Any]) -> Any:
        """The OpenLineage dataset this destination wrote (``facets``: OpenLineage's module;
        ``counts``: what ``load`` returned); ``None`` when it has none to name."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"

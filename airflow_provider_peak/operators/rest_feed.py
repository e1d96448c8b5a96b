"""``PeakRestFeedOperator``: Peak's REST API connector as an Airflow task, with state that survives runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from airflow_provider_peak.assets.peak import add_table_alias, emit_table_event
from airflow_provider_peak.exceptions import PeakCheckpointError, PeakConfigError
from airflow_provider_peak.feed.destinations.base import LOAD_TYPES, Destination, RunInfo, count_details
from airflow_provider_peak.feed.destinations.peak_table import PeakTableDestination
from airflow_provider_peak.feed.fanout import FeedRuntime, RunResult
from airflow_provider_peak.feed.fetch import FetchSpec
from airflow_provider_peak.feed.names import check_feed_name
from airflow_provider_peak.feed.preview import PREVIEW_LIMIT, collect_preview, render
from airflow_provider_peak.feed.state import (
    AssetStateStoreBackend,
    FeedKey,
    StateBackend,
    envelope,
    resolve_backend,
)
from airflow_provider_peak.feed.stream import DEFAULT_CHUNK_SIZE, Metadata
from airflow_provider_peak.hooks._checkpoint import task_records
from airflow_provider_peak.ingest.checkpoint import RunRecords
from airflow_provider_peak.ingest.limits import DOCUMENTED
from airflow_provider_peak.ui.labels import MappedLabel
from airflow_provider_peak.ui.links import PeakDeadLettersLink, PeakLink, PeakTableLink, dead_letter_figures
from airflow_provider_peak.utils import openlineage
from airflow_provider_peak.utils.task_run import TaskRun, claim_pool_slots
from airflow_provider_peak.version_compat import BaseOperator, Context, task_logger


class PeakRestFeedOperator(MappedLabel, BaseOperator):
    """Run a Peak REST API connector feed: fetch records with Python, load them into destinations.

    The fetch is a Python callable or an unchanged Peak fetch script. It writes records to
    ``output_stream`` (a Peak script's ``outputStream``) and may save state with
    ``metadata.save(obj)``; ``metadata`` holds the state saved by the last successful run (``{}`` at
    first). Records stream through a bounded queue to every destination at once, so a fetch of any
    size runs in constant memory, and each destination receives the same records.

    Destinations stage what they receive and make it visible only when every destination has
    staged every record; the feed's state is saved only after every destination has committed. A
    failed run leaves the state as it was, so the next run fetches again from there. Once every
    destination has committed, the task run records it in Airflow (with the state to save): a retry
    of a try that died after that point saves that state and completes without fetching or
    delivering again. A deadline or a kill stops the destinations' requests at once.

    Returns a summary (records per destination, state before and after) to XCom. With
    ``preview=True`` it runs the fetch until it has ``preview_limit`` records, logs them as JSON and
    as a table, sends nothing, saves no state and returns the records.

    :param feed_name: Peak's feed name: letters, digits and underscores, starting with a letter, not
        ending with ``_``, at most 50 characters. Checked when the DAG is parsed.
    :param fetch_callable: ``fn(output_stream, metadata, session, **context)``; it receives only the
        arguments it names (also ``outputStream``, context keys and ``op_kwargs`` keys).
    :param fetch_script: the text of a Peak fetch script, or the path of a ``.py`` file (relative to
        the DAG file's folder). ``from lib import outputStream, metadata`` works inside it; ``lib``
        also offers ``session``, ``context`` and ``op_kwargs``.
    :param rest_conn_id: a ``peak_rest`` connection; ``session`` is then authenticated by it (No Auth,
        Basic or Custom Auth) and resolves relative URLs against its base URL. ``None``: a plain session.
    :param destinations: where the records go: ``PeakTableDestination``, ``SnowflakeDestination``,
        ``RedshiftDestination``, ``S3Destination`` or your own ``Destination`` (templated).
    :param load_type: ``incremental`` (append) or ``truncate_insert`` (replace the table's rows
        atomically; warehouse and S3 destinations only).
    :param state_backend: where ``metadata`` lives between runs: ``xcom`` (default), ``variable``,
        ``state_store`` (Airflow 3.3+ asset state store) or a ``StateBackend`` instance.
    :param preview: preview the fetch instead of running the feed.
    :param op_kwargs: keyword arguments for ``fetch_callable`` (templated).
    :param requirements: pip requirements; the fetch then runs in a cached virtualenv that has them
        and streams its records back (templated). Each must be a PEP 508 requirement (``pandas>=2``,
        ``pkg @ https://...``); pip options such as ``--index-url`` or ``-r`` are refused.
    :param index_urls: the package index for ``requirements`` (the first URL) and extra indexes
        (not templated; credentials in them are masked). Default: the ``peak_rest`` connection's
        ``index_urls`` extra, else pip's own configuration.
    :param preview_limit: records a preview collects.
    :param chunk_size: records per chunk handed to the destinations.
    :param max_queued_chunks: chunks queued per destination before the fetch waits for it.
    :param venv_cache_path: where ``requirements`` virtualenvs are cached (default: ``venvs`` in the
        worker user's private folder, ``[peak] work_dir``); checked like it (see ``docs/security.md``).
    :param inherit_worker_packages: the virtualenv also sees the worker's packages (``requests``).
    :param progress_interval: seconds between progress lines in the log.
    :param emit_asset: emit an event for the asset of each Peak table destination that received
        records (through the alias ``peak_table_alias(table_name, peak_conn_id)`` added to outlets).
    """

    template_fields: Sequence[str] = ("op_kwargs", "destinations", "requirements")
    template_fields_renderers = {"op_kwargs": "json", "requirements": "py"}
    map_index_label = "{{ task.feed_name }}"
    ui_color = "#d9f0e3"
    operator_extra_links: tuple[PeakLink, ...] = (PeakTableLink(), PeakDeadLettersLink())

    def __init__(
        self,
        *,
        feed_name: str,
        fetch_callable: Callable[..., Any] | None = None,
        fetch_script: str | None = None,
        rest_conn_id: str | None = None,
        destinations: Sequence[Destination] = (),
        load_type: Literal["incremental", "truncate_insert"] = "incremental",
        state_backend: str | StateBackend = "xcom",
        preview: bool = False,
        op_kwargs: Mapping[str, Any] | None = None,
        requirements: Sequence[str] | None = None,
        index_urls: Sequence[str] | None = None,
        preview_limit: int = PREVIEW_LIMIT,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_queued_chunks: int = 4,
        venv_cache_path: str | None = None,
        inherit_worker_packages: bool = True,
        progress_interval: float = 30.0,
        emit_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        if emit_asset and not preview:
            for destination in destinations or ():
                if isinstance(destination, PeakTableDestination):
                    kwargs["outlets"] = add_table_alias(
                        kwargs.get("outlets"), destination.table_name, destination.peak_conn_id
                    )
        if not preview:
            # Two runs of one feed at once would start from the same state: one at a time.
            kwargs.setdefault("max_active_tis_per_dag", 1)
            peak_requests = sum(
                d.max_concurrency for d in destinations or () if isinstance(d, PeakTableDestination)
            )
            if peak_requests:
                claim_pool_slots(kwargs, min(peak_requests, DOCUMENTED.max_in_flight))
        super().__init__(**kwargs)
        self.feed_name = check_feed_name(feed_name)
        if load_type not in LOAD_TYPES:
            raise PeakConfigError(f"load_type must be one of {', '.join(LOAD_TYPES)}; got {load_type!r}")
        destinations = list(destinations)
        for destination in destinations:
            if not isinstance(destination, Destination):
                raise PeakConfigError(
                    f"destinations must be Destination objects (PeakTableDestination, ...), "
                    f"got {type(destination).__name__}"
                )
            destination.check(load_type)
        if not destinations and not preview:
            raise PeakConfigError("a feed needs at least one destination (or preview=True)")
        names = [d.name for d in destinations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PeakConfigError(f"the same destination is listed twice: {', '.join(duplicates)}")
        if preview_limit < 1:
            raise PeakConfigError(f"preview_limit must be at least 1, got {preview_limit}")
        if preview or not any(isinstance(d, PeakTableDestination) for d in destinations):
            # No Peak table, no link: Airflow would look up an XCom this task never writes.
            self.operator_extra_links = ()
        self.fetch_callable = fetch_callable
        self.fetch_script = fetch_script
        self.rest_conn_id = rest_conn_id
        self.destinations = destinations
        self.load_type = load_type
        self.state_backend = state_backend
        self.preview = preview
        self.op_kwargs = dict(op_kwargs or {})
        self.requirements = list(requirements) if requirements is not None else None
        self.index_urls = list(index_urls) if index_urls is not None else None
        self.preview_limit = preview_limit
        self.chunk_size = chunk_size
        self.max_queued_chunks = max_queued_chunks
        self.venv_cache_path = venv_cache_path
        self.inherit_worker_packages = inherit_worker_packages
        self.progress_interval = progress_interval
        self.emit_asset = emit_asset
        self._delivered: RunResult | None = None
        self._source_url: str | None = None
        self._runtime: FeedRuntime | None = None
        self._fetch_spec().check()
        backend = resolve_backend(state_backend)
        if isinstance(backend, AssetStateStoreBackend):
            self._add_state_asset(backend)

    def _add_state_asset(self, backend: AssetStateStoreBackend) -> None:
        """The asset state store is reached through an asset among the task's outlets."""
        from airflow_provider_peak.version_compat import Asset

        if not self.has_dag():
            raise PeakConfigError("state_backend='state_store' needs the operator to be created inside a DAG")
        key = FeedKey(self.dag_id, self.task_id, self.feed_name)
        asset = Asset(name=backend.asset_name(key))
        if asset not in self.outlets:
            self.outlets = [*self.outlets, asset]

    def _script_dirs(self) -> list[str]:
        dirs: list[str] = []
        if self.has_dag():
            fileloc = getattr(self.dag, "fileloc", None)
            if fileloc:
                dirs.append(str(Path(fileloc).parent))
            searchpath = getattr(self.dag, "template_searchpath", None) or []
            dirs.extend([searchpath] if isinstance(searchpath, str) else searchpath)
        return dirs

    def _fetch_spec(self) -> FetchSpec:
        return FetchSpec(
            feed_name=self.feed_name,
            fetch_callable=self.fetch_callable,
            fetch_script=self.fetch_script,
            script_dirs=self._script_dirs(),
            op_kwargs=self.op_kwargs,
            requirements=self.requirements,
            index_urls=self.index_urls,
            venv_cache_path=self.venv_cache_path,
            inherit_worker_packages=self.inherit_worker_packages,
        )

    def _session(self) -> tuple[Any, Any]:
        """``(hook, session)``: the connection's authenticated session, or a plain one without one."""
        from airflow_provider_peak.hooks.peak_rest import PeakRestHook, RestSession

        if self.rest_conn_id is None:
            return None, RestSession()
        hook = PeakRestHook(self.rest_conn_id)
        return hook, hook.get_conn()

    # ------------------------------------------------------------------ preview
    def preview_records(self, context: Mapping[str, Any], state: Any = None) -> list[dict[str, Any]]:
        """Run the fetch from ``state`` until it wrote ``preview_limit`` records; send and save nothing."""
        hook, session = self._session()
        try:
            fetch = self._fetch_spec().build(Metadata(state), session, context, task_logger(self), hook=hook)
            return collect_preview(fetch, self.preview_limit)
        finally:
            session.close()

    # ------------------------------------------------------------------ run
    def execute(self, context: Context) -> Any:
        run = TaskRun.from_context(context)
        key = FeedKey.of(run, self.feed_name)
        backend = resolve_backend(self.state_backend)
        stored = backend.load(key, context)
        state_before = stored.get("state") if stored else None
        committed = f" (committed {stored.get('committed_at')} by {stored.get('run_id')})" if stored else ""
        self.log.info(
            "Feed %s: state %s from %s%s",
            self.feed_name,
            _show(state_before if stored else {}),
            backend.location(key),
            committed,
        )
        if self.preview:
            records = self.preview_records(context, state_before)
            self.log.info("%s\nNothing was sent and no state was saved.", render(records))
            return json.loads(json.dumps(records, default=str))
        for destination in self.destinations:
            if isinstance(destination, PeakTableDestination):
                from airflow_provider_peak.hooks.peak import PeakHook

                PeakTableLink.persist(context, PeakHook(destination.peak_conn_id), destination.table_name)
                break
        run_records = task_records(context)
        metadata = Metadata(state_before)
        hook, session = self._session()
        success = False
        try:
            done = self._delivered_by_earlier_try(run_records, run)
            if done is not None:
                result, saved = done
                if saved is not None:
                    metadata.save(saved["state"])
                    backend.save(key, saved, context)
            else:
                result = self._run(run_records, run, metadata, session, context, hook)
                saved = envelope(key, metadata.value, run) if metadata.saved else None
                # Every destination committed: recorded before the state is saved, so that a retry
                # of a try that dies from here on completes without delivering the records again.
                run_records.put(self._record_name(), _delivered_record(result, saved))
                if saved is not None:
                    backend.save(key, saved, context)
            success = True
        finally:
            session.close()
            for destination in self.destinations:
                try:
                    destination.finalize(success)
                except Exception:
                    self.log.exception("Cleaning up %s failed", destination.name)
        self._link_dead_letters(context, result)
        summary = self._summary(result, metadata, backend.location(key))
        self.log.info("%s", summary_table(summary))
        self._delivered = result
        self._source_url = hook.settings.base_url if hook is not None else None
        if self.emit_asset:
            self._emit_assets(context, result)
        return summary

    def _link_dead_letters(self, context: Context, result: RunResult) -> None:
        """The "Dead letters" link of the first Peak table destination that wrote dead letters (its
        counts carry the link's URL, ``dead_letter_url``)."""
        for destination in self.destinations:
            counts = result.destinations.get(destination.name)
            if isinstance(destination, PeakTableDestination) and counts and counts.get("dead_letters"):
                dead_letter_figures(context, destination.dead_letter_path, counts["dead_letters"], counts)
                return

    def _record_name(self) -> str:
        return f"feed/{self.feed_name}/delivered"

    def _delivered_by_earlier_try(
        self, records: RunRecords, run: TaskRun
    ) -> tuple[RunResult, dict[str, Any] | None] | None:
        """What an earlier try of this task run delivered, when it died after every destination
        had committed (``None``: no earlier try got that far). The destinations take back what
        they need to finish (``Destination.restore``)."""
        stored = records.get(self._record_name())
        if stored is None:
            return None
        result, saved = _read_delivered_record(stored, records.store.describe(self._record_name()))
        info = self._run_info(run, records)
        for destination in self.destinations:
            destination.restore(dict(result.destinations.get(destination.name, {})), info)
        committed = saved.get("committed_at") if saved else None
        self.log.info(
            "Feed %s: an earlier try of this task run delivered %s records to every destination%s; "
            "this try saves its state and completes without fetching or delivering them again",
            self.feed_name,
            f"{result.records:,}",
            f" (state committed at {committed})" if committed else "",
        )
        return result, saved

    def _run(
        self, records: RunRecords, run: TaskRun, metadata: Metadata, session: Any, context: Context, hook: Any
    ) -> RunResult:
        fetch = self._fetch_spec().build(metadata, session, context, task_logger(self), hook=hook)
        runtime = self._runtime = FeedRuntime(
            self.destinations,
            self._run_info(run, records),
            chunk_size=self.chunk_size,
            max_chunks=self.max_queued_chunks,
            progress_interval=self.progress_interval,
        )
        try:
            return runtime.run(fetch)
        except BaseException:
            if runtime.committed:
                self.log.error(
                    "Feed %s failed after %s committed (the later destinations were rolled back); "
                    "its state stays %s",
                    self.feed_name,
                    ", ".join(runtime.committed),
                    _show(metadata.initial),
                )
            else:
                self.log.error(
                    "Feed %s failed; nothing was committed by this run and its state stays %s",
                    self.feed_name,
                    _show(metadata.initial),
                )
            raise
        finally:
            self._runtime = None

    def on_kill(self) -> None:
        """The task is ending (killed, or past its ``execution_timeout``): the destinations stop
        their requests at once."""
        runtime = self._runtime
        if runtime is not None:
            runtime.cancel()

    def _emit_assets(self, context: Context, result: RunResult) -> None:
        from airflow_provider_peak.hooks.peak import PeakHook

        for destination in self.destinations:
            counts = result.destinations.get(destination.name, {})
            if isinstance(destination, PeakTableDestination) and counts.get("records_sent"):
                base_url = PeakHook(destination.peak_conn_id).settings.base_url
                extra = {"records_sent": counts["records_sent"], "feed_name": self.feed_name}
                if counts.get("dead_letters"):  # where they are: an object-storage URL, its page
                    letters = ("dead_letters", "dead_letter_path", "dead_letter_url")
                    extra.update((k, counts[k]) for k in letters if counts.get(k) is not None)
                emit_table_event(
                    context, self.outlets, destination.peak_conn_id, base_url, destination.table_name, extra
                )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the REST source (its origin and path, no credentials) and every destination,
        with the records it received."""
        delivered = self._delivered
        if delivered is None:
            return None

        def build(facets: Any) -> tuple[list[Any], list[Any]]:
            def output(destination: Destination) -> Any:
                counts = delivered.destinations.get(destination.name, {})
                return openlineage.described(
                    destination.name, lambda: destination.lineage_output(facets, counts)
                )

            outputs = [output(d) for d in self.destinations]
            return [openlineage.url_input(facets, self._source_url)], outputs

        return openlineage.lineage(build)

    def _run_info(self, run: TaskRun, records: RunRecords) -> RunInfo:
        return RunInfo(
            feed_name=self.feed_name,
            load_type=self.load_type,
            run_key=run.key(self.feed_name),
            run_token=run.try_token,
            earlier_tokens=run.earlier_try_tokens,
            logger=task_logger(self),
            in_task=True,
            records=records,
        )

    def _summary(self, result: RunResult, metadata: Metadata, location: str) -> dict[str, Any]:
        return {
            "feed_name": self.feed_name,
            "load_type": self.load_type,
            "records": result.records,
            "destinations": {
                name: {k: v for k, v in counts.items() if _is_scalar(v)}
                for name, counts in result.destinations.items()
            },
            "state_before": metadata.initial,
            "state_after": metadata.value,
            "state_saved": metadata.saved,
            "state_location": location,
            "seconds": round(result.seconds, 3),
        }


def _delivered_record(result: RunResult, saved: dict[str, Any] | None) -> dict[str, Any]:
    """What a task run records once every destination committed (``_read_delivered_record``)."""
    return {
        "format": 1,
        "records": result.records,
        "seconds": round(result.seconds, 3),
        "destinations": {
            name: {k: v for k, v in counts.items() if _is_scalar(v)}
            for name, counts in result.destinations.items()
        },
        "state": saved,
    }


def _read_delivered_record(stored: Any, where: str) -> tuple[RunResult, dict[str, Any] | None]:
    """A delivered run's record, read strictly: one that is not what ``_delivered_record`` writes
    fails the task (``PeakCheckpointError``) rather than fetch and deliver the run again."""
    destinations = stored.get("destinations") if isinstance(stored, dict) else None
    state = stored.get("state") if isinstance(stored, dict) else None
    if (
        not isinstance(stored, dict)
        or stored.get("format") != 1
        or not isinstance(stored.get("records"), int)
        or not isinstance(stored.get("seconds"), (int, float))
        or not isinstance(destinations, dict)
        or not all(isinstance(name, str) and isinstance(c, dict) for name, c in destinations.items())
        or not (state is None or (isinstance(state, dict) and "state" in state))
    ):
        raise PeakCheckpointError(
            where,
            "is not the record of a delivered run the provider writes",
            "Nothing was fetched or sent. If every destination holds this run, delete the record "
            "and save the feed's state yourself; to deliver the run again, delete the record, "
            "then clear the task",
        )
    result = RunResult(records=stored["records"], destinations=destinations, seconds=float(stored["seconds"]))
    return result, state


def summary_table(summary: Mapping[str, Any]) -> str:
    """The run summary as a short text table for the task log."""
    rows = [("destination", "records", "details")]
    for name, counts in summary["destinations"].items():
        rows.append((name, f"{counts.get('records', 0):,}", count_details(counts)))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"  {a.ljust(widths[0])}  {b.rjust(widths[1])}  {c}".rstrip() for a, b, c in rows]
    saved = "saved" if summary["state_saved"] else "unchanged (metadata.save was not called)"
    return "\n".join(
        [
            f"Feed {summary['feed_name']} ({summary['load_type']}): {summary['records']:,} records "
            f"in {summary['seconds']:.1f} s",
            *lines,
            f"  state before: {_show(summary['state_before'])}",
            f"  state after:  {_show(summary['state_after'])} ({saved}; {summary['state_location']})",
        ]
    )


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _show(state: Any, limit: int = 300) -> str:
    text = json.dumps(state, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."

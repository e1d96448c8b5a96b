"""``PeakV2Hook``: Peak's v2 ingestion API for solution tables (see ``docs/ingestion-v2.md``).

List the tenant's solutions, read a solution's schema, send one ingest request (``UPSERT`` on the
primary key or ``APPEND``, optionally a dry run), and load any number of rows (``load_rows``).

v2 limits a tenant's requests *per second*, not in flight, so every request of the hook (schema
calls too) starts through one ``ingest.apis.pacing.RequestPacer`` at the connection's rate: the
tenant's ``requests_per_second`` times its ``requests_per_second_share``. A 429 pauses the pacer for
its ``Retry-After`` and halves its rate, and the retry waits for the pacer alone (no back-off on
top); successes bring the rate back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_peak.exceptions import (
    PeakConfigError,
    RowValidationError,
    SolutionTableNotFoundError,
)
from airflow_provider_peak.hooks._auth import ApiKeyAuth
from airflow_provider_peak.hooks._checkpoint import load_checkpoint, warn_checkpoint_dir
from airflow_provider_peak.hooks._connection import PeakV2Settings, read_connection
from airflow_provider_peak.hooks._transport import JsonApiHook
from airflow_provider_peak.ingest.apis.pacing import RequestPacer
from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.checkpoint import Checkpoint, local_checkpoint
from airflow_provider_peak.ingest.pipeline import ERROR_LIMIT
from airflow_provider_peak.ingest.record_errors import RecordError
from airflow_provider_peak.ingest.sources import iter_records
from airflow_provider_peak.ingest.v2.body import RequestBody
from airflow_provider_peak.ingest.v2.load import MAX_CONCURRENCY, V2LoadOptions, V2LoadSummary, load_rows
from airflow_provider_peak.ingest.v2.reply import IngestOutcome, parse_ingest_reply
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import (
    Solution,
    SolutionSummary,
    SolutionTable,
    parse_solution_schema,
    parse_solutions,
)
from airflow_provider_peak.ingest.v2.wire import Operation
from airflow_provider_peak.ui.forms import (
    PEAK_V2_CONN_FIELDS,
    PEAK_V2_UI_BEHAVIOUR,
    V2_WIRE_NAMES,
    legacy_field_behaviour,
    legacy_form_widgets,
)
from airflow_provider_peak.utils.checks import check_number, path_segment
from airflow_provider_peak.utils.redaction import neutral, scrub

__all__ = ["PeakV2Hook"]

log = logging.getLogger(__name__)


class _SolutionSink:
    """The pipeline's way into one solution table: one paced ingest request per batch."""

    def __init__(self, hook: PeakV2Hook, table: str, dry_run: bool) -> None:
        self.hook, self.table, self.dry_run = hook, table, dry_run

    def send(self, request: Batch) -> IngestOutcome:
        return self.hook._post_rows(self.table, request.body, request.indices, dry_run=self.dry_run)

    def counters(self) -> Mapping[str, int]:
        return self.hook.stats

    def cancel(self) -> None:
        self.hook.cancel()


class PeakV2Hook(JsonApiHook):
    """Talks to Peak's v2 ingestion API with a personal access token (sent raw in ``Authorization``).

    One pooled session per hook; every request starts through the hook's request pacer (see the
    module docstring), is retried on 429/502/503/504 and transport errors, never follows a
    redirect, and fails with a typed error (``airflow_provider_peak.exceptions``) that carries no
    secret.

    :param peak_v2_conn_id: the ``peak_v2`` connection (host = the v2 host, password = the token).
    :param requests_per_second: pace at this rate (default and ceiling: the connection's
        ``requests_per_second`` x ``requests_per_second_share``).
    :param timeout: read time-out in seconds (beats the connection's ``timeout`` extra).
    :param max_retries: retries after the first attempt (beats the ``max_retries`` extra).
    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    conn_name_attr = "peak_v2_conn_id"
    default_conn_name = "peak_v2_default"
    conn_type = PeakV2Settings.conn_type
    hook_name = PeakV2Settings.hook_name
    service_name = "Peak v2"

    def __init__(
        self,
        peak_v2_conn_id: str = default_conn_name,
        *,
        requests_per_second: float | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        api_retry_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_retry_args=api_retry_args, **kwargs)
        self.peak_v2_conn_id = peak_v2_conn_id
        if requests_per_second is not None:
            check_number("requests_per_second", requests_per_second, positive=True)
        self.requests_per_second = requests_per_second
        self._overrides = {"timeout": timeout, "max_retries": max_retries}
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    # ------------------------------------------------------------------ connection
    @cached_property
    def settings(self) -> PeakV2Settings:
        """The connection read once; the token is registered with Airflow's masker."""
        return read_connection(PeakV2Settings, self.get_connection(self.peak_v2_conn_id), self._overrides)

    @cached_property
    def auth(self) -> ApiKeyAuth:
        s = self.settings
        prefix = f"{s.wire.auth_scheme} " if s.wire.auth_scheme else ""
        return ApiKeyAuth(s.token, s.base_url, header=s.wire.auth_header, prefix=prefix)

    @property
    def default_headers(self) -> Mapping[str, str]:
        return self.settings.tenant_headers

    @property
    def pool_size(self) -> int:
        return MAX_CONCURRENCY

    @cached_property
    def pacer(self) -> RequestPacer:
        """The hook's request pacer (one per hook: every request of the hook shares it)."""
        ceiling = self.settings.requests_per_second
        rate = self.requests_per_second
        if rate is not None and rate > ceiling + 1e-9:
            raise PeakConfigError(
                f"requests_per_second={rate:g} is above the peak_v2 connection's {ceiling:g} "
                "(requests_per_second x requests_per_second_share): lower it, or raise the share"
            )
        # A cancelled hook ends its pacer's waits at once (it then starts nothing).
        return RequestPacer(rate or ceiling, max_retry_after=self.settings.retry_after_max, sleep=self._pause)

    def request_pacer(self) -> RequestPacer:
        return self.pacer

    def _json(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, **kwargs: Any
    ) -> Any:
        # A reply's text reaches warnings, row errors and dead letters: never a secret with it.
        return scrub(super()._json(method, path, payload, body=body, **kwargs), self._known_secrets())

    def _warn_once(self, text: str) -> None:
        with self._warn_lock:
            if text in self._warned:
                return
            self._warned.add(text)
        log.warning("Peak v2 reply: %s", text)

    # ------------------------------------------------------------------ solutions
    def list_solutions(self) -> list[SolutionSummary]:
        """The solutions rolled out to the tenant (name, prefix, suffix, target schema, table count)."""
        w = self.settings.wire
        payload = self._json("GET", w.solutions_path)
        found = parse_solutions(payload, w)
        items = payload
        if isinstance(payload, Mapping):
            items = next((payload[k] for k in w.solutions_list_keys if k in payload), None)
        if not found and items != []:
            self._warn_once(
                f"no solution could be read from GET {w.solutions_path} (a list of objects with "
                f"solutionName, bare or under one of {list(w.solutions_list_keys)}: the "
                "solutions_list_keys extra)"
            )
        return found

    def get_solution(self, name: str) -> Solution:
        """A solution's tables, columns, types, formats, required/optional and primary keys, as far
        as the schema reply shows them (what it does not show is left to the server, with a
        warning in the log). The list of solutions supplies a prefix and suffix the reply omits."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise PeakConfigError(f"solution name must be non-empty text of at most 200 characters: {name!r}")
        w = self.settings.wire
        summary = next((s for s in self.list_solutions() if s.name == name), None)
        payload = self._json("GET", w.schema_path, params={w.schema_solution_param: name})
        solution = parse_solution_schema(payload, w, solution_name=name, summary=summary)
        for line in solution.warnings:
            log.warning("Solution %s: %s", name[:80], line)
        return solution

    @staticmethod
    def solution_table(solution: Solution, table: str | SolutionTable) -> tuple[str, SolutionTable | None]:
        """``(full table name, its schema or None)`` for a table given by full or object name.

        When the schema lists no table the provider can read, rows go to ``table`` unchecked (with a
        warning); when it lists others, ``SolutionTableNotFoundError`` names them.
        """
        if isinstance(table, SolutionTable):
            return table.full_name, table
        found = solution.find_table(table)
        if found is not None:
            if not found.columns:
                log.warning(
                    "The schema of %s shows no columns: rows are not checked before sending (the "
                    "server's verdict is reported row by row)",
                    found.full_name,
                )
            return found.full_name, found
        if solution.tables:
            raise SolutionTableNotFoundError(solution.name, table, [t.full_name for t in solution.tables])
        log.warning(
            "The schema of solution %s shows no table the provider can read: rows go to %s unchecked",
            solution.name[:80],
            table[:80],
        )
        return table, None

    # ------------------------------------------------------------------ ingest
    def _ingest_path(self, table: str) -> str:
        path_segment(table, "table")  # never "", "." or "..", nor a "/" out of its segment
        return self.settings.wire.ingest_path_for(table)

    def _post_rows(self, table: str, body: bytes, rows: Sequence[int], *, dry_run: bool) -> IngestOutcome:
        """One ingest request of an encoded body; its reply read leniently (warnings logged once)."""
        payload = self._json("POST", self._ingest_path(table), body=body)
        outcome = parse_ingest_reply(payload, self.settings.wire, sent=len(rows), rows=rows, dry_run=dry_run)
        for note in outcome.warnings:
            self._warn_once(note)
        return outcome

    def ingest(
        self,
        solution: str,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        operation: Operation | str = Operation.UPSERT,
        dry_run: bool = False,
    ) -> IngestOutcome:
        """Send ONE ingest request and return its outcome: rows accepted, rows ``failed`` with their
        codes and messages (v2 accepts a request's good rows), the request id.

        :param table: the full table name (``{prefix}{OBJECT}{suffix}``, e.g. ``QP_PRODUCTS_OOTB``).
        :param rows: JSON-ready rows (``date``, ``datetime`` and ``Decimal`` are written for you);
            they are not checked against the schema: use ``load_rows`` for that, and for any number.
        :param operation: ``upsert`` (on the primary key) or ``append``.
        :param dry_run: the server validates and writes nothing.
        """
        w = self.settings.wire
        request = RequestBody(solution, operation, dry_run=dry_run, wire=w)
        encoder = RowValidator(None)
        parts: list[bytes] = []
        errors: list[RecordError] = []
        invalid = 0
        for index, row in enumerate(rows):
            result = encoder.encode(row, index)
            if isinstance(result, bytes):
                parts.append(result)
            else:
                invalid += 1
                errors.extend(result[: max(0, ERROR_LIMIT - len(errors))])
        if invalid:
            raise RowValidationError(errors, invalid)
        if len(parts) > w.max_rows:
            raise PeakConfigError(f"{len(parts):,} rows in one request; at most {w.max_rows:,} (max_rows)")
        body = request.wrap(b"[" + b",".join(parts) + b"]")
        if len(body) > w.max_bytes:
            raise PeakConfigError(
                f"the request body is {len(body):,} bytes; at most {w.max_bytes:,} (max_bytes)"
            )
        return self._post_rows(table, body, range(len(parts)), dry_run=dry_run)

    def checkpoint(self, run_key: str, *, directory: str | None = None, **meta: Any) -> Checkpoint:
        """A checkpoint in local files for a load outside Airflow (pass it as ``checkpoint=``;
        ``remove()`` it once the load is complete), loaded. Inside a task, ``load_rows(...,
        context=...)`` keeps the task run's checkpoint in Airflow instead."""
        return local_checkpoint(run_key, directory=directory, **meta)

    def load_rows(
        self,
        solution: str | Solution,
        table: str | SolutionTable,
        rows: Any,
        options: V2LoadOptions | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        checkpoint: Checkpoint | None = None,
        checkpoint_dir: str | None = None,
        source_conn_id: str | None = None,
        logger: logging.Logger | None = None,
        **option_kwargs: Any,
    ) -> V2LoadSummary:
        """Check, pack, pace and send any number of rows to one solution table: the one way to load
        a v2 table (``PeakSolutionIngestOperator`` and ``@task`` code call it).

        The connection's ``max_rows`` / ``max_bytes`` are the ceiling of ``options`` (or of the
        ``V2LoadOptions`` keyword arguments). With the task ``context``, each request Peak
        acknowledges is recorded for this task run in Airflow before it counts as done, so a retry
        on any worker never sends it again (APPEND stays free of duplicates, but for the requests in
        flight when a try died or whose reply was lost: see ``docs/reliability.md``); a dry run is
        never checkpointed. A ``checkpoint`` passed in is the caller's.

        :param solution: the solution's name, or the ``Solution`` (read once by the caller).
        :param table: the table's full or object name, or its ``SolutionTable``.
        :param rows: a list, any iterable or generator, a callable returning one, or a path (JSON,
            JSONL; local or object storage, read with ``source_conn_id``).
        :param checkpoint_dir: no longer used (the checkpoint of a task run lives in Airflow).
        :returns: the summary. See ``ingest.v2.load`` for what each ``on_invalid`` raises.
        """
        if options is not None and option_kwargs:
            raise PeakConfigError("pass either options or V2LoadOptions keyword arguments, not both")
        warn_checkpoint_dir(checkpoint_dir)
        decided = (options or V2LoadOptions(**option_kwargs)).within(self.settings.wire)
        found = solution if isinstance(solution, Solution) else self.get_solution(solution)
        target, schema = self.solution_table(found, table)
        # A dry run writes nothing, so it has nothing to resume.
        used = load_checkpoint(
            checkpoint, None if decided.dry_run else context, ("v2", found.name, target), table=target
        )
        return load_rows(
            _SolutionSink(self, target, decided.dry_run),
            found.name,
            target,
            schema,
            iter_records(rows, conn_id=source_conn_id),
            decided,
            wire=self.settings.wire,
            checkpoint=used,
            logger=logger,
        )

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call: the list of solutions."""
        try:
            found = self.list_solutions()
        except Exception as exc:
            return self.failed_test(exc)
        names = ", ".join(neutral(s.name[:60]) for s in found[:5]) + (", ..." if len(found) > 5 else "")
        count = f"{len(found)} solution{'' if len(found) == 1 else 's'}"
        return self.tested(True, f"Connection successfully tested ({count}{': ' + names if names else ''})")

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``).

        That form has no sections to fold the wire names into, so they are not form fields there:
        set them in the Extra Fields JSON (docs/ingestion-v2.md lists each with its default).
        """
        return legacy_form_widgets(PEAK_V2_CONN_FIELDS, extras_only=V2_WIRE_NAMES)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAK_V2_UI_BEHAVIOUR, extras_only=V2_WIRE_NAMES)

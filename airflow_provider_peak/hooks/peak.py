"""``PeakHook``: authentication and the Peak Ingestion API (table schemas and ingest)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import quote

from airflow_provider_peak.exceptions import (
    PeakAcknowledgementError,
    PeakAuthError,
    PeakConfigError,
    PeakConflictError,
    PeakError,
    PeakNotFoundError,
    SchemaError,
)
from airflow_provider_peak.hooks._auth import ApiKeyAuth, OAuthClientCredentials
from airflow_provider_peak.hooks._checkpoint import load_checkpoint, warn_checkpoint_dir
from airflow_provider_peak.hooks._connection import PeakSettings, read_connection
from airflow_provider_peak.hooks._transport import RETRYABLE_STATUS, JsonApiHook, should_retry
from airflow_provider_peak.ingest.batching import Batch
from airflow_provider_peak.ingest.checkpoint import Checkpoint, local_checkpoint
from airflow_provider_peak.ingest.pipeline import IngestOptions, IngestSummary, ingest_records
from airflow_provider_peak.ingest.schema import Column, TableSchema, check_name
from airflow_provider_peak.ingest.sender import NO_COUNT
from airflow_provider_peak.ingest.sources import iter_records
from airflow_provider_peak.transport.paging import MAX_PAGE_TOKEN_CHARS, PageTokens
from airflow_provider_peak.ui.forms import (
    PEAK_CONN_FIELDS,
    PEAK_UI_BEHAVIOUR,
    legacy_field_behaviour,
    legacy_form_widgets,
)

__all__ = ["MAX_PAGE_TOKEN_CHARS", "RETRYABLE_STATUS", "PeakHook", "should_retry"]

log = logging.getLogger(__name__)

IF_EXISTS = ("ignore", "verify", "fail")


class _TableSink:
    """The pipeline's way into one table: one ingest request per batch, the hook's counters."""

    def __init__(self, hook: PeakHook, table: str) -> None:
        self.hook = hook
        self.table = table

    def send(self, batch: Batch) -> Any:
        return self.hook._post_batch(self.table, batch.body)

    def counters(self) -> Mapping[str, int]:
        return self.hook.stats

    def cancel(self) -> None:
        self.hook.cancel()


class PeakHook(JsonApiHook):
    """Talks to the Peak Ingestion API with a tenant API key or OAuth client credentials.

    One ``requests.Session`` per hook, pooled for the tenant's concurrent requests and safe to share
    between threads. Requests are retried on 429/502/503/504 and transport errors with capped,
    jittered exponential back-off that honours ``Retry-After``; an OAuth token is cached, refreshed
    before it expires and once on a 401. Redirects are never followed. Errors are typed (see
    ``airflow_provider_peak.exceptions``).

    :param peak_conn_id: the ``peak`` connection (host = base URL; password = API key, or login and
        password = OAuth client id and secret).
    :param timeout: read time-out in seconds (beats the connection's ``timeout`` extra).
    :param max_retries: retries after the first attempt (beats the ``max_retries`` extra).
    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    conn_name_attr = "peak_conn_id"
    default_conn_name = "peak_default"
    conn_type = PeakSettings.conn_type
    hook_name = PeakSettings.hook_name

    def __init__(
        self,
        peak_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        api_retry_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_retry_args=api_retry_args, **kwargs)
        self.peak_conn_id = peak_conn_id
        self._overrides = {"timeout": timeout, "max_retries": max_retries}

    # ------------------------------------------------------------------ connection
    @cached_property
    def settings(self) -> PeakSettings:
        """The connection read once; secrets are registered with Airflow's masker."""
        return read_connection(PeakSettings, self.get_connection(self.peak_conn_id), self._overrides)

    @cached_property
    def auth(self) -> ApiKeyAuth | OAuthClientCredentials:
        s = self.settings
        if s.auth_mode == "api_key":
            return ApiKeyAuth(s.api_key or "", s.base_url, header=s.api_key_header, prefix=s.api_key_prefix)
        return OAuthClientCredentials(
            s.client_id or "",
            s.client_secret or "",
            self._post_token_request,
            s.base_url,
            audience=s.audience,
            skew=s.token_refresh_skew,
        )

    @property
    def default_headers(self) -> Mapping[str, str]:
        return self.settings.extra_headers

    @property
    def pool_size(self) -> int:
        return self.settings.max_in_flight

    def _post_token_request(self, body: dict[str, Any]) -> Mapping[str, Any]:
        # One attempt: the request that needs the token is retried as a whole, so a failing token
        # endpoint is tried max_retries + 1 times, not that many squared.
        try:
            reply = self._json(
                "POST", self.settings.absolute_token_url, body, authenticated=False, retry=False
            )
        except PeakAuthError as exc:
            raise PeakAuthError(
                exc.status,
                exc.method,
                exc.path,
                f"the OAuth client credentials were refused: {exc.message}",
                code=exc.code,
            ) from None
        if not isinstance(reply, Mapping):
            raise PeakError("the OAuth token reply is not a JSON object")
        return reply

    # ------------------------------------------------------------------ tables
    def _table_path(self, name: str) -> str:
        # A name reaches the URL only once it is a valid table name: never ".", "..", "a/b" or "".
        try:
            check_name(name, "table")
        except SchemaError as exc:
            raise PeakConfigError(str(exc)) from None
        return f"{self.settings.tables_path.rstrip('/')}/{quote(name, safe='')}"

    def _schema_from(self, reply: Any, what: str) -> TableSchema:
        try:
            return TableSchema.from_reply(reply)
        except SchemaError as exc:
            raise PeakError(f"Peak answered {what} with a table the provider cannot read: {exc}") from None

    def create_table(self, name: str, columns: Sequence[Mapping[str, Any] | Column]) -> TableSchema:
        """Create a table schema (validated locally first); ``PeakConflictError`` if it exists."""
        schema = TableSchema.build(name, columns)
        reply = self._json("POST", self.settings.tables_path, schema.to_request())
        return self._schema_from(reply, f"POST {self.settings.tables_path}") if reply else schema

    def get_table(self, name: str) -> TableSchema:
        """Fetch a table schema; ``PeakNotFoundError`` if there is none."""
        path = self._table_path(name)
        return self._schema_from(self._json("GET", path), f"GET {path}")

    def table_exists(self, name: str) -> bool:
        try:
            self.get_table(name)
        except PeakNotFoundError:
            return False
        return True

    def ensure_table(
        self, name: str, columns: Sequence[Mapping[str, Any] | Column], if_exists: str = "ignore"
    ) -> tuple[TableSchema, bool]:
        """Create ``name`` unless it exists; return ``(schema, created)``.

        ``if_exists``: ``ignore`` keeps the existing table as it is, ``verify`` fails with a column
        diff when it differs from ``columns``, ``fail`` fails. Schemas cannot be altered in Peak, so
        a difference can only be reported.
        """
        if if_exists not in IF_EXISTS:
            raise PeakConfigError(f"if_exists must be one of {IF_EXISTS}, got {if_exists!r}")
        wanted = TableSchema.build(name, columns)
        try:
            return self.create_table(name, wanted.columns), True
        except PeakConflictError:
            if if_exists == "fail":
                raise
        existing = self.get_table(name)
        if if_exists == "verify":
            diff = wanted.diff(existing)
            if diff:
                raise PeakError(
                    f"table {name!r} exists with a different schema (Peak schemas cannot be changed):\n"
                    + "\n".join(diff)
                )
        return existing, False

    def _pages(self, limit: int | None, max_pages: int) -> Iterator[list[Any]]:
        """The list replies' pages, following the next-page token until there is none, it repeats,
        or ``max_pages`` pages were read; a token over ``MAX_PAGE_TOKEN_CHARS`` is a ``PeakError``."""
        s = self.settings
        token: str | None = None
        tokens = PageTokens((s.next_token_key, "NextToken", "nextToken"), "Peak's list reply")
        for _ in range(max_pages):
            params: dict[str, Any] = {}
            if limit is not None:
                params["limit"] = limit
            if token:
                params[s.next_token_param] = token
            page = self._json("GET", s.tables_path, params=params)
            if isinstance(page, list):  # a bare JSON array: one page
                yield page
                return
            if not isinstance(page, Mapping):
                raise PeakError(
                    f"Peak answered GET {s.tables_path} with something that is not a page of tables"
                )
            items = page.get(s.tables_key, [])
            if not isinstance(items, list):
                raise PeakError(f"Peak's list reply holds no list at {s.tables_key!r} (the tables_key extra)")
            yield items
            token = tokens.next(page)
            if token is None:
                return
        if token is not None:
            log.warning("Stopped listing Peak tables after %d pages (the max_pages extra)", max_pages)

    def list_tables(
        self, limit: int | None = None, *, max_items: int | None = None, max_pages: int | None = None
    ) -> Iterator[TableSchema]:
        """Yield every table, newest first, page by page.

        :param limit: the page size sent to the API (the API's default is 20).
        :param max_items: stop after this many tables.
        :param max_pages: read at most this many pages (default: the connection's ``max_pages``).
        """
        seen = 0
        for items in self._pages(limit, max_pages or self.settings.max_pages):
            for item in items:
                yield self._schema_from(item, f"GET {self.settings.tables_path}")
                seen += 1
                if max_items is not None and seen >= max_items:
                    return

    # ------------------------------------------------------------------ ingest
    def _post_batch(self, table: str, body: bytes) -> Any:
        """One ingest request; the count Peak acknowledged (``NO_COUNT`` when the reply has none)."""
        reply = self._json("POST", self._table_path(table), body=body)
        key = self.settings.records_ingested_key
        if not isinstance(reply, Mapping) or key not in reply:
            return NO_COUNT
        return reply[key]

    def ingest(self, table: str, records: Sequence[Mapping[str, Any]] | bytes) -> int:
        """Send ONE ingest request and return the number of records Peak reports ingested.

        ``records`` is a list of JSON-ready dicts, or an already encoded JSON array body. The
        request is checked against the connection's record and byte limits before it is sent; use
        ``load_records`` (or ``PeakIngestOperator``) to validate and batch any number of records.
        ``PeakAcknowledgementError`` when Peak acknowledges another count than was sent.
        """
        s = self.settings
        if isinstance(records, (bytes, bytearray)):
            body = bytes(records)
            count: int | None = None
        else:
            if len(records) > s.max_records:
                raise PeakConfigError(f"{len(records)} records in one request; at most {s.max_records}")
            try:
                text = json.dumps(list(records), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PeakConfigError(f"records are not JSON-ready ({exc}); use load_records") from None
            body = text.encode()
            count = len(records)
        if len(body) > s.max_bytes:
            raise PeakConfigError(f"request body is {len(body):,} bytes; at most {s.max_bytes:,}")
        acknowledged = self._post_batch(table, body)
        if acknowledged is NO_COUNT:
            return count or 0
        exact = isinstance(acknowledged, int) and not isinstance(acknowledged, bool)
        if not exact or (count is not None and acknowledged != count):
            raise PeakAcknowledgementError(table, [("(one request)", count or 0, acknowledged)])
        return acknowledged

    def checkpoint(self, run_key: str, *, directory: str | None = None, **meta: Any) -> Checkpoint:
        """A checkpoint in local files for a load outside Airflow (pass it as ``checkpoint=``;
        ``remove()`` it once the load is complete), loaded. Inside a task, ``load_records(...,
        context=...)`` keeps the task run's checkpoint in Airflow instead."""
        return local_checkpoint(run_key, directory=directory, **meta)

    def load_records(
        self,
        table: str | TableSchema,
        records: Any,
        options: IngestOptions | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        columns: Sequence[Mapping[str, Any] | Column] | None = None,
        checkpoint: Checkpoint | None = None,
        checkpoint_dir: str | None = None,
        source_conn_id: str | None = None,
        logger: logging.Logger | None = None,
        **option_kwargs: Any,
    ) -> IngestSummary:
        """Validate, batch and send any number of records to one table: the one way to load a Peak
        table (``PeakIngestOperator``, the REST feed's ``PeakTableDestination`` and ``@task`` code).

        The connection's limits are the ceiling of ``options`` (or of the ``IngestOptions`` keyword
        arguments). With the task ``context``, each batch Peak acknowledges is recorded for this
        task run in Airflow (the task state store, or Variables before Airflow 3.3) before its
        request counts as done, so a retry on any worker resumes after them; the record is removed
        once Airflow has recorded the task's success (see ``docs/reliability.md``). A
        ``checkpoint`` passed in is the caller's.

        :param table: the table's name, or its schema (read once by the caller).
        :param records: a list, any iterable or generator, a callable returning one, a DataFrame or
            Arrow data, or a path (JSON, JSONL, Parquet, CSV; local or object storage, read with
            ``source_conn_id``; CSV cells are typed by the table's columns).
        :param columns: create the table with these columns when it does not exist.
        :param checkpoint_dir: no longer used (the checkpoint of a task run lives in Airflow).
        :returns: the summary. ``RecordValidationError`` without sending anything when a record is
            invalid (``on_invalid="fail"``).
        """
        if options is not None and option_kwargs:
            raise PeakConfigError("pass either options or IngestOptions keyword arguments, not both")
        warn_checkpoint_dir(checkpoint_dir)
        decided = (options or IngestOptions(**option_kwargs)).within(self.settings.limits)
        if isinstance(table, TableSchema):
            schema = table
        elif columns:
            schema, _ = self.ensure_table(table, columns, "ignore")
        else:
            schema = self.get_table(table)
        return ingest_records(
            _TableSink(self, schema.name),
            schema,
            iter_records(records, conn_id=source_conn_id, columns=schema.columns),
            decided,
            checkpoint=load_checkpoint(checkpoint, context, (schema.name,), table=schema.name),
            logger=logger,
        )

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call: the first page of tables (one table)."""
        try:
            pages = self._pages(limit=1, max_pages=1)
            items = next(pages, [])
            first = self._schema_from(items[0], "the list of tables").name if items else None
        except Exception as exc:
            return self.failed_test(exc)
        suffix = f" (newest table: {first})" if first else " (no tables yet)"
        return self.tested(True, f"Connection successfully tested{suffix}")

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``)."""
        return legacy_form_widgets(PEAK_CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAK_UI_BEHAVIOUR)

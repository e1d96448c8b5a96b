"""``PeakHook``: authentication and the Peak Ingestion API (table schemas and ingest)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_peak.exceptions import (
    PeakAuthError,
    PeakConfigError,
    PeakError,
    PeakNotFoundError,
)
from airflow_provider_peak.hooks._auth import ApiKeyAuth, OAuthClientCredentials
from airflow_provider_peak.hooks._connection import PeakSettings, settings_from_connection
from airflow_provider_peak.hooks._transport import RETRYABLE_STATUS, JsonApiHook, should_retry
from airflow_provider_peak.ingest.schema import Column, TableSchema
from airflow_provider_peak.ui.forms import (
    PEAK_CONN_FIELDS,
    PEAK_UI_BEHAVIOUR,
    legacy_field_behaviour,
    legacy_form_widgets,
)
from airflow_provider_peak.utils.redaction import scrub
from airflow_provider_peak.version_compat import mask_secret

if TYPE_CHECKING:
    from airflow_provider_peak.ingest.checkpoint import Checkpoint
    from airflow_provider_peak.ingest.pipeline import IngestOptions, IngestSummary

__all__ = ["RETRYABLE_STATUS", "PeakHook", "should_retry"]

log = logging.getLogger(__name__)


class PeakHook(JsonApiHook):
    """Talks to the Peak Ingestion API with a tenant API key or OAuth client credentials.

    One ``requests.Session`` per hook, pooled for the API's 30 concurrent requests and safe to share
    between threads. Requests are retried on 429/502/503/504 and transport errors with capped,
    jittered exponential back-off that honours ``Retry-After``; an OAuth token is cached, refreshed
    before it expires and once on a 401. Errors are typed (see ``airflow_provider_peak.exceptions``).

    :param peak_conn_id: the ``peak`` connection (host = base URL; password = API key, or login and
        password = OAuth client id and secret).
    :param timeout: read time-out in seconds (beats the connection's ``timeout`` extra).
    :param max_retries: retries after the first attempt (beats the ``max_retries`` extra).
    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    conn_name_attr = "peak_conn_id"
    default_conn_name = "peak_default"
    conn_type = "peak"
    hook_name = "Peak"

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
        return settings_from_connection(PeakSettings, self.get_connection(self.peak_conn_id), self._overrides)

    @cached_property
    def auth(self) -> ApiKeyAuth | OAuthClientCredentials:
        s = self.settings
        if s.auth_mode == "api_key":
            return ApiKeyAuth(s.api_key or "", header=s.api_key_header, prefix=s.api_key_prefix)
        return OAuthClientCredentials(
            s.client_id or "",
            s.client_secret or "",
            self._fetch_token,
            audience=s.audience,
            skew=s.token_refresh_skew,
            on_token=mask_secret,
        )

    def _fetch_token(self, body: dict[str, Any]) -> Mapping[str, Any]:
        try:
            reply = self._json("POST", self.settings.absolute_token_url, body, authenticated=False)
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
        return f"{self.settings.tables_path}/{quote(name, safe='')}"

    def create_table(self, name: str, columns: Sequence[Mapping[str, Any] | Column]) -> TableSchema:
        """Create a table schema (validated locally first); ``PeakConflictError`` if it exists."""
        schema = TableSchema.build(name, columns)
        reply = self._json("POST", self.settings.tables_path, schema.to_request())
        return TableSchema.from_dict(reply)

    def get_table(self, name: str) -> TableSchema:
        """Fetch a table schema; ``PeakNotFoundError`` if there is none."""
        return TableSchema.from_dict(self._json("GET", self._table_path(name)))

    def table_exists(self, name: str) -> bool:
        try:
            self.get_table(name)
        except PeakNotFoundError:
            return False
        return True

    def list_tables(self, limit: int | None = None, *, max_items: int | None = None) -> Iterator[TableSchema]:
        """Yield every table, newest first, following ``nextToken`` page by page.

        :param limit: the page size sent to the API (the API's default is 20).
        :param max_items: stop after this many tables.
        """
        s = self.settings
        token: str | None = None
        seen = 0
        while True:
            params: dict[str, Any] = {}
            if limit is not None:
                params["limit"] = limit
            if token:
                params[s.next_token_param] = token
            page = self._json("GET", s.tables_path, params=params)
            for item in page.get("tables", []):
                yield TableSchema.from_dict(item)
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            token = page.get(s.next_token_key) or page.get("NextToken") or page.get("nextToken")
            if not token:
                return

    # ------------------------------------------------------------------ ingest
    def ingest(self, table: str, records: Sequence[Mapping[str, Any]] | bytes) -> int:
        """Send ONE ingest request and return the number of records Peak reports ingested.

        ``records`` is a list of JSON-ready dicts, or an already encoded JSON array body. The
        request is checked against the record and byte limits before it is sent; use
        ``ingest_records`` (or ``PeakIngestOperator``) to validate and batch any number of records.
        """
        s = self.settings
        if isinstance(records, (bytes, bytearray)):
            body = bytes(records)
            count = None
        else:
            if len(records) > s.max_records:
                raise PeakConfigError(f"{len(records)} records in one request; at most {s.max_records}")
            try:
                text = json.dumps(list(records), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PeakConfigError(f"records are not JSON-ready ({exc}); use ingest_records") from None
            body = text.encode()
            count = len(records)
        if len(body) > s.max_bytes:
            raise PeakConfigError(f"request body is {len(body):,} bytes; at most {s.max_bytes:,}")
        reply = self._json("POST", self._table_path(table), body=body)
        ingested = reply.get(s.records_ingested_key) if isinstance(reply, Mapping) else None
        return int(ingested) if ingested is not None else (count or 0)

    def ingest_records(
        self,
        table: str | TableSchema,
        records: Any,
        *,
        options: IngestOptions | None = None,
        checkpoint: Checkpoint | None = None,
        run_key: str = "",
        logger: logging.Logger | None = None,
        **option_kwargs: Any,
    ) -> IngestSummary:
        """Validate, batch and send any number of records (for ``@task`` code).

        ``records``: a list, any iterable or generator, a callable returning one, or a JSON/JSONL
        path. Keyword options are those of ``IngestOptions`` (``max_records``, ``max_bytes``,
        ``max_concurrency``, ``on_invalid``, ``dead_letter_path``, ``batch_id_column``). Returns the
        summary; raises ``RecordValidationError`` without sending anything when a record is invalid
        (``on_invalid="fail"``).
        """
        from airflow_provider_peak.ingest.pipeline import IngestOptions, ingest_records
        from airflow_provider_peak.ingest.sources import iter_records

        schema = table if isinstance(table, TableSchema) else self.get_table(table)
        return ingest_records(
            lambda batch: self.ingest(schema.name, batch.body),
            schema,
            lambda: iter_records(records),
            options or IngestOptions(**option_kwargs),
            checkpoint=checkpoint,
            run_key=run_key,
            counters=lambda: self.stats,
            logger=logger,
        )

    # ------------------------------------------------------------------ Airflow UI
    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call: list one table."""
        try:
            tables = list(self.list_tables(limit=1, max_items=1))
        except Exception as exc:
            return False, scrub(str(exc), self._known_secrets())
        suffix = f" (newest table: {tables[0].name})" if tables else " (no tables yet)"
        return True, f"Connection successfully tested{suffix}"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form on Airflow < 3.2 (3.2+ reads ``conn-fields``)."""
        return legacy_form_widgets(PEAK_CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide form fields on Airflow < 3.2."""
        return legacy_field_behaviour(PEAK_UI_BEHAVIOUR)

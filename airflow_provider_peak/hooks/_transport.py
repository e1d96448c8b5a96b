"""``JsonApiHook``: the base of the hooks that speak JSON over HTTP (Peak, Peak v2, Peaka, and the
token requests of a REST source).

The exchange itself (session, deadline, bounded reads, no redirects, typed errors, the retry
policy, sync and async) is the transport's (``airflow_provider_peak.transport``); a hook reads its
connection once (``settings``), supplies its credentials (``auth``) and the headers of its origin,
and gets one ``JsonClient`` built from them on first use. ``cancel()`` (a task's deadline or
kill) ends the hook's exchanges in flight and every later one (``transport.client.Cancellation``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from airflow_provider_peak.exceptions import PeakAuthError, PeakCredentialsError
from airflow_provider_peak.transport.client import (
    USER_AGENT,
    Cancellation,
    Counters,
    JsonClient,
    Pacer,
    TransportSettings,
)
from airflow_provider_peak.transport.replies import UNREADABLE_JSON, Reply
from airflow_provider_peak.transport.retry import RETRYABLE_STATUS, should_retry
from airflow_provider_peak.utils.redaction import scrub
from airflow_provider_peak.version_compat import BaseHook

__all__ = [
    "RETRYABLE_STATUS",
    "UNREADABLE_JSON",
    "USER_AGENT",
    "JsonApiHook",
    "Reply",
    "TransportSettings",
    "should_retry",
]

log = logging.getLogger(__name__)


class JsonApiHook(BaseHook):
    """Base of the hooks that speak JSON over HTTP (see the module docstring).

    Subclasses supply ``settings`` (``TransportSettings``), ``auth`` (an ``_auth.OriginAuth``) and
    may add ``default_headers`` sent to the base URL's origin and a request ``pacer``.

    :param api_retry_args: ``tenacity.Retrying`` arguments replacing the default policy.
    """

    #: Named in log lines and error messages.
    service_name = "Peak"

    @property
    def settings(self) -> TransportSettings:
        """The connection's settings (subclasses read them once, as a cached property)."""
        raise NotImplementedError

    @property
    def auth(self) -> Any:
        """The ``requests`` auth of the connection's credentials."""
        raise NotImplementedError

    @property
    def default_headers(self) -> Mapping[str, str]:
        return {}

    @property
    def pool_size(self) -> int:
        return 10

    def request_pacer(self) -> Pacer | None:
        """The pacer every request of the hook starts through; none by default."""
        return None

    def __init__(self, *, api_retry_args: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tls_warned = False
        self._api_retry_args = dict(api_retry_args or {})
        self._counters = Counters()
        self._client: JsonClient | None = None
        self._cancellation = Cancellation()
        self._client_lock = threading.RLock()  # building the client reads the connection, once

    @property
    def client(self) -> JsonClient:
        """The connection's JSON client (sync and async), built on first use (once, whichever of the
        threads sending a load's batches asks first)."""
        with self._client_lock:
            if self._client is None:
                self._client = JsonClient(
                    self.settings,
                    auth=self.auth,
                    default_headers=self.default_headers,
                    service=self.service_name,
                    pool_size=self.pool_size + 2,
                    retry_args=self._api_retry_args,
                    pacer=self.request_pacer(),
                    counters=self._counters,
                    on_open=self.warn_if_unverified,
                    cancellation=self._cancellation,
                )
            return self._client

    # ------------------------------------------------------------------ cancellation
    def cancel(self) -> None:
        """Abandon this hook's requests in flight (their connections are shut down) and start no
        other: every later request, retry, back-off or pacer wait ends with ``PeakCancelledError``.
        For a task that is ending (its ``execution_timeout`` passed, or it was killed)."""
        self._cancellation.cancel()

    def _pause(self, seconds: float) -> None:
        """Sleep for a back-off or a pacer's turn; ``cancel`` ends it at once."""
        self._cancellation.pause(seconds)

    # ------------------------------------------------------------------ TLS
    #: What the log and ``test_connection`` say of a connection with ``verify=false``.
    UNVERIFIED_TLS = (
        "TLS certificates are NOT verified (the connection's verify extra is false): anyone on the "
        "network path can read and change the traffic, credentials included"
    )

    def warn_if_unverified(self) -> None:
        """A warning, once per hook, when the connection turns certificate verification off (every
        path that opens a session or client calls it: sync, async, the fetch session)."""
        if self.settings.verify is False and not self._tls_warned:
            self._tls_warned = True
            log.warning("%s connection %s: %s", self.service_name, self.conn_id, self.UNVERIFIED_TLS)

    @property
    def conn_id(self) -> str:
        """The id of the connection the hook reads (named in warnings and errors)."""
        return getattr(self, str(getattr(self, "conn_name_attr", "")), None) or "(unnamed)"

    def tested(self, success: bool, message: str) -> tuple[bool, str]:
        """A ``test_connection`` answer, saying so when certificates are not verified."""
        try:
            unverified = self.settings.verify is False
        except Exception:  # the connection itself could not be read: the message says why
            unverified = False
        return success, f"{message}. Warning: {self.UNVERIFIED_TLS}" if unverified else message

    def failed_test(self, exc: Exception) -> tuple[bool, str]:
        """A failed ``test_connection`` answer: the error, without secrets. Refused credentials read
        as the server answered them: the connection being tested is the one in the form."""
        if isinstance(exc, PeakCredentialsError) and isinstance(exc.__context__, PeakAuthError):
            exc = exc.__context__
        return self.tested(False, scrub(str(exc), self._known_secrets()))

    # ------------------------------------------------------------------ session
    def get_conn(self) -> requests.Session:
        """The hook's shared ``requests.Session``, created on first use."""
        return self.client.session()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the async client (the triggerer's), and the session."""
        if self._client is not None:
            await self._client.aclose()
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """Counts since the hook was created: requests sent, retries, token refreshes, 429 replies."""
        counters = self._counters.snapshot()
        counters["token_refreshes"] += getattr(self.__dict__.get("auth"), "refreshes", 0)
        return counters

    # ------------------------------------------------------------------ requests
    def _retry_args(self) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` or ``AsyncRetrying``; the caller's override wins."""
        return self.client.retry_args()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds before the next attempt (the policy's; see ``transport.retry``)."""
        return self.client.policy.wait_for(state)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        retry: bool = True,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send a request with the retry policy (``retry=False``: one attempt; ``idempotent=False``:
        retried only when the server surely did not act on it); return the reply or raise a typed
        error. ``headers`` beat the defaults (``Content-Type: application/json``)."""
        with self._credentials_checked(authenticated):
            return self.client.request(
                method,
                path,
                body=body,
                params=params,
                authenticated=authenticated,
                retry=retry,
                idempotent=idempotent,
                headers=headers,
            )

    def _json(
        self, method: str, path: str, payload: Any = None, *, body: bytes | None = None, **kwargs: Any
    ) -> Any:
        """Send ``payload`` as JSON (or a pre-encoded ``body``) and return the parsed reply."""
        with self._credentials_checked(kwargs.get("authenticated", True)):
            return self.client.json(method, path, payload, body=body, **kwargs)

    @contextmanager
    def _credentials_checked(self, authenticated: bool) -> Iterator[None]:
        """A 401/403 on a request that carried the connection's credentials (after the one token
        refresh) becomes ``credentials_refused``; token requests are left to the auth that sent them."""
        try:
            yield
        except PeakAuthError as exc:
            if not authenticated or isinstance(exc, PeakCredentialsError):
                raise
            raise self.credentials_refused(exc) from None

    def credentials_refused(self, exc: PeakAuthError) -> PeakCredentialsError:
        """``exc`` as a ``PeakCredentialsError``: the same status, code and path, and a message that
        names the connection, the field to fix and the host that refused (never a secret). Raised
        in a task, it fails the task without its retries: they would send the same credentials."""
        settings = self.settings
        host = urlsplit(exc.path).hostname or urlsplit(settings.base_url).hostname or "the host"
        hint = getattr(settings, "credentials_hint", "password")
        conn_type = getattr(self, "conn_type", self.service_name)
        message = (
            f"{exc.message or 'credentials refused'}. {host} refused the credentials of the "
            f"{conn_type} connection {self.conn_id!r}: check its {hint}. The task fails without "
            "retries: they would send the same credentials"
        )
        return PeakCredentialsError(
            exc.status, exc.method, exc.path, message, code=exc.code, details=exc.details
        )

    def _known_secrets(self) -> tuple[str, ...]:
        try:
            return self.settings.secrets
        except Exception:
            return ()

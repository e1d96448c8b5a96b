"""Every error the provider raises, in one tree rooted at ``PeakError`` (an ``AirflowException``).

Every HTTP failure keeps its status, method, path, the server's error code and details, so callers
branch on the type (never on the message). Errors about arguments, connections, schemas and
records are also ``ValueError``s. No message ever carries a credential.

::

    PeakError
    ├── PeakConfigError (ValueError): a connection or argument that cannot work
    │   ├── SchemaError: a table or column definition Peak would reject
    │   │   └── FormatError: a date/time pattern that cannot be compiled
    │   ├── SolutionTableNotFoundError: a table that a v2 solution's schema does not list
    │   ├── FeedNameError: a feed name Peak would refuse
    │   ├── PeakaSpecError: a Peaka table spec or schedule Peaka would refuse
    │   └── MissingExtraError: a feature whose extra is not installed (it names the extra)
    ├── RecordValidationError (ValueError): records Peak would reject; nothing was sent
    │   └── RowValidationError: v2 rows the solution schema rejects; nothing was sent
    ├── RecordTooLargeError (ValueError): one record larger than any request body
    ├── StagedConversionError (ValueError): a feed's records do not fit a warehouse table's types
    ├── PeakRowsFailedError: v2 rows Peak reported in ``failed`` (the other rows were accepted)
    ├── PeakConnectionError: the API could not be reached
    ├── PeakHTTPError: the API answered with an error status
    │   ├── PeakRedirectError (3xx, never followed)
    │   ├── PeakValidationError (400), PeakAuthError (401/403), PeakNotFoundError (404)
    │   │   └── PeakCredentialsError: refused credentials; fails the task without retries
    │   ├── PeakConflictError (409), PeakPayloadTooLargeError (413)
    │   └── PeakRateLimitError (429), PeakServerError (5xx)
    ├── PeakAcknowledgementError: Peak acknowledged other record counts than were sent
    ├── PeakCheckpointError: a task run's record of acknowledged batches cannot be read or written
    ├── PeakChangedInputError: a retry rebuilt other batches than an earlier try acknowledged
    ├── PeakCancelledError: a request not started, or abandoned, because the task is ending
    ├── PeakRestAuthError: a REST source's Custom Auth token request failed
    ├── PeakaCacheFailedError: a Peaka cache run ended FAILED or CANCELLED, or the cache is gone
    ├── PeakaBatchCacheError: some tables of a Peaka batch got no cache
    ├── PeakaTriggerUnknownError: a cache run request got no clear answer and no new run was found
    ├── PeakWorkflowFailedError: a Peak workflow run ended Failed or Stopped (names its failed steps)
    ├── PeakWorkflowTimeoutError: a Peak workflow run did not end in time (it goes on in Peak)
    ├── PeakWorkflowStartUnknownError: a run request got no answer and no new run was found
    ├── FetchProcessError: a REST feed's fetch failed in its virtualenv
    └── UnsafePathError: a folder or file on the worker that another account could change

    FeedAborted (BaseException, like Airflow's AirflowTaskTimeout): the signal a REST feed's fetch
    and destinations get when the run stops because a destination failed; not an error to catch

The classes are defined once, without Airflow, in ``airflow_provider_peak.errors`` (the core
raises those); each class here is its twin with ``AirflowException`` mixed in, and constructing a
class of ``errors`` in a process that has Airflow returns its twin. So ``except PeakConfigError:``
catches the error whichever module the class came from, and everything the provider raises inside
Airflow is an ``AirflowException``.
"""

from __future__ import annotations

from typing import Any

from airflow.exceptions import AirflowException

from airflow_provider_peak import errors
from airflow_provider_peak.errors import MESSAGE_ERROR_LIMIT, FeedAborted, error_class_for
from airflow_provider_peak.version_compat import AirflowFailException

__all__ = [
    "MESSAGE_ERROR_LIMIT",
    "FeedAborted",
    "FeedNameError",
    "FetchProcessError",
    "FormatError",
    "MissingExtraError",
    "PeakAcknowledgementError",
    "PeakAuthError",
    "PeakCancelledError",
    "PeakChangedInputError",
    "PeakCheckpointError",
    "PeakConfigError",
    "PeakConflictError",
    "PeakConnectionError",
    "PeakCredentialsError",
    "PeakError",
    "PeakHTTPError",
    "PeakNotFoundError",
    "PeakPayloadTooLargeError",
    "PeakRateLimitError",
    "PeakRedirectError",
    "PeakRestAuthError",
    "PeakRowsFailedError",
    "PeakServerError",
    "PeakValidationError",
    "PeakWorkflowFailedError",
    "PeakWorkflowStartUnknownError",
    "PeakWorkflowTimeoutError",
    "PeakaBatchCacheError",
    "PeakaCacheFailedError",
    "PeakaSpecError",
    "PeakaTriggerUnknownError",
    "RecordTooLargeError",
    "RecordValidationError",
    "RowValidationError",
    "SchemaError",
    "SolutionTableNotFoundError",
    "StagedConversionError",
    "UnsafePathError",
    "error_class_for",
]


class PeakError(errors.PeakError, AirflowException):
    """Base class of every error raised by this provider."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Each class below is the twin of the class of ``errors`` it names last among its bases.
        super().__init_subclass__(**kwargs)
        core = cls.__bases__[-1]
        if core.__module__ != errors.__name__ or core.__name__ != cls.__name__:
            raise TypeError(f"{cls.__name__} must name errors.{cls.__name__} as its last base")
        cls.__doc__ = core.__doc__
        errors.register_twin(core, cls)


errors.register_twin(errors.PeakError, PeakError)


class PeakConfigError(PeakError, errors.PeakConfigError): ...


class SchemaError(PeakConfigError, errors.SchemaError): ...


class FormatError(SchemaError, errors.FormatError): ...


class FeedNameError(PeakConfigError, errors.FeedNameError): ...


class PeakaSpecError(PeakConfigError, errors.PeakaSpecError): ...


class MissingExtraError(PeakConfigError, errors.MissingExtraError): ...


class SolutionTableNotFoundError(PeakConfigError, errors.SolutionTableNotFoundError): ...


class RecordValidationError(PeakError, errors.RecordValidationError): ...


class RowValidationError(RecordValidationError, errors.RowValidationError): ...


class RecordTooLargeError(PeakError, errors.RecordTooLargeError): ...


class PeakRowsFailedError(PeakError, errors.PeakRowsFailedError): ...


class PeakConnectionError(PeakError, errors.PeakConnectionError): ...


class PeakHTTPError(PeakError, errors.PeakHTTPError): ...


class PeakRedirectError(PeakHTTPError, errors.PeakRedirectError): ...


class PeakValidationError(PeakHTTPError, errors.PeakValidationError): ...


class PeakAuthError(PeakHTTPError, errors.PeakAuthError): ...


class PeakCredentialsError(PeakAuthError, AirflowFailException, errors.PeakCredentialsError): ...


class PeakNotFoundError(PeakHTTPError, errors.PeakNotFoundError): ...


class PeakConflictError(PeakHTTPError, errors.PeakConflictError): ...


class PeakPayloadTooLargeError(PeakHTTPError, errors.PeakPayloadTooLargeError): ...


class PeakRateLimitError(PeakHTTPError, errors.PeakRateLimitError): ...


class PeakServerError(PeakHTTPError, errors.PeakServerError): ...


class PeakAcknowledgementError(PeakError, errors.PeakAcknowledgementError): ...


class PeakCheckpointError(PeakError, errors.PeakCheckpointError): ...


class PeakChangedInputError(PeakError, errors.PeakChangedInputError): ...


class PeakCancelledError(PeakError, errors.PeakCancelledError): ...


class PeakRestAuthError(PeakError, errors.PeakRestAuthError): ...


class PeakaCacheFailedError(PeakError, errors.PeakaCacheFailedError): ...


class PeakaBatchCacheError(PeakError, errors.PeakaBatchCacheError): ...


class PeakaTriggerUnknownError(PeakError, errors.PeakaTriggerUnknownError): ...


class PeakWorkflowFailedError(PeakError, errors.PeakWorkflowFailedError): ...


class PeakWorkflowTimeoutError(PeakError, errors.PeakWorkflowTimeoutError): ...


class PeakWorkflowStartUnknownError(PeakError, errors.PeakWorkflowStartUnknownError): ...


class FetchProcessError(PeakError, errors.FetchProcessError): ...


class StagedConversionError(PeakError, errors.StagedConversionError): ...


class UnsafePathError(PeakError, errors.UnsafePathError): ...

"""One problem with one record: ``RecordError``, for every Peak API.

A record error names the record (its index in the input), the column or key at fault and the
reason, with a truncated ``repr`` of the offending value only: a record may hold secrets or
personal data, so whole records never go into messages. Peak's v2 API also gives each problem a
code (``DI_E_...``) and a category; ``RowError`` is the same error under v2's names (``row``,
``message``) and v2's wording of ``str()``.

No Airflow import: the validator, the pipeline, the feed's destinations and the benchmarks share it.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

from airflow_provider_peak.utils.redaction import neutral

__all__ = ["VALUE_REPR_LIMIT", "RecordError", "RowError", "short_repr"]

#: Longest ``repr`` of an offending value kept in a ``RecordError``.
VALUE_REPR_LIMIT = 60

_repr = reprlib.Repr()
_repr.maxstring = VALUE_REPR_LIMIT
_repr.maxother = VALUE_REPR_LIMIT
_repr.maxlevel = 3
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = 6


def short_repr(value: Any, limit: int = VALUE_REPR_LIMIT) -> str:
    """A ``repr`` of ``value`` cut to ``limit`` characters, cheap even for huge values."""
    try:
        text = _repr.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class RecordError:
    """One problem with one record, as the server would report it.

    :param record: 0-based index of the record in the input stream.
    :param column: the column (or unknown key) at fault; ``None`` when the record as a whole is.
    :param value: a truncated ``repr`` of the offending value (never the whole record); ``None``
        when there is no value (a required column that is missing, a v2 server's verdict).
    :param reason: starts with ``not a JSON object``, ``unknown column``, ``expected <type>``,
        ``out of range``, ``exceeds precision``, ``exceeds scale`` or ``does not match`` (v1's
        wording; v2 words it after its code).
    :param code: the API's code for the problem (v2: ``DI_E_...``); ``None`` where the API has none.
    :param category: the code's category (v2: ``DATA_TYPE``, ``FORMAT``...); ``None`` likewise.
    """

    record: int
    column: str | None
    value: str | None
    reason: str
    code: str | None = None
    category: str | None = None

    def __str__(self) -> str:
        where = (
            f"record {self.record}"
            if self.column is None
            else f"record {self.record}, column {self.column!r}"
        )
        return f"{where}: {self.reason} (value {self.value})"


class RowError(RecordError):
    """A ``RecordError`` of Peak's v2 API, under v2's names: client-side (``value`` set) or
    reported by the server.

    ``RowError(row, column, code, category, message, value=None)``; ``row`` is ``record`` and
    ``message`` is ``reason``.
    """

    code: str
    category: str

    def __init__(
        self,
        row: int,
        column: str | None,
        code: str,
        category: str,
        message: str,
        value: str | None = None,
    ) -> None:
        super().__init__(row, column, value, message, code, category)

    @property
    def row(self) -> int:
        """The row's index in the input (or in the request, when the server's index is unmapped)."""
        return self.record

    @property
    def message(self) -> str:
        return self.reason

    def __str__(self) -> str:
        where = f"row {self.row}" if self.column is None else f"row {self.row}, column {self.column!r}"
        text = f"{where}: {neutral(self.code)} {self.category}: {self.message}"
        return text if self.value is None else f"{text} (value {self.value})"

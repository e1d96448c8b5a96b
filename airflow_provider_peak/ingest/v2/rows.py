"""Client-side checks of v2 rows against a solution table, predicting the server's per-row verdict.

``RowValidator`` is the one validator compiler (``ingest.validation.RecordEncoder``) with Peak's
v2 rules (``validation.V2``): every problem a ``RowError`` with a ``DI_E_...`` code of
``ingest.v2.codes``, in the order the emulator reports them (``docs/ingestion-v2.md``): the row's
keys in order, then the required columns it lacks in schema order.

Only what the schema shows is checked: an unknown type, format, precision or enum list is left to
the server. Without a table (``RowValidator(None)``) rows are only encoded. Python conveniences:
``date``/``datetime`` are rendered in the column's format, ``Decimal`` is written as its exact text,
tuples are arrays. Errors carry a truncated ``repr`` of the value, never the whole row.
"""

from __future__ import annotations

from airflow_provider_peak.ingest.record_errors import RowError
from airflow_provider_peak.ingest.types import NUMERIC_TEXT, value_digits
from airflow_provider_peak.ingest.v2.schema import SolutionTable
from airflow_provider_peak.ingest.validation import V2, RecordEncoder

__all__ = ["NUMERIC_TEXT", "RowError", "RowValidator", "value_digits"]


class RowValidator(RecordEncoder):
    """Checks and encodes rows for one solution table (or only encodes them, with ``table=None`` or
    a table whose columns the schema reply did not show).

    :param case_sensitive: row keys must spell a column exactly (the default); ``False`` matches
        ignoring case and sends the schema's spelling.
    """

    def __init__(self, table: SolutionTable | None, *, case_sensitive: bool = True) -> None:
        super().__init__(table, rules=V2, case_sensitive=case_sensitive)

    @property
    def table(self) -> SolutionTable | None:
        return self.schema  # type: ignore[return-value]

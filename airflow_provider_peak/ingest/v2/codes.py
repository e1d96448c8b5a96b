"""The row-level error codes this provider uses for Peak's v2 API (the emulator answers with the same).

Peak documents the shape of a row error (a ``DI_E_XXXXX`` code, a category and a message) but not its
catalogue. These codes are this provider's own (**assumed**, see ``docs/ingestion-v2.md``): the
client-side validator predicts them and the emulator answers with them, so the two can be compared
row by row. Against the real API, read codes from the reply and never branch on these values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowCode:
    """One kind of row failure: ``code`` (``DI_E_`` + five characters), ``category``, ``summary``."""

    code: str
    category: str
    summary: str


NOT_AN_OBJECT = RowCode("DI_E_10001", "STRUCTURE", "the row is not a JSON object")
UNKNOWN_COLUMN = RowCode("DI_E_10002", "SCHEMA", "the key is not a column of the table")
MISSING_REQUIRED = RowCode("DI_E_10003", "REQUIRED", "a required column is missing")
NULL_NOT_ALLOWED = RowCode("DI_E_10004", "REQUIRED", "null in a nonNull or primary key column")
DUPLICATE_COLUMN = RowCode("DI_E_10005", "SCHEMA", "two keys name the same column (case-insensitive)")
WRONG_TYPE = RowCode("DI_E_20001", "DATA_TYPE", "the value has the wrong type")
OUT_OF_RANGE = RowCode("DI_E_20002", "DATA_TYPE", "the integer is outside -2**63 .. 2**63-1")
EXCEEDS_PRECISION = RowCode("DI_E_20003", "PRECISION", "more integer digits than precision - scale")
EXCEEDS_SCALE = RowCode("DI_E_20004", "PRECISION", "more fraction digits than the scale")
BAD_FORMAT = RowCode("DI_E_20005", "FORMAT", "not in the column's date/timestamp format")
BAD_LENGTH = RowCode("DI_E_20006", "CONSTRAINT", "shorter than minLength or longer than maxLength")
NOT_ALLOWED_VALUE = RowCode("DI_E_20007", "CONSTRAINT", "not one of the enum's values")

#: Every code, by its ``code`` string.
ROW_CODES: dict[str, RowCode] = {
    c.code: c
    for c in (
        NOT_AN_OBJECT,
        UNKNOWN_COLUMN,
        MISSING_REQUIRED,
        NULL_NOT_ALLOWED,
        DUPLICATE_COLUMN,
        WRONG_TYPE,
        OUT_OF_RANGE,
        EXCEEDS_PRECISION,
        EXCEEDS_SCALE,
        BAD_FORMAT,
        BAD_LENGTH,
        NOT_ALLOWED_VALUE,
    )
}

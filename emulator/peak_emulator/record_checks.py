"""The emulator's record validation: the server's side of docs/contract.md, written independently
of the client's compiled validator so that a property test comparing the two means something.
Plain and slow on purpose: one readable rule per type.

Records arrive parsed with ``parse_float=Decimal``, so a JSON number with a fraction or exponent
is a ``Decimal`` and an integer literal is an ``int``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from peak_emulator.peak_tables import ColumnDef, TableDef

MAX_DETAILS = 1_000
NUMERIC_STRING = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _is_number(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, Decimal)


def _digits(value: int | Decimal | str) -> tuple[int, int]:
    """Integer digits (no leading zeros; zero has none) and fraction digits, as written."""
    number = Decimal(value) if not isinstance(value, Decimal) else value
    exponent = number.as_tuple().exponent
    fraction = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    whole = abs(int(number))
    return (len(str(whole)) if whole else 0), fraction


def check_value(column: ColumnDef, value: Any) -> str | None:
    """The reason ``value`` is not acceptable for ``column``, or ``None`` when it is."""
    kind = column.type
    if value is None or kind == "JSON":
        return None
    if kind == "string":
        return None if isinstance(value, str) else "expected string"
    if kind == "boolean":
        return None if isinstance(value, bool) else "expected boolean"
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "expected integer"
        return None if -(2**63) <= value <= 2**63 - 1 else "out of range for a 64-bit integer"
    if kind == "numeric":
        if isinstance(value, str):
            if not NUMERIC_STRING.fullmatch(value):
                return "expected numeric: a number or a numeric string"
        elif not _is_number(value):
            return "expected numeric"
        if column.precision is None:
            return None
        scale = column.scale or 0
        whole, fraction = _digits(value)
        if whole > column.precision - scale:
            return f"exceeds precision {column.precision} with scale {scale}"
        if fraction > scale:
            return f"exceeds scale {scale}"
        return None
    # date and timestamp
    if not isinstance(value, str):
        return f"expected {kind} string"
    assert column.pattern is not None
    if not column.pattern.matches(value):
        return f"does not match {column.pattern.description}"
    return None


def validate_records(table: TableDef, records: list[Any]) -> list[dict[str, Any]]:
    """Every problem, at most one per (record, column), as the API's error ``details``."""
    columns = table.by_name
    details: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            details.append({"record": index, "column": None, "reason": "not a JSON object"})
            continue
        for key, value in record.items():
            column = columns.get(key)
            reason = "unknown column" if column is None else check_value(column, value)
            if reason is not None:
                details.append({"record": index, "column": key, "reason": reason})
    return details

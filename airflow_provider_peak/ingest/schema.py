"""Table schema model of the Peak Ingestion API: ``Column`` and ``TableSchema``.

Plain dataclasses that validate names, types, formats and numeric precision locally, and
round-trip the wire JSON (``to_dict`` / ``from_dict``). Column types are the registry's
(``types.ColumnType``). No Airflow import: the validator and the hook share this one model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_peak.errors import FormatError, SchemaError
from airflow_provider_peak.ingest.formats import DateTimeFormat
from airflow_provider_peak.ingest.types import ColumnSpec, ColumnType, type_of

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME_LENGTH = 128
MAX_PRECISION = 38


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is a valid table/column name, else raise ``SchemaError`` saying why."""
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{what} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(
            f"{what} name {name[:40]!r}... is {len(name)} characters; at most {MAX_NAME_LENGTH}"
        )
    if not NAME_RE.fullmatch(name):
        raise SchemaError(
            f"{what} name {name!r} must start with a letter and hold only letters, digits and underscores"
        )
    return name


@dataclass(frozen=True)
class Column:
    """One column of a Peak table.

    :param name: letters, digits and underscores, starting with a letter (at most 128 characters).
    :param type: ``string``, ``boolean``, ``JSON``, ``integer``, ``numeric``, ``date`` or ``timestamp``.
    :param format: for ``date``/``timestamp`` only: a pattern such as ``YYYY-MM-DD HH24:MI:SS``.
    :param precision: for ``numeric`` only: total digits, 1..38.
    :param scale: for ``numeric`` only: digits after the point, 0..precision (needs ``precision``).
    """

    name: str
    type: ColumnType
    format: str | None = None
    precision: int | None = None
    scale: int | None = None
    datetime_format: DateTimeFormat | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name(self.name, "column")
        kind = ColumnType.parse(self.type)
        object.__setattr__(self, "type", kind)
        where = f"column {self.name!r}"
        if kind in (ColumnType.DATE, ColumnType.TIMESTAMP):
            if self.format is not None and not isinstance(self.format, str):
                raise SchemaError(f"{where}: format must be a string")
            try:
                fmt = DateTimeFormat(self.format, kind.value)
            except FormatError as exc:
                raise SchemaError(f"{where}: {exc}") from None
            object.__setattr__(self, "datetime_format", fmt)
        elif self.format is not None:
            raise SchemaError(f"{where}: format applies only to date and timestamp columns")
        if kind is ColumnType.NUMERIC:
            self._check_precision(where)
        elif self.precision is not None or self.scale is not None:
            raise SchemaError(f"{where}: precision and scale apply only to numeric columns")

    def _check_precision(self, where: str) -> None:
        p, s = self.precision, self.scale
        for label, value in (("precision", p), ("scale", s)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SchemaError(f"{where}: {label} must be an integer, got {value!r}")
        if p is None:
            if s is not None:
                raise SchemaError(f"{where}: scale needs a precision")
            return
        if not 1 <= p <= MAX_PRECISION:
            raise SchemaError(f"{where}: precision {p} is outside 1..{MAX_PRECISION}")
        if s is not None and not 0 <= s <= p:
            raise SchemaError(f"{where}: scale {s} is outside 0..precision ({p})")

    @property
    def spec(self) -> ColumnSpec:
        """The column as the validator compiles it (``types.ColumnSpec``)."""
        fmt = self.datetime_format
        return ColumnSpec(
            self.name,
            type_of(self.type),
            self.type.value,
            formats=(fmt,) if fmt is not None else (),
            format_names=(fmt.description,) if fmt is not None else (),
            precision=self.precision,
            scale=self.scale,
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: only the keys that are set."""
        out: dict[str, Any] = {"name": self.name, "type": self.type.value}
        for key in ("format", "precision", "scale"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Column) -> Column:
        """Build from the wire form (or return a ``Column`` unchanged); unknown keys are an error."""
        if isinstance(data, Column):
            return data
        if not isinstance(data, Mapping):
            raise SchemaError(f"a column must be an object with name and type, got {data!r}")
        unknown = set(data) - {"name", "type", "format", "precision", "scale"}
        if unknown:
            raise SchemaError(f"column {data.get('name')!r}: unknown keys {sorted(unknown)}")
        if "name" not in data or "type" not in data:
            raise SchemaError(f"a column needs both name and type, got {dict(data)!r}")
        return cls(
            name=data["name"],
            type=data["type"],
            format=data.get("format"),
            precision=data.get("precision"),
            scale=data.get("scale"),
        )


@dataclass(frozen=True)
class TableSchema:
    """A Peak table: its name, ordered columns and (from the server) creation time."""

    name: str
    columns: tuple[Column, ...]
    created_at: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "table")
        columns = tuple(Column.from_dict(c) for c in self.columns)
        if not columns:
            raise SchemaError(f"table {self.name!r} needs at least one column")
        seen: dict[str, str] = {}
        for column in columns:
            key = column.name.lower()
            if key in seen:
                raise SchemaError(
                    f"table {self.name!r}: column names must be unique ignoring case: "
                    f"{seen[key]!r} and {column.name!r}"
                )
            seen[key] = column.name
        object.__setattr__(self, "columns", columns)

    @classmethod
    def build(cls, name: str, columns: Iterable[Mapping[str, Any] | Column]) -> TableSchema:
        """Build from column dicts or ``Column`` objects."""
        if isinstance(columns, (str, bytes, Mapping)):
            raise SchemaError("columns must be a list of column definitions")
        return cls(name=name, columns=tuple(Column.from_dict(c) for c in columns))

    @property
    def column_map(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "columns": [c.to_dict() for c in self.columns]}
        if self.created_at is not None:
            out["createdAt"] = self.created_at
        return out

    def to_request(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/tables``."""
        return {"name": self.name, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSchema:
        if not isinstance(data, Mapping):
            raise SchemaError(f"a table must be an object, got {type(data).__name__}")
        columns = data.get("columns")
        if not isinstance(columns, list):
            raise SchemaError(f"table {data.get('name')!r}: columns must be a list")
        return cls(
            name=data.get("name"),  # type: ignore[arg-type]
            columns=tuple(Column.from_dict(c) for c in columns),
            created_at=data.get("createdAt"),
        )

    @classmethod
    def from_reply(cls, data: Any) -> TableSchema:
        """A table as a server described it: keys the provider does not know (on the table or its
        columns: ``nullable``, ``description``...) are ignored, never fatal. What cannot be read (no
        name, a column without a name or type) is a ``SchemaError`` saying so."""
        if not isinstance(data, Mapping):
            raise SchemaError(f"the table in the reply is not an object but {type(data).__name__}")
        columns = data.get("columns")
        if not isinstance(columns, list):
            raise SchemaError(f"table {data.get('name')!r} in the reply has no list of columns")
        known = ("name", "type", "format", "precision", "scale")
        return cls(
            name=data.get("name"),  # type: ignore[arg-type]
            columns=tuple(
                Column.from_dict({k: v for k, v in c.items() if k in known and v is not None})
                if isinstance(c, Mapping)
                else Column.from_dict(c)
                for c in columns
            ),
            created_at=data.get("createdAt") if isinstance(data.get("createdAt"), str) else None,
        )

    def diff(self, other: TableSchema) -> list[str]:
        """Human-readable differences from ``self`` (expected) to ``other`` (actual), column by column."""
        lines: list[str] = []
        mine = {c.name.lower(): c for c in self.columns}
        theirs = {c.name.lower(): c for c in other.columns}
        for key, column in mine.items():
            found = theirs.get(key)
            if found is None:
                lines.append(f"- missing column {column.name} ({column.type.value})")
            elif found.to_dict() | {"name": column.name} != column.to_dict():
                lines.append(f"~ column {column.name}: expected {column.to_dict()}, found {found.to_dict()}")
        for key, column in theirs.items():
            if key not in mine:
                lines.append(f"+ unexpected column {column.name} ({column.type.value})")
        return lines

"""``RowValidator`` (the one validator compiler with v2's rules) against the reference
(``tests/ingest/reference_rows.py``, the v2 validator as it was): for every row, the same verdict,
the same errors (row, column, code, category, message, value, in order) and, for a valid row, the
same bytes; one row at a time (``encode``) and in blocks (``encode_many``: the block encoder).

Tables are drawn column by column over every v2 type with every rule the schema reply can show:
required, nonNull and primary key columns, formats (one, several, none), precision and scale,
lengths and enum values; keys matched exactly or ignoring case, and no table at all. Values cover
the Python conveniences and oddities of the v1 differential tests (``Decimal``, aware and naive
``datetime``, NaN, subclasses, huge integers, lone surrogates, objects that are not JSON).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import (
    DATE_FORMAT,
    TIMESTAMP_FORMATS,
    SolutionColumn,
    SolutionTable,
    V2Type,
    compile_format,
)
from tests.ingest import reference_rows as reference
from tests.ingest.test_differential import (
    ANY_VALUE,
    date_texts,
    days,
    decimals,
    finite_floats,
    json_values,
    numeric_texts,
    stamps,
)

PROFILE = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
FORMATS = {
    "date": [DATE_FORMAT, "DD/MM/YYYY"],
    "timestamp": [*TIMESTAMP_FORMATS, "YYYY-MM-DD HH24:MI:SS.FF", "YYYY-MM-DD HH:MI:SS ±hhmm"],
}
NAMES = ["ID", "NAME", "name", "PRICE", "WHEN", "DAY", "TAGS", "KIND", "FLAG", "SCORE", "X"]


@st.composite
def columns(draw: st.DrawFn, name: str) -> SolutionColumn:
    kind = draw(st.sampled_from(list(V2Type)))
    formats: tuple[Any, ...] = ()
    names: tuple[str, ...] = ()
    if kind in (V2Type.DATE, V2Type.TIMESTAMP):
        chosen = draw(st.lists(st.sampled_from(FORMATS[kind.value]), max_size=2, unique=True))
        formats = tuple(compile_format(text, kind.value) for text in chosen)
        names = tuple(chosen)
    precision = scale = None
    if kind is V2Type.NUMERIC and draw(st.booleans()):
        precision = draw(st.integers(1, 38))
        scale = draw(st.integers(0, min(precision, 37)))
    lengths: tuple[int | None, int | None] = (None, None)
    values = None
    if kind in (V2Type.STRING, V2Type.ENUM):
        lengths = (draw(st.none() | st.integers(0, 3)), draw(st.none() | st.integers(2, 8)))
    if kind is V2Type.ENUM and draw(st.booleans()):
        values = tuple(draw(st.lists(st.text(max_size=3), min_size=1, max_size=4, unique=True)))
    primary_key = draw(st.booleans()) and draw(st.booleans())
    return SolutionColumn(
        name=name,
        type=kind,
        type_name=kind.value,
        required=primary_key or draw(st.booleans()),
        non_null=draw(st.booleans()),
        primary_key=primary_key,
        formats=formats,
        format_names=names,
        precision=precision,
        scale=scale,
        min_length=lengths[0],
        max_length=lengths[1],
        values=values,
    )


@st.composite
def tables(draw: st.DrawFn) -> SolutionTable | None:
    if draw(st.integers(0, 9)) == 0:
        return None  # no schema: rows are only encoded
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    drawn = tuple(draw(columns(name)) for name in names)
    return SolutionTable("T", "S_T_X", drawn, tuple(c.name for c in drawn if c.primary_key))


def valid_for(column: SolutionColumn) -> st.SearchStrategy[Any]:
    """Values a column mostly holds, right or nearly so."""
    kind = column.type
    if kind in (V2Type.STRING, V2Type.ENUM):
        return st.sampled_from(column.values) if column.values else st.text(max_size=6)
    if kind is V2Type.BOOLEAN:
        return st.booleans()
    if kind is V2Type.INTEGER:
        return st.integers(-(2**63), 2**63 - 1)
    if kind in (V2Type.FLOAT, V2Type.NUMERIC):
        if column.precision is None:
            return st.integers() | finite_floats | decimals | numeric_texts
        whole = 10 ** (column.precision - (column.scale or 0)) - 1
        return (
            st.integers(-whole, whole)
            | st.decimals(-whole, whole, places=column.scale or 0, allow_nan=False)
            | st.decimals(-whole, whole, allow_nan=False, allow_infinity=False).map(str)
            | finite_floats
        )
    if kind is V2Type.JSON:
        return json_values
    if kind in (V2Type.DATE, V2Type.TIMESTAMP):
        rendered = [
            st.datetimes(timezones=st.sampled_from([timezone.utc])).map(
                lambda v, f=f: _try_render(f, v)  # type: ignore[misc]
            )
            for f in column.formats
        ]
        return st.one_of(stamps, days, date_texts, *rendered)
    return st.text(max_size=4) | st.integers() | st.none()


def _try_render(fmt: Any, value: datetime) -> str | None:
    try:
        return fmt.render(value)  # type: ignore[no-any-return]
    except ValueError:
        return None


anything = st.one_of(
    *ANY_VALUE,
    st.sampled_from([Decimal("1.500"), Decimal("0.050"), Decimal("1E+2"), "007.50", date(2024, 2, 29)]),
)


@st.composite
def rows(draw: st.DrawFn, table: SolutionTable | None) -> list[Any]:
    """Rows sharing most of their shape (so that blocks are proven), with wrong ones mixed in."""
    known = list(table.columns) if table is not None else []
    keys = [c.name for c in known] or draw(
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)
    )
    present = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
    by_name = {c.name: c for c in known}
    wrong = draw(st.sampled_from([0.0, 0.05, 0.3]))
    out: list[Any] = []
    for _ in range(draw(st.integers(1, 40))):
        row: Any = {}
        for name in present:
            column = by_name.get(name)
            row[name] = draw(valid_for(column) if column is not None else anything)
        if draw(st.floats(0, 1)) < wrong:
            change = draw(st.sampled_from(["value", "null", "missing", "unknown", "case", "key", "shape"]))
            target = draw(st.sampled_from(present))
            if change == "value":
                row[target] = draw(anything)
            elif change == "null":
                row[target] = None
            elif change == "missing":
                row.pop(target)
            elif change == "unknown":
                row["NOT_A_COLUMN"] = 1
            elif change == "case":
                row[target.swapcase()] = row.get(target)
            elif change == "key":
                row[draw(st.sampled_from([1, (1, 2), 1.5]))] = "x"
            else:
                row = draw(st.sampled_from([[], "text", None, 5]))
        out.append(row)
    return out


def _plain(result: Any) -> Any:
    """Bytes as they are; errors as tuples (the reference has its own ``RowError`` class)."""
    if isinstance(result, bytes):
        return result
    return [(e.row, e.column, e.code, e.category, e.message, e.value, str(e)) for e in result]


@st.composite
def cases(draw: st.DrawFn) -> tuple[SolutionTable | None, bool, list[Any]]:
    table = draw(tables())
    return table, draw(st.booleans()), draw(rows(table))


@PROFILE
@given(cases())
def test_rows_encode_as_the_reference(case: tuple[SolutionTable | None, bool, list[Any]]) -> None:
    table, exact, drawn = case
    new = RowValidator(table, case_sensitive=exact)
    old = reference.RowValidator(table, case_sensitive=exact)
    want = [_plain(old.encode(row, index)) for index, row in enumerate(drawn)]
    assert [_plain(new.encode(row, index)) for index, row in enumerate(drawn)] == want
    assert [_plain(result) for result in new.encode_many(drawn)] == want


def test_typical_rows_take_the_block_path() -> None:
    """The block encoder must prove ordinary v2 rows, or the test above would pass by falling back."""
    date_format = compile_format(DATE_FORMAT, "date")
    stamp_format = compile_format(TIMESTAMP_FORMATS[0], "timestamp")
    table = SolutionTable(
        "T",
        "S_T_X",
        (
            SolutionColumn("ID", V2Type.STRING, required=True, primary_key=True, max_length=32),
            SolutionColumn("PRICE", V2Type.NUMERIC, precision=12, scale=2),
            SolutionColumn("WEIGHT", V2Type.FLOAT),
            SolutionColumn("KIND", V2Type.ENUM, values=("a", "b")),
            SolutionColumn("DAY", V2Type.DATE, formats=(date_format,), format_names=(DATE_FORMAT,)),
            SolutionColumn(
                "AT",
                V2Type.TIMESTAMP,
                formats=(stamp_format,),
                format_names=(TIMESTAMP_FORMATS[0],),
                non_null=True,
            ),
            SolutionColumn("ATTRIBUTES", V2Type.JSON),
        ),
        ("ID",),
    )
    drawn = [
        {
            "ID": f"P{i}",
            "PRICE": Decimal(f"{i}.25"),
            "WEIGHT": i / 4,
            "KIND": "ab"[i % 2],
            "DAY": date(2024, 1, 1 + i % 28),
            "AT": datetime(2024, 1, 5, 7, 8, i % 60),
            "ATTRIBUTES": {"tags": ["x"], "n": i},
        }
        for i in range(64)
    ]
    new = RowValidator(table)
    encoded = new._blocks.encode_block(drawn)
    assert encoded is not None
    old = reference.RowValidator(table)
    assert encoded == [old.encode(row, i) for i, row in enumerate(drawn)]
    # A row without its required key, or with null in a nonNull column: the block is not proven.
    assert new._blocks.encode_block([*drawn[:20], {k: v for k, v in drawn[0].items() if k != "ID"}]) is None
    assert new._blocks.encode_block([*drawn[:20], {**drawn[0], "AT": None}]) is None
    # Keys matched ignoring case never take the block path with names that differ only in case.
    assert RowValidator(table, case_sensitive=False)._blocks.enabled

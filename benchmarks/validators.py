"""Peers of the record validator/encoder on the benchmark's 10-column records, in the same run.

Each peer validates a record against the same columns and writes it as JSON, the way a user of
that library would: pydantic 2 (``TypeAdapter(TypedDict).validate_python`` + ``dump_json``),
msgspec (``convert(Struct, strict=True)`` + ``json.encode``) and jsonschema + ``json.dumps`` (after
rendering dates and decimals by hand, as JSON Schema has no such types). None of them checks
what ours checks (formats, precision and scale, 64-bit range); they are the speed to beat.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

Peer = Callable[[list[dict[str, Any]]], None]


def pydantic_peer() -> Peer:
    import pydantic
    from typing_extensions import TypedDict  # pydantic needs it for TypedDict on Python < 3.12

    class Order(TypedDict, total=False):
        id: Optional[int]  # noqa: UP045 - the annotations are evaluated by pydantic on 3.10
        customer: Optional[str]  # noqa: UP045
        country: Optional[str]  # noqa: UP045
        quantity: Optional[int]  # noqa: UP045
        price: Optional[Decimal]  # noqa: UP045
        express: Optional[bool]  # noqa: UP045
        ordered_at: Optional[datetime]  # noqa: UP045
        day: Optional[date]  # noqa: UP045
        attributes: Any
        note: Optional[str]  # noqa: UP045

    adapter = pydantic.TypeAdapter(Order)
    validate, dump = adapter.validate_python, adapter.dump_json

    def run(records: list[dict[str, Any]]) -> None:
        for record in records:
            dump(validate(record))

    return run


def msgspec_peer() -> Peer:
    import msgspec

    class Order(msgspec.Struct, forbid_unknown_fields=True):
        id: Optional[int] = None  # noqa: UP045
        customer: Optional[str] = None  # noqa: UP045
        country: Optional[str] = None  # noqa: UP045
        quantity: Optional[int] = None  # noqa: UP045
        price: Optional[Decimal] = None  # noqa: UP045
        express: Optional[bool] = None  # noqa: UP045
        ordered_at: Optional[datetime] = None  # noqa: UP045
        day: Optional[date] = None  # noqa: UP045
        attributes: Any = None
        note: Optional[str] = None  # noqa: UP045

    convert, encode = msgspec.convert, msgspec.json.Encoder().encode

    def run(records: list[dict[str, Any]]) -> None:
        for record in records:
            encode(convert(record, Order, strict=True))

    return run


def jsonschema_peer() -> Peer:
    import jsonschema

    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {"type": ["integer", "null"]},
            "customer": {"type": ["string", "null"]},
            "country": {"type": ["string", "null"]},
            "quantity": {"type": ["integer", "null"]},
            "price": {"type": ["number", "string", "null"]},
            "express": {"type": ["boolean", "null"]},
            "ordered_at": {"type": ["string", "null"]},
            "day": {"type": ["string", "null"]},
            "attributes": {},
            "note": {"type": ["string", "null"]},
        },
    }
    validator = jsonschema.Draft7Validator(schema)

    def run(records: list[dict[str, Any]]) -> None:
        for record in records:
            plain = {
                **record,
                "price": str(record["price"]),
                "ordered_at": record["ordered_at"].strftime("%Y-%m-%d %H:%M:%S"),
                "day": record["day"].isoformat(),
            }
            validator.validate(plain)
            json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()

    return run

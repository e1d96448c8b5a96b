"""The names and limits the emulated v2 API puts on the wire, one field each, so a test can play
any revision of Peak's v2 API (docs/ingestion-v2.md lists which are documented and which are not).

Defaults are the newest revision's. Fields ending in ``_keys`` hold the names a client may look
for, in order; the emulator writes the first. The field names are the ones the provider's
connection extras use, so a test configures both sides with the same keyword arguments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Wire:
    solutions_path: str = "/api/v2/schema/solutions"
    schema_path: str = "/api/v2/schema"
    schema_solution_param: str = "solutionName"
    ingest_path: str = "/api/v2/objects/{table}"
    auth_header: str = "Authorization"
    auth_scheme: str = ""
    tenant_header: str = "x-auth-tenant"
    tenant_id_header: str = "x-auth-tenantId"
    solution_key: str = "solutionName"
    operation_key: str = "operationType"
    data_key: str = "data"
    dry_run_key: str = "dryRun"
    failed_key: str = "failed"
    failed_index_keys: tuple[str, ...] = ("index",)
    failed_row_keys: tuple[str, ...] = ("row",)
    failed_errors_keys: tuple[str, ...] = ("errors",)
    error_code_key: str = "code"
    error_category_key: str = "category"
    error_message_key: str = "message"
    error_column_keys: tuple[str, ...] = ("column",)
    accepted_keys: tuple[str, ...] = ("accepted",)
    request_id_keys: tuple[str, ...] = ("requestId",)
    solutions_list_keys: tuple[str, ...] = ("solutions",)
    schema_tables_keys: tuple[str, ...] = ("schemaDefinition",)
    table_name_keys: tuple[str, ...] = ("tableName",)
    table_full_name_keys: tuple[str, ...] = ("fullTableName",)
    columns_keys: tuple[str, ...] = ("columns",)
    column_name_keys: tuple[str, ...] = ("name",)
    column_type_keys: tuple[str, ...] = ("dataType",)
    validations_keys: tuple[str, ...] = ("validations",)
    primary_key_keys: tuple[str, ...] = ("primaryKeys",)
    unique_key_keys: tuple[str, ...] = ("uniqueKeys",)
    enum_values_keys: tuple[str, ...] = ("values",)
    default_value_keys: tuple[str, ...] = ("defaultValue",)
    max_rows: int = 2000
    max_bytes: int = 1_000_000
    requests_per_second: float = 50.0
    case_sensitive_keys: bool = True

    def replace(self, **changes: Any) -> Wire:
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

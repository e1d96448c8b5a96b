"""The demo solution the emulator's v2 API starts with: ``DEMO_OOTB``, three tables of a retail
solution with primary keys, required and optional columns, and every documented data type and
format (string with lengths, integer, boolean, float, numeric(p,s), json, date, timestamp in both
documented formats, datetime, enum). Written in the emulator's definition form (the default wire
keys), as Peak's save-schema call would take it.
"""

from __future__ import annotations

from typing import Any

REQUIRED = [{"type": "required"}]
REQUIRED_NON_NULL = [{"type": "required"}, {"type": "nonNull"}]
OPTIONAL = [{"type": "optional"}]
TIMESTAMP = {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS"}
TIMESTAMP_TZ = {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS ±hh:mm"}
DATE = {"type": "timestampFormat", "format": "YYYY-MM-DD"}

DEMO_SOLUTION: dict[str, Any] = {
    "solutionName": "DEMO_OOTB",
    "appName": "peak-demo-retail",
    "appVersion": "1.0.0",
    "prefix": "DEMO_",
    "suffix": "_OOTB",
    "targetSchemaName": "STAGE",
    "tables": [
        {
            "tableName": "PRODUCTS",
            "primaryKeys": ["PRODUCT_ID", "UPDATED_AT"],
            "columns": [
                {
                    "name": "PRODUCT_ID",
                    "dataType": "string",
                    "validations": [*REQUIRED_NON_NULL, {"type": "maxLength", "value": 32}],
                },
                {
                    "name": "UPDATED_AT",
                    "dataType": "timestamp",
                    "validations": [*REQUIRED_NON_NULL, TIMESTAMP],
                },
                {
                    "name": "PRODUCT_NAME",
                    "dataType": "string",
                    "validations": [*REQUIRED_NON_NULL, {"type": "minLength", "value": 1}],
                },
                {"name": "PRODUCT_CATEGORY", "dataType": "string", "validations": REQUIRED},
                {"name": "PRODUCT_SUBCATEGORY", "dataType": "string", "validations": OPTIONAL},
                {
                    "name": "BESPOKE_PRODUCT",
                    "dataType": "boolean",
                    "defaultValue": False,
                    "validations": OPTIONAL,
                },
                {
                    "name": "LIST_PRICE",
                    "dataType": "numeric",
                    "precision": 12,
                    "scale": 2,
                    "validations": OPTIONAL,
                },
                {"name": "WEIGHT_KG", "dataType": "float", "validations": OPTIONAL},
                {"name": "ATTRIBUTES", "dataType": "json", "validations": OPTIONAL},
                {"name": "LAUNCH_DATE", "dataType": "date", "validations": [*OPTIONAL, DATE]},
            ],
        },
        {
            "tableName": "CUSTOMERS",
            "primaryKeys": ["CUSTOMER_ID"],
            "uniqueKeys": [["EMAIL"]],
            "columns": [
                {"name": "CUSTOMER_ID", "dataType": "string", "validations": REQUIRED_NON_NULL},
                {"name": "CUSTOMER_NAME", "dataType": "string", "validations": REQUIRED_NON_NULL},
                {
                    "name": "SOURCE",
                    "dataType": "enum",
                    "values": ["peak", "customer"],
                    "validations": REQUIRED_NON_NULL,
                },
                {
                    "name": "EMAIL",
                    "dataType": "string",
                    "validations": [*OPTIONAL, {"type": "maxLength", "value": 254}],
                },
                {"name": "LOYALTY_POINTS", "dataType": "integer", "defaultValue": 0, "validations": OPTIONAL},
                {"name": "CREATED_AT", "dataType": "timestamp", "validations": [*REQUIRED, TIMESTAMP_TZ]},
                {"name": "UPDATED_AT", "dataType": "datetime", "validations": [*OPTIONAL, TIMESTAMP]},
            ],
        },
        {
            "tableName": "QUOTE_LINES",
            "primaryKeys": ["QUOTE_ID", "PRODUCT_ID", "REGION_ID"],
            "columns": [
                {"name": "QUOTE_ID", "dataType": "string", "validations": REQUIRED_NON_NULL},
                {"name": "PRODUCT_ID", "dataType": "string", "validations": REQUIRED_NON_NULL},
                {"name": "REGION_ID", "dataType": "integer", "validations": REQUIRED_NON_NULL},
                {"name": "QUANTITY", "dataType": "integer", "validations": REQUIRED_NON_NULL},
                {
                    "name": "UNIT_PRICE",
                    "dataType": "numeric",
                    "precision": 18,
                    "scale": 4,
                    "validations": REQUIRED,
                },
                {
                    "name": "DISCOUNT",
                    "dataType": "numeric",
                    "precision": 5,
                    "scale": 4,
                    "validations": OPTIONAL,
                },
                {"name": "QUOTE_DATE", "dataType": "date", "validations": [*REQUIRED, DATE]},
                {"name": "NOTES", "dataType": "json", "validations": OPTIONAL},
            ],
        },
    ],
}

"""Where a feed's records go. Each destination is a small class; see ``base.Destination``.

The destinations are imported lazily: using one does not import the others' providers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Destination": "base",
    "RunInfo": "base",
    "StagedRecords": "base",
    "PeakTableDestination": "peak_table",
    "RedshiftDestination": "redshift",
    "S3Destination": "s3",
    "SnowflakeDestination": "snowflake",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

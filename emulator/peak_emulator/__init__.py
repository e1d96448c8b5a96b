"""A local Peak platform for tests and demos: Peak's Ingestion API (v1 and v2), Peaka's cache API
and a paginated REST source, over real HTTP (see ``server.PeakEmulator``).

It imports nothing from ``airflow_provider_peak``: it implements the wire contract on its own, so
that the provider's tests check the client against an independent server.
"""

from __future__ import annotations

from peak_emulator.faults import Fault
from peak_emulator.ingestion_v2 import IngestionV2Api, Tenant
from peak_emulator.server import PeakEmulator
from peak_emulator.v2_wire import Wire

__version__ = "0.2.0"
__all__ = ["Fault", "IngestionV2Api", "PeakEmulator", "Tenant", "Wire", "__version__"]

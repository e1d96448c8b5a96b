"""A local Peak API emulator for tests and demos (see ``server.PeakEmulator``)."""

from __future__ import annotations

from airflow_provider_peak.emulator.faults import Fault
from airflow_provider_peak.emulator.server import PeakEmulator

__all__ = ["Fault", "PeakEmulator"]

"""Fixtures for the Peaka tests: a fresh emulator per test and a ``peaka`` connection to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_peak.emulator import PeakEmulator
from airflow_provider_peak.emulator.peaka import PeakaApi
from tests.peaka.helpers import FAST_RETRIES, PEAKA_KEY, PROJECT


@pytest.fixture(scope="session")
def peaka_server() -> Iterator[PeakEmulator]:
    with PeakEmulator(api_keys=(), peaka_api_keys=(PEAKA_KEY,), quiet=True) as emu:
        yield emu


@pytest.fixture
def peaka_emu(peaka_server: PeakEmulator) -> PeakEmulator:
    """The shared emulator with an empty Peaka API whose statuses change every 50 ms."""
    peaka_server.peaka.reset(step=0.05)
    return peaka_server


@pytest.fixture
def peaka(peaka_emu: PeakEmulator) -> PeakaApi:
    return peaka_emu.peaka


@pytest.fixture
def peaka_conn(peaka_emu: PeakEmulator, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``peaka_conn(conn_id="peaka_default", password=PEAKA_KEY, **extra)`` -> the connection id."""

    def install(conn_id: str = "peaka_default", *, password: str = PEAKA_KEY, **extra: Any) -> str:
        return set_conn(
            conn_id,
            conn_type="peaka",
            host=peaka_emu.peaka_url,
            password=password,
            extra={"project_id": PROJECT, **FAST_RETRIES, **extra},
        )

    return install

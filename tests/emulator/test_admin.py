"""The emulator's test and inspection routes need an admin key off loopback (and on it, when set)."""

from __future__ import annotations

import pytest
import requests

from peak_emulator import PeakEmulator
from peak_emulator.server import is_admin_path, is_loopback

ADMIN = "admin-key-2468"
ROUTES = ["/_emulator/stats", "/_emulator/tables", "/_source/admin/stats", "/peaka/_emulator/stats"]


def test_a_public_address_without_an_admin_key_is_refused():
    with pytest.raises(ValueError, match="needs an admin key"):
        PeakEmulator(host="0.0.0.0")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_names(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.com", "::"])
def test_other_names(host):
    assert not is_loopback(host)


def test_admin_routes_need_the_key_once_one_is_set():
    with PeakEmulator(api_keys=("k" * 8,), admin_key=ADMIN, quiet=True) as emu:
        for route in ROUTES:
            assert is_admin_path(route)
            assert requests.get(f"{emu.url}{route}").status_code == 401
            assert (
                requests.get(f"{emu.url}{route}", headers={"X-Emulator-Admin-Key": "wrong"}).status_code
                == 401
            )
            assert (
                requests.get(f"{emu.url}{route}", headers={"X-Emulator-Admin-Key": ADMIN}).status_code == 200
            )
        faults = requests.post(f"{emu.url}/_emulator/faults", json={"action": "reset"})
        assert faults.status_code == 401 and emu.faults.fired == 0
        # The API itself still answers with its own key, not the admin one.
        assert requests.get(f"{emu.url}/api/v1/tables", headers={"Authorization": "k" * 8}).status_code == 200


def test_loopback_without_a_key_stays_open(emu):
    assert requests.get(f"{emu.url}/_emulator/stats").status_code == 200

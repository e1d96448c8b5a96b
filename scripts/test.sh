#!/usr/bin/env bash
# Install (first run only) and run the whole test suite. Extra arguments go to pytest.
# The suite runs in parallel (pytest-xdist), one test file per worker at a time, so a file's
# session servers (emulator, Airflow API server, PostgreSQL) stay in one process; up to 4 workers,
# PEAK_TEST_WORKERS to choose (0: no workers, everything in this process). -rs prints the reason of
# every skipped test at the end (a machine without PostgreSQL, Chromium or a compose CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
cores="$(nproc 2>/dev/null || echo 2)"
workers="${PEAK_TEST_WORKERS:-$((cores < 4 ? cores : 4))}"
exec .venv/bin/python -m pytest -p no:cacheprovider -rs -n "$workers" --dist loadfile "$@"

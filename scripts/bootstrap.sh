#!/usr/bin/env bash
# Create (or reuse) .venv with the provider and its dev tools, pinned by constraints/, and the Peak
# emulator (emulator/, its own distribution) that the demo, the tests and compose run against.
# PYTHON, VENV and CONSTRAINTS select another interpreter, venv and Airflow (see .ci/run).
# Everything is installed inside $VENV; nothing goes into the interpreter that creates it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PY_VERSION="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
CONSTRAINTS="${CONSTRAINTS:-constraints/constraints-${PY_VERSION}.txt}"
VENV="${VENV:-.venv}"
[ -f "$CONSTRAINTS" ] || { echo "no pinned constraints for Python $PY_VERSION ($CONSTRAINTS)" >&2; exit 1; }
stamp="$VENV/.installed-$(sha1sum "$CONSTRAINTS" pyproject.toml emulator/pyproject.toml | sha1sum | cut -c1-12)"
[ -f "$stamp" ] && exit 0

UV="$(command -v uv || true)"
if [ -z "$UV" ]; then
  # No uv on the PATH: put one inside the venv (python -m venv + pip), not into $PYTHON itself.
  [ -x "$VENV/bin/uv" ] || {
    echo "== uv not found on the PATH: installing it into $VENV (python -m venv, pip install uv)"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip >/dev/null  # a venv uv made has no pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
  }
  UV="$VENV/bin/uv"
fi
[ -x "$VENV/bin/python" ] || "$UV" venv --quiet --python "$PYTHON" "$VENV"
echo "== installing airflow-provider-peak (editable, with the dev extras) and the Peak emulator into $VENV with $UV:" \
     "Python $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])'), pins from $CONSTRAINTS" \
     "(a few minutes the first time; later runs reuse $VENV)"
"$UV" pip install --quiet --python "$VENV/bin/python" --compile-bytecode -e ".[dev]" -e ./emulator -c "$CONSTRAINTS"
rm -f "$VENV"/.installed-* && touch "$stamp"
echo "== $VENV is ready: $("$VENV/bin/python" -c 'import airflow; print("Airflow", airflow.__version__)')"

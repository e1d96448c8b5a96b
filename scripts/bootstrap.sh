#!/usr/bin/env bash
# Create (or reuse) .venv with the provider and its dev tools, pinned by constraints/.
# PYTHON, VENV and CONSTRAINTS select another interpreter, venv and Airflow (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PY_VERSION="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
CONSTRAINTS="${CONSTRAINTS:-constraints/constraints-${PY_VERSION}.txt}"
VENV="${VENV:-.venv}"
[ -f "$CONSTRAINTS" ] || { echo "no pinned constraints for Python $PY_VERSION ($CONSTRAINTS)" >&2; exit 1; }
command -v uv >/dev/null 2>&1 || "$PYTHON" -m pip install --quiet uv
UV="$(command -v uv || echo "$PYTHON -m uv")"
stamp="$VENV/.installed-$(sha1sum "$CONSTRAINTS" pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || $UV venv --quiet --python "$PYTHON" "$VENV"
  $UV pip install --quiet --python "$VENV/bin/python" --compile-bytecode -e ".[dev]" -c "$CONSTRAINTS"
  rm -f "$VENV"/.installed-* && touch "$stamp"
fi

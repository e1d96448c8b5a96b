#!/usr/bin/env bash
# The demo: install (first run only), start the Peak emulator, run the example DAGs end-to-end
# with `airflow dags test`, show what landed in Peak, stop the emulator. No Docker, no Peak account.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
./scripts/bootstrap.sh
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/.demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"

export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$PY" -m airflow_provider_peak.emulator --port "$PORT" --db "$DEMO/peak.sqlite" --api-key demo-key \
  >"$DEMO/emulator.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "listening" "$DEMO/emulator.log" 2>/dev/null && break
  sleep 0.1
done
echo "== Peak emulator at $URL (log: $DEMO/emulator.log)"

export AIRFLOW_CONN_PEAK_DEFAULT="{\"conn_type\": \"peak\", \"host\": \"$URL\", \"password\": \"demo-key\"}"

echo "== airflow db migrate"
"$ROOT/.venv/bin/airflow" db migrate >"$DEMO/migrate.log" 2>&1
# The pool that keeps every Peak task together within the API's 30 requests in flight.
"$ROOT/.venv/bin/airflow" pools set peak_api 30 "Peak API: 30 requests in flight per tenant" >/dev/null

for dag_id in ${DEMO_DAGS:-peak_ingest_taskflow}; do
  echo "== airflow dags test $dag_id"
  "$ROOT/.venv/bin/airflow" dags test "$dag_id" >"$DEMO/$dag_id.log" 2>&1 || {
    tail -n 60 "$DEMO/$dag_id.log"
    echo "!! $dag_id failed (full log: $DEMO/$dag_id.log)"
    exit 1
  }
  # The operators' summaries, as they appear in the task logs.
  awk '/Ingested into Peak table|Feed .* delivered/ {on = 1; sub(/^.*\] /, "")}
       on && /loc=/ {sub(/ *(\[[A-Za-z_.]*\] *)?loc=.*/, ""); print; on = 0; next} on' "$DEMO/$dag_id.log"
done

echo "== What Peak holds now"
"$PY" -m airflow_provider_peak.emulator show --url "$URL"
"$PY" -m airflow_provider_peak.emulator show --url "$URL" demo_orders --limit 5
echo "== Demo finished."

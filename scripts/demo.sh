#!/usr/bin/env bash
# The demo: install (first run only), start the Peak emulator (which also serves Peaka's cache API
# and an orders REST source) and a local S3 (moto), run the example DAGs end-to-end with
# `airflow dags test`, show what landed and the REST feed's state, stop everything.
# No Docker, no Peak account. DEMO_DAGS="peak_ingest_taskflow" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
./scripts/bootstrap.sh
PY="$ROOT/.venv/bin/python"
AIRFLOW="$ROOT/.venv/bin/airflow"
DEMO="$ROOT/.demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"

export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for <log file> <text>
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "!! did not start: see $1" && exit 1
}

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
"$PY" -m airflow_provider_peak.emulator --port "$PORT" --db "$DEMO/peak.sqlite" --api-key demo-key \
  --peaka-api-key demo-peaka-key --peaka-step 0 --source-orders 120 >"$DEMO/emulator.log" 2>&1 &
PIDS="$!"
S3_PORT="$(free_port)"
"$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DEMO/s3.log" 2>&1 &
PIDS="$PIDS $!"
trap 'kill $PIDS 2>/dev/null || true' EXIT
wait_for "$DEMO/emulator.log" "listening"
wait_for "$DEMO/s3.log" "Running on"
echo "== Peak emulator at $URL, local S3 at http://127.0.0.1:$S3_PORT (logs in $DEMO)"

export AIRFLOW_CONN_PEAK_DEFAULT="{\"conn_type\": \"peak\", \"host\": \"$URL\", \"password\": \"demo-key\"}"
export AIRFLOW_CONN_PEAKA_DEFAULT="{\"conn_type\": \"peaka\", \"host\": \"$URL/peaka\", \"password\": \"demo-peaka-key\", \"extra\": {\"project_id\": \"demo-project\"}}"
export AIRFLOW_CONN_ORDERS_API="{\"conn_type\": \"peak_rest\", \"host\": \"$URL\", \"login\": \"source-client\", \"password\": \"source-secret\", \"extra\": {\"auth_type\": \"custom\", \"auth_url\": \"/_source/auth/token\", \"auth_body\": {\"client_id\": \"{login}\", \"client_secret\": \"{password}\"}, \"expires_in_path\": \"expires_in\"}}"
export AIRFLOW_CONN_PEAK_V2_DEFAULT="{\"conn_type\": \"peak_v2\", \"host\": \"$URL\", \"password\": \"demo-pat\"}"
export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"login\": \"demo\", \"password\": \"demo-secret\", \"extra\": {\"endpoint_url\": \"http://127.0.0.1:$S3_PORT\", \"region_name\": \"us-east-1\"}}"
"$PY" - <<PYTHON
import boto3

s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$S3_PORT", region_name="us-east-1",
                  aws_access_key_id="demo", aws_secret_access_key="demo-secret")
s3.create_bucket(Bucket="peak-feeds-demo")
PYTHON

echo "== airflow db migrate"
"$AIRFLOW" db migrate >"$DEMO/migrate.log" 2>&1
# The pool that keeps every Peak task together within the API's 30 requests in flight.
"$AIRFLOW" pools set peak_api 30 "Peak API: 30 requests in flight per tenant" >/dev/null

run_dag() {  # run_dag <dag_id> <log name>
  echo "== airflow dags test $1"
  "$AIRFLOW" dags test "$1" >"$DEMO/$2.log" 2>&1 || {
    tail -n 60 "$DEMO/$2.log"
    echo "!! $1 failed (full log: $DEMO/$2.log)"
    exit 1
  }
  # The operators' summaries, as they appear in the task logs.
  awk '/Peaka cache / && !/DAG TEST/ {sub(/^[^]]*\] +/, ""); sub(/ *(\[[A-Za-z_.]*\] *)?loc=.*/, ""); print; next}
       /Ingested into Peak table|Loaded into Peak solution table|Feed [a-z0-9_]+ \((incremental|truncate_insert)\)/ {on = 1; sub(/^[^]]*\] +/, "")}
       on && /loc=/ {sub(/ *(\[[A-Za-z_.]*\] *)?loc=.*/, ""); print; on = 0; next} on' "$DEMO/$2.log"
}

for dag_id in ${DEMO_DAGS:-peak_ingest_taskflow peak_rest_feed_incremental peaka_batch_cache peak_solution_tables}; do
  run_dag "$dag_id" "$dag_id"
  if [ "$dag_id" = peak_rest_feed_incremental ]; then
    echo "== 30 new orders appear in the source; the feed's next run fetches only those"
    curl -fsS -X POST -H "Content-Type: application/json" -d '{"count": 30}' "$URL/_source/admin/orders" >/dev/null
    run_dag "$dag_id" "$dag_id.second"
  fi
done

echo "== What Peak holds now"
"$PY" -m airflow_provider_peak.emulator show --url "$URL"
"$PY" -m airflow_provider_peak.emulator show --url "$URL" demo_orders --limit 3
"$PY" -m airflow_provider_peak.emulator show --url "$URL" rest_orders --limit 3
curl -fsS "$URL/_emulator/v2/tables" | "$PY" -c 'import json, sys; [print("%(table)s: %(rows)s rows, %(failed)s failed rows" % t) for t in json.load(sys.stdin)["tables"]]'
echo "== Demo finished."

#!/usr/bin/env bash
# The demo: install (first run only), start the Peak emulator (which also serves Peaka's cache API
# and an orders REST source) and a local S3 (moto), run every example DAG end-to-end, say in one
# line what each did, show what landed, stop everything. No Docker, no Peak account, no cloud.
# DEMO_DAGS="peak_ingest_taskflow peaka_batch_cache" runs a subset (peak_table_updated runs only
# after a load of demo_orders: peak_ingest_taskflow before it). DEMO_VENV runs it with a venv
# installed already, as it is (DEMO_VENV=.venv-af2.11-py3.10: on Airflow 2.11); its Airflow home,
# data and logs go to .demo in the repository, or in DEMO_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ALL_DAGS="peak_ingest_taskflow peak_table_updated peak_parallel_files peak_snowflake_to_peak peak_s3_jsonl_to_peak
          peak_rest_feed_incremental peaka_batch_cache peak_solution_tables peak_load_then_workflow"
DAGS="${DEMO_DAGS:-$ALL_DAGS}"
for dag_id in $DAGS; do
  [ -f "dags_examples/$dag_id.py" ] || { echo "!! no example DAG $dag_id; choose from:" $ALL_DAGS >&2; exit 2; }
done
started_at=$SECONDS
if [ -n "${DEMO_VENV:-}" ]; then
  VENV="$(cd "$DEMO_VENV" && pwd)"
else
  ./scripts/bootstrap.sh
  VENV="$ROOT/.venv"
fi
PY="$VENV/bin/python"
AIRFLOW="$VENV/bin/airflow"
DEMO="${DEMO_DIR:-$ROOT}/.demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"

export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
# Airflow 2.11 warns on every start that its timers change unit in Airflow 3 unless this is on
# (Airflow 3 has no such setting and ignores it).
export AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY=True
# Unpaused, as a scheduled deployment's DAGs are: an asset event queues a run of the DAGs scheduled
# on its asset only when they are not paused.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
# A cluster policy for the demo only: the examples retry failed tasks after a delay of up to a
# minute, which in a demo would hide a setup error for minutes. Here a failure shows at once.
mkdir -p "$AIRFLOW_HOME/config"
cat >"$AIRFLOW_HOME/config/airflow_local_settings.py" <<'PYTHON'
def task_policy(task):
    task.retries = 0
PYTHON

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for <log file> <text>: up to 30 s
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "!! did not start: see $1" && exit 1
}

# The emulator accepts no built-in key: the demo makes up its keys on every run and gives them to
# the emulator and to the connections below.
new_key() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(18))'; }
PEAK_KEY="$(new_key)" PEAKA_KEY="$(new_key)" V2_TOKEN="$(new_key)"
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
"$PY" -m peak_emulator --port "$PORT" --db "$DEMO/peak.sqlite" --api-key "$PEAK_KEY" \
  --peaka-api-key "$PEAKA_KEY" --v2-token "$V2_TOKEN:demo" --peaka-step 0 --source-orders 120 \
  >"$DEMO/emulator.log" 2>&1 &
PIDS="$!"
S3_PORT="$(free_port)"
S3_URL="http://127.0.0.1:$S3_PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DEMO/s3.log" 2>&1 &
PIDS="$PIDS $!"
trap 'kill $PIDS 2>/dev/null || true' EXIT
wait_for "$DEMO/emulator.log" "listening"
wait_for "$DEMO/s3.log" "Running on"
echo "== Peak emulator at $URL, local S3 at $S3_URL (logs in $DEMO)"

# The "Peak table" link of ingest tasks opens the emulator's page of the table.
export AIRFLOW_CONN_PEAK_DEFAULT="{\"conn_type\": \"peak\", \"host\": \"$URL\", \"password\": \"$PEAK_KEY\", \"extra\": {\"table_url_template\": \"{base_url}/data/tables/{table}\"}}"
export AIRFLOW_CONN_PEAKA_DEFAULT="{\"conn_type\": \"peaka\", \"host\": \"$URL/peaka\", \"password\": \"$PEAKA_KEY\", \"extra\": {\"project_id\": \"demo-project\"}}"
export AIRFLOW_CONN_ORDERS_API="{\"conn_type\": \"peak_rest\", \"host\": \"$URL\", \"login\": \"source-client\", \"password\": \"source-secret\", \"extra\": {\"auth_type\": \"custom\", \"auth_url\": \"/_source/auth/token\", \"auth_body\": {\"client_id\": \"{login}\", \"client_secret\": \"{password}\"}, \"expires_in_path\": \"expires_in\"}}"
export AIRFLOW_CONN_PEAK_V2_DEFAULT="{\"conn_type\": \"peak_v2\", \"host\": \"$URL\", \"password\": \"$V2_TOKEN\"}"
export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"login\": \"demo-access-key\", \"password\": \"demo-secret-key\", \"extra\": {\"endpoint_url\": \"$S3_URL\", \"region_name\": \"us-east-1\"}}"
# fakesnow answers in place of Snowflake inside the process that runs the Snowflake example.
# Every value has 5 characters or more: Airflow masks these fields and warns about shorter ones.
export AIRFLOW_CONN_SNOWFLAKE_DEFAULT="{\"conn_type\": \"snowflake\", \"login\": \"demo-user\", \"password\": \"demo-password\", \"schema\": \"public\", \"extra\": {\"account\": \"demo-account\", \"database\": \"analytics\", \"warehouse\": \"demo-warehouse\"}}"
echo "== local S3: $("$PY" scripts/demo_support.py s3 "$S3_URL")"

echo "== airflow db migrate"
"$AIRFLOW" db migrate >"$DEMO/migrate.log" 2>&1
# The pool that keeps every Peak task together within the API's 30 requests in flight.
"$AIRFLOW" pools set peak_api 30 "Peak API: 30 requests in flight per tenant" >/dev/null
echo "== assets of the Peak tables the examples load: $("$PY" scripts/demo_support.py assets "$ROOT/dags_examples" | tail -n 1)"

run_dag() {  # run_dag <dag_id> <log name>: run it, say what it did, or show why it failed
  local how="dag.test()" started=$SECONDS
  local run=("$PY" scripts/demo_support.py run "$ROOT/dags_examples/$1.py")
  if [ "$1" = peak_snowflake_to_peak ]; then
    how="dag.test() under fakesnow"
    run=("$PY" scripts/demo_support.py snowflake "$ROOT/dags_examples/$1.py")
  elif [ "$1" = peak_table_updated ]; then
    how="asset-triggered: the events of the loads of demo_orders made this run"
    run=("$PY" scripts/demo_support.py triggered "$ROOT/dags_examples/$1.py")
  fi
  printf '== %s (%s) ...' "$1" "$how"
  "${run[@]}" >"$DEMO/$2.log" 2>&1 || {
    echo " FAILED"
    tail -n 60 "$DEMO/$2.log"
    echo "!! $1 failed (full log: $DEMO/$2.log)"
    exit 1
  }
  echo " $((SECONDS - started)) s"
  "$PY" scripts/demo_support.py summary "$DEMO/$2.log"
}

for dag_id in $DAGS; do
  run_dag "$dag_id" "$dag_id"
  if [ "$dag_id" = peak_rest_feed_incremental ]; then
    echo "== 30 new orders appear in the source; the feed's next run fetches only those"
    curl -fsS -X POST -H "Content-Type: application/json" -d '{"count": 30}' "$URL/_source/admin/orders" >/dev/null
    run_dag "$dag_id" "$dag_id.second"
  fi
done

# The emulator started empty, so every table it holds now was written by the DAGs above.
echo "== What Peak holds now"
"$PY" -m peak_emulator show --url "$URL"
tables="$("$PY" -m peak_emulator show --url "$URL" --json |
  "$PY" -c 'import json, sys; print(" ".join(t["table"] for t in json.load(sys.stdin)))')"
for table in $tables; do
  echo "-- $table (first 3 rows)"
  "$PY" -m peak_emulator show --url "$URL" "$table" --limit 3
done
curl -fsS "$URL/_emulator/v2/tables" |
  "$PY" -c 'import json, sys; [print("-- solution table %(table)s: %(rows)s rows, %(failed)s failed rows" % t) for t in json.load(sys.stdin)["tables"]]'
echo "== Demo finished in $((SECONDS - started_at)) s."

#!/usr/bin/env bash
# `make up`: Airflow standalone with trialwatch's DAGs and plugin, for the web UI and unattended runs.
#   REGISTRY=live (default): clinicaltrials.gov.  REGISTRY=replay: the local replay registry on :8765,
#   starting at REPLAY_DAY (default 1; `make up-demo` starts at day 2, where the demo ended).
#   Mail: AIRFLOW_CONN_SMTP_DEFAULT if you set it; otherwise a local mail sink on :1025 that saves
#   messages in $TRIALWATCH_HOME/mail.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
# airflow standalone starts its components as `airflow ...` subprocesses: they must be on PATH.
export PATH=$BIN:$PATH
export TRIALWATCH_HOME=${TRIALWATCH_HOME:-$ROOT/.trialwatch}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$ROOT/.airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$ROOT/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
# Standalone's LocalExecutor starts one worker process per slot (default 32); a few suffice here.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-8}
# The UI listens on loopback only unless told otherwise: `make up HOST=0.0.0.0` for every interface.
export AIRFLOW__API__HOST=${HOST:-127.0.0.1}
mkdir -p "$TRIALWATCH_HOME"

children=()
cleanup() { for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ "${REGISTRY:-live}" = replay ]; then
  "$BIN/trialwatch" replay --port 8765 --day "${REPLAY_DAY:-1}" &
  children+=($!)
  export AIRFLOW_CONN_CTGOV_API='{"conn_type": "http", "host": "http://127.0.0.1:8765/api/v2", "extra": {"min_interval": 0}}'
  echo "registry: local replay registry (switch days: curl -X POST http://127.0.0.1:8765/_replay/day/2)"
else
  echo "registry: https://clinicaltrials.gov/api/v2 (make up REGISTRY=replay for the offline replay registry)"
fi

if [ -z "${AIRFLOW_CONN_SMTP_DEFAULT:-}" ]; then
  "$BIN/trialwatch" mailsink --port 1025 --dir "$TRIALWATCH_HOME/mail" &
  children+=($!)
  # Local sink on loopback only: no TLS. Set AIRFLOW_CONN_SMTP_DEFAULT for a real server.
  export AIRFLOW_CONN_SMTP_DEFAULT='{"conn_type": "smtp", "host": "127.0.0.1", "port": 1025, "extra": {"disable_ssl": true, "disable_tls": true, "from_email": "trialwatch@localhost"}}'
  echo "mail: local sink, messages saved in $TRIALWATCH_HOME/mail"
fi

echo "store: ${TRIALWATCH_STORE_URL:-sqlite:///$TRIALWATCH_HOME/trialwatch.db}"
echo "Airflow UI: http://$AIRFLOW__API__HOST:${AIRFLOW__API__PORT:-8080} (user admin, password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
"$BIN/airflow" standalone

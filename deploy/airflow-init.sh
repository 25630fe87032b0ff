#!/usr/bin/env bash
# One-off setup that docker-compose.yaml's airflow-init service runs (as root) before the stack starts.
# Safe to run again: every step is idempotent.
#   1. directories the services write to, owned by AIRFLOW_UID
#   2. Airflow's metadata database schema (airflow db migrate)
#   3. the trialwatch store schema in its own database (trialwatch db upgrade)
#   4. the UI password: from AIRFLOW_ADMIN_PASSWORD if set; otherwise the api-server generates one
#      on first start and prints it in its log
set -euo pipefail

uid="${AIRFLOW_UID:-50000}"
passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?must be set by docker-compose.yaml}"

if [[ "${uid}" == "0" ]]; then
  echo "AIRFLOW_UID is 0; set it to your own user id (id -u) in .env so files in ./logs stay yours" >&2
fi

mkdir -p /opt/airflow/logs "$(dirname "${passwords_file}")"

echo "airflow-init: migrating the Airflow metadata database"
airflow db migrate

echo "airflow-init: upgrading the trialwatch store schema"
trialwatch db upgrade

if [[ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]]; then
  python - "${passwords_file}" <<'PY'
import json, os, sys
user = os.environ.get("AIRFLOW_ADMIN_USER") or "admin"
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
    handle.write("\n")
PY
  chmod 600 "${passwords_file}"
  echo "airflow-init: UI login ${AIRFLOW_ADMIN_USER:-admin} with the password from AIRFLOW_ADMIN_PASSWORD"
else
  echo "airflow-init: AIRFLOW_ADMIN_PASSWORD is not set; the UI password will be in: docker compose logs airflow-apiserver"
fi

# Everything written above as root must stay usable by the services, which run as AIRFLOW_UID.
chown -R "${uid}:0" /opt/airflow/logs "$(dirname "${passwords_file}")"
echo "airflow-init: done"

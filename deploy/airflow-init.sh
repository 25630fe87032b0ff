#!/usr/bin/env bash
# One-off setup that docker-compose.yaml's airflow-init service runs, as AIRFLOW_UID (not root),
# before the stack starts. Safe to run again: every step is idempotent.
#   1. warn about too little memory, CPU or disk (as the official Airflow compose file does)
#   2. check that ./logs and ./config are writable by AIRFLOW_UID (create them with `mkdir -p logs config`)
#   3. the image's own entrypoint: waits for the database, migrates Airflow's metadata schema
#      (_AIRFLOW_DB_MIGRATE) and warns about an unexpected user id
#   4. the trialwatch store schema in its own database (trialwatch db upgrade)
#   5. the UI password: from AIRFLOW_ADMIN_PASSWORD if set; otherwise the api-server generates one
#      on first start and prints it in its log
set -euo pipefail

passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?must be set by docker-compose.yaml}"

if [[ "$(id -u)" == "0" ]]; then
  echo "airflow-init: running as root; set AIRFLOW_UID to your user id (id -u) in .env so files in ./logs stay yours" >&2
fi

# 1. Resources: warnings only; Airflow starts with less, but slowly or not at all under load.
memory_mb=$(( $(getconf _PHYS_PAGES) * $(getconf PAGE_SIZE) / 1024 / 1024 ))
cpus=$(getconf _NPROCESSORS_ONLN)
disk_gb=$(( $(df -Pk / | awk 'NR == 2 {print $4}') / 1024 / 1024 ))
(( memory_mb >= 4000 )) || echo "airflow-init: WARNING: ${memory_mb} MB of memory for Docker; at least 4000 MB recommended" >&2
(( cpus >= 2 )) || echo "airflow-init: WARNING: ${cpus} CPU for Docker; at least 2 recommended" >&2
(( disk_gb >= 10 )) || echo "airflow-init: WARNING: ${disk_gb} GB of free disk for Docker; at least 10 GB recommended" >&2

# 2. The bind mounts: Docker creates a missing one as root, which AIRFLOW_UID then cannot write.
for dir in /opt/airflow/logs /opt/airflow/config; do
  if ! touch "${dir}/.write-test" 2>/dev/null; then
    echo "airflow-init: ${dir} is not writable by user $(id -u); on the host run: mkdir -p logs config && sudo chown -R \"\$(id -u)\" logs config" >&2
    exit 1
  fi
  rm -f "${dir}/.write-test"
done

# 3. The official image's entrypoint, as the official compose file's init does.
/entrypoint airflow version

echo "airflow-init: upgrading the trialwatch store schema"
trialwatch db upgrade

if [[ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]]; then
  umask 077
  python - "${passwords_file}" <<'PY'
import json, os, sys
user = os.environ.get("AIRFLOW_ADMIN_USER") or "admin"
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
    handle.write("\n")
PY
  echo "airflow-init: UI login ${AIRFLOW_ADMIN_USER:-admin} with the password from AIRFLOW_ADMIN_PASSWORD"
else
  echo "airflow-init: AIRFLOW_ADMIN_PASSWORD is not set; the UI password will be in: docker compose logs airflow-apiserver"
fi
echo "airflow-init: done"

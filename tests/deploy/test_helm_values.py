"""deploy/helm/values.yaml, checked as a file: no helm or Kubernetes runs here.

The keys must be ones the official Apache Airflow chart knows (names below as in the chart's
chart/values.schema.json, apache/airflow), the image must be the pinned Airflow version, and every
setting the DAGs read must come from a Secret or the environment, as in docker-compose.yaml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "helm" / "values.yaml"
COMPOSE = REPO / "docker-compose.yaml"

# Chart keys this file may use, nested as in the chart; "*" accepts any value below (a map the chart
# passes through, e.g. resources or airflow.cfg sections).
CHART_KEYS: dict[str, Any] = {
    "defaultAirflowRepository": None,
    "defaultAirflowTag": None,
    "airflowVersion": None,
    "images": {"airflow": {"repository": None, "tag": None, "pullPolicy": None}},
    "executor": None,
    "redis": {"enabled": None},
    "postgresql": {"enabled": None},
    "pgbouncer": {"enabled": None},
    "data": {"metadataSecretName": None, "resultBackendSecretName": None, "brokerUrlSecretName": None},
    "jwtSecretName": None,
    "apiSecretKeySecretName": None,
    "fernetKeySecretName": None,
    "secret": None,
    "env": None,
    "extraEnvFrom": None,
    "config": "*",
    "webserver": {"defaultUser": {"enabled": None}},
    "logs": {"persistence": {"enabled": None, "size": None, "existingClaim": None, "storageClassName": None}},
    "dags": {
        "persistence": {"enabled": None},
        "gitSync": {"enabled": None, "repo": None, "branch": None, "subPath": None, "sshKeySecret": None},
    },
    "scheduler": {"replicas": None, "resources": "*"},
    "apiServer": {"replicas": None, "resources": "*"},
    "dagProcessor": {"enabled": None, "resources": "*"},
    "triggerer": {"enabled": None, "resources": "*"},
    "workers": {"replicas": None, "resources": "*"},
}
EXECUTORS = {
    "KubernetesExecutor",
    "CeleryExecutor",
    "CeleryKubernetesExecutor",
    "CeleryExecutor,KubernetesExecutor",
}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def _unknown_keys(data: Any, known: Any, path: str = "") -> list[str]:
    if known == "*" or not isinstance(data, dict):
        return []
    if not isinstance(known, dict):
        return [f"{path} (a value, not a map, in the chart)"]
    problems = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in known:
            problems.append(where)
        elif known[key] is not None:
            problems += _unknown_keys(value, known[key], where)
    return problems


def test_every_key_is_one_the_chart_knows(values: dict[str, Any]) -> None:
    assert _unknown_keys(values, CHART_KEYS) == []


def test_the_checker_catches_a_misspelt_key() -> None:
    assert _unknown_keys({"scheduler": {"replica": 2}}, CHART_KEYS) == ["scheduler.replica"]


def test_image_is_the_one_the_dockerfile_builds_at_the_pinned_airflow(values: dict[str, Any]) -> None:
    (airflow,) = re.findall(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(), re.MULTILINE)
    assert values["airflowVersion"] == values["defaultAirflowTag"] == airflow
    assert values["images"]["airflow"]["tag"].startswith(airflow)
    assert f"ARG AIRFLOW_VERSION={airflow}" in (REPO / "Dockerfile").read_text()


def test_executor_and_external_postgresql(values: dict[str, Any]) -> None:
    assert values["executor"] in EXECUTORS
    if "Celery" not in values["executor"]:
        assert values["redis"]["enabled"] is False
    assert values["postgresql"]["enabled"] is False
    assert values["data"]["metadataSecretName"]
    for key in ("jwtSecretName", "apiSecretKeySecretName", "fernetKeySecretName"):
        assert values[key], key


def test_connections_and_store_come_from_secrets(values: dict[str, Any]) -> None:
    from_secrets = {item["envName"]: item for item in values["secret"]}
    for item in from_secrets.values():
        assert set(item) == {"envName", "secretName", "secretKey"}
    # Everything the compose stack sets for the tasks as a connection or the store URL.
    compose_env = yaml.safe_load(COMPOSE.read_text())["x-airflow-common"]["environment"]
    needed = {key for key in compose_env if key.startswith("AIRFLOW_CONN_")} | {"TRIALWATCH_STORE_URL"}
    assert needed <= set(from_secrets)
    plain = {item["name"] for item in values["env"]}
    assert not needed & plain, "credentials are never plain values"


def test_watchlists_path_is_where_the_image_has_them(values: dict[str, Any]) -> None:
    env = {item["name"]: item["value"] for item in values["env"]}
    assert env["TRIALWATCH_WATCHLISTS"] == "/opt/airflow/include/watchlists"
    assert "COPY --chown=airflow:0 include /opt/airflow/include" in (REPO / "Dockerfile").read_text()
    batch = int(env["AIRFLOW_VAR_TRIALWATCH_SYNC_BATCH_SIZE"])
    assert batch >= 1


def test_auth_manager_is_the_installed_simple_auth_manager(values: dict[str, Any]) -> None:
    import importlib

    module, _, name = values["config"]["core"]["auth_manager"].rpartition(".")
    assert getattr(importlib.import_module(module), name).__name__ == "SimpleAuthManager"
    assert values["webserver"]["defaultUser"]["enabled"] is False


def test_config_options_exist_in_the_installed_airflow(values: dict[str, Any]) -> None:
    from airflow.configuration import conf

    described = conf.configuration_description
    for section, options in values["config"].items():
        for option in options:
            assert option in described.get(section, {}).get("options", {}), f"{section}.{option}"


def test_example_secret_values_parse() -> None:
    """The connection JSON shown in docs/deployment.md for the Secrets is valid JSON."""
    text = (REPO / "docs" / "deployment.md").read_text()
    shown = re.findall(r"--from-literal=connection='(\{.*?\})'", text)
    assert shown, "docs/deployment.md shows the connection Secrets"
    for value in shown:
        assert json.loads(value)["conn_type"] in {"smtp", "http"}

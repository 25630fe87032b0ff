"""docker-compose.yaml, Dockerfile and their helpers, checked as files.

No Docker engine runs these tests, so they check what can be checked without one: the YAML parses,
every service, volume and path it names exists, the connections are valid JSON that point at
services of the stack, the Airflow settings and classes it names exist in the installed Airflow,
and the image is built from the same Airflow version the project pins.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
)
# Bind mounts the stack writes to; the user creates them (docs/deployment.md), git keeps them out.
WRITTEN_BY_THE_STACK = {"./logs", "./config"}
# The values a user puts in .env; the rest keep the defaults written in docker-compose.yaml.
SECRETS = {"AIRFLOW_JWT_SECRET": "jwt-secret-for-tests", "AIRFLOW_API_SECRET_KEY": "api-secret-for-tests"}
OFFLINE = {**SECRETS, "CTGOV_API_URL": "http://replay:8765/api/v2", "CTGOV_MIN_INTERVAL": "0"}

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(LookupError):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution (${VAR}, ${VAR:-default}, ${VAR:?error}, $$) over a parsed file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        current = env.get(name)
        empty = current is None or (current == "" and operator and operator.startswith(":"))
        if operator and operator.endswith("?") and empty:
            raise MissingVariable(argument or name)
        if operator and operator.endswith("-") and empty:
            return argument
        return current or ""

    return _VARIABLE.sub(replace, value)


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), SECRETS if env is None else env)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def dockerfile_args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))


def dockerfile_base_image() -> str:
    (base,) = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    return re.sub(r"\$\{(\w+)\}", lambda m: dockerfile_args()[m.group(1)], base)


def pinned(requirements: Path, package: str) -> str:
    (version,) = re.findall(rf"^{re.escape(package)}==(\S+)", requirements.read_text(), flags=re.MULTILINE)
    return version


# Service attributes of the Compose specification (compose-spec.json, "service"); a misspelt key
# would otherwise be ignored by a reader of this test and rejected by docker compose.
COMPOSE_SERVICE_KEYS = frozenset(
    [
        "annotations",
        "attach",
        "blkio_config",
        "build",
        "cap_add",
        "cap_drop",
        "cgroup",
        "cgroup_parent",
        "command",
        "configs",
        "container_name",
        "cpu_count",
        "cpu_percent",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_period",
        "cpu_rt_runtime",
        "cpu_shares",
        "cpus",
        "cpuset",
        "credential_spec",
        "depends_on",
        "deploy",
        "develop",
        "device_cgroup_rules",
        "devices",
        "dns",
        "dns_opt",
        "dns_search",
        "domainname",
        "entrypoint",
        "env_file",
        "environment",
        "expose",
        "extends",
        "external_links",
        "extra_hosts",
        "gpus",
        "group_add",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "ipc",
        "isolation",
        "label_file",
        "labels",
        "links",
        "logging",
        "mac_address",
        "mem_limit",
        "mem_reservation",
        "mem_swappiness",
        "memswap_limit",
        "models",
        "network_mode",
        "networks",
        "oom_kill_disable",
        "oom_score_adj",
        "pid",
        "pids_limit",
        "platform",
        "ports",
        "post_start",
        "pre_stop",
        "privileged",
        "profiles",
        "provider",
        "pull_policy",
        "read_only",
        "restart",
        "runtime",
        "scale",
        "secrets",
        "security_opt",
        "shm_size",
        "stdin_open",
        "stop_grace_period",
        "stop_signal",
        "storage_opt",
        "sysctls",
        "tmpfs",
        "tty",
        "ulimits",
        "use_api_socket",
        "user",
        "userns_mode",
        "uts",
        "volumes",
        "volumes_from",
        "working_dir",
    ]
)
HEALTHCHECK_KEYS = frozenset(
    {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
)


class TestServices:
    def test_the_stack_has_every_service(self, services: dict[str, Any]) -> None:
        expected = {"postgres", "redis", "mailpit", "airflow-init", "replay", *AIRFLOW_SERVICES}
        assert expected <= set(services)

    def test_top_level_and_service_keys_are_compose_keys(self, compose: dict[str, Any]) -> None:
        assert {key for key in compose if not key.startswith("x-")} == {"services", "volumes"}
        for name, service in compose["services"].items():
            assert set(service) <= COMPOSE_SERVICE_KEYS, f"{name}: {set(service) - COMPOSE_SERVICE_KEYS}"
            assert isinstance(service.get("environment", {}), dict)
            for value in service.get("environment", {}).values():
                assert isinstance(value, str), f"{name}: environment values are text in this file"
            if "healthcheck" in service:
                assert set(service["healthcheck"]) <= HEALTHCHECK_KEYS, name
                assert all(
                    isinstance(service["healthcheck"].get(k, ""), str) for k in ("interval", "timeout")
                )
            for key in ("volumes", "ports", "expose", "profiles"):
                values = service.get(key, [])
                assert len(values) == len(set(values)), f"{name}: duplicate {key}"

    def test_images(self, services: dict[str, Any]) -> None:
        assert services["postgres"]["image"] == "postgres:16"
        assert services["redis"]["image"] == "redis:7.2-bookworm"
        name, _, tag = services["mailpit"]["image"].partition(":")
        assert name == "axllent/mailpit"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), "Mailpit is pinned to a release"
        for name in (*AIRFLOW_SERVICES, "airflow-init", "replay"):
            assert services[name]["build"] == "."
            assert services[name]["image"] == "trialwatch-airflow:3.3.2"

    def test_commands(self, services: dict[str, Any]) -> None:
        commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
        assert commands == {
            "airflow-apiserver": "api-server",
            "airflow-scheduler": "scheduler",
            "airflow-dag-processor": "dag-processor",
            "airflow-worker": "celery worker",
            "airflow-triggerer": "triggerer",
        }

    def test_long_running_services_have_health_checks(self, services: dict[str, Any]) -> None:
        for name, service in services.items():
            if name not in ("airflow-init", "airflow-cli"):
                assert service["healthcheck"]["test"], name
                assert service["restart"] == "always", name

    def test_dependencies_name_services_of_the_stack(self, services: dict[str, Any]) -> None:
        for name, service in services.items():
            for dependency, rule in service.get("depends_on", {}).items():
                assert dependency in services, f"{name} depends on unknown {dependency}"
                assert dependency != name
                assert rule["condition"] in (
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                )
                if rule["condition"] == "service_healthy":
                    assert "healthcheck" in services[dependency], dependency

    def test_airflow_services_wait_for_init_and_worker_for_the_api_server(
        self, services: dict[str, Any]
    ) -> None:
        for name in AIRFLOW_SERVICES:
            assert (
                services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            )
        assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
        assert "airflow-init" not in services["airflow-init"]["depends_on"]

    def test_named_volumes_are_declared(self, compose: dict[str, Any]) -> None:
        declared = set(compose["volumes"])
        for name, service in compose["services"].items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if not source.startswith((".", "/")):
                    assert source in declared, f"{name} mounts undeclared volume {source}"

    def test_bind_mounts_exist_in_the_repository(self, services: dict[str, Any]) -> None:
        mounted = set()
        for service in services.values():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source in WRITTEN_BY_THE_STACK:
                    continue
                if source.startswith("."):
                    assert (REPO / source).exists(), source
                    mounted.add(source)
        assert {"./dags", "./plugins", "./include", "./deploy"} <= mounted

    def test_logs_and_config_are_bind_mounts_as_in_the_official_file(self, services: dict[str, Any]) -> None:
        for name in (*AIRFLOW_SERVICES, "airflow-init", "airflow-cli", "flower"):
            volumes = services[name]["volumes"]
            assert "./logs:/opt/airflow/logs" in volumes, name
            assert "./config:/opt/airflow/config" in volumes, name
            assert services[name]["environment"]["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg"
        passwords = services["airflow-apiserver"]["environment"][
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
        ]
        assert passwords.startswith("/opt/airflow/config/"), "kept where AIRFLOW_UID can write"
        # The setup step that creates them (owned by the user) is in the file's header and the guide.
        assert "mkdir -p logs config" in COMPOSE.read_text()
        assert "mkdir -p logs config" in (REPO / "docs" / "deployment.md").read_text()

    def test_ports(self, services: dict[str, Any]) -> None:
        # UIs are published on loopback unless UI_BIND says otherwise.
        assert services["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
        assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
        assert 1025 in services["mailpit"]["expose"]
        assert services["replay"]["ports"] == ["127.0.0.1:8765:8765"]
        assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]
        for name, service in services.items():
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"

    def test_no_service_runs_as_root(self, services: dict[str, Any]) -> None:
        for name, service in services.items():
            if name in ("postgres", "redis", "mailpit"):
                continue  # their images choose their own users
            assert service["user"] == "50000:0", name

    def test_services_that_send_mail_wait_for_a_healthy_mailpit(self, services: dict[str, Any]) -> None:
        assert services["mailpit"]["healthcheck"]["test"]
        for name, service in services.items():
            if "mailpit" in service.get("depends_on", {}):
                assert service["depends_on"]["mailpit"]["condition"] == "service_healthy", name
        assert "mailpit" in services["airflow-worker"]["depends_on"]

    def test_flower_is_a_profile_of_its_own(self, services: dict[str, Any]) -> None:
        assert services["flower"]["profiles"] == ["flower"]
        assert services["flower"]["command"] == "celery flower"

    def test_airflow_cli_does_not_wait_for_the_database(self, services: dict[str, Any]) -> None:
        assert services["airflow-cli"]["profiles"] == ["debug"]
        assert services["airflow-cli"]["environment"]["CONNECTION_CHECK_MAX_COUNT"] == "0"


class TestAirflowSettings:
    def test_every_airflow_service_shares_one_environment(self, services: dict[str, Any]) -> None:
        reference = services["airflow-apiserver"]["environment"]
        for name in (*AIRFLOW_SERVICES, "airflow-init", "airflow-cli"):
            environment = services[name]["environment"]
            for key, value in reference.items():
                assert environment[key] == value, f"{name}: {key}"
        assert reference["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
        assert reference["AIRFLOW__API__SECRET_KEY"] == SECRETS["AIRFLOW_API_SECRET_KEY"]

    def test_executor_database_broker_and_unattended_dags(self, services: dict[str, Any]) -> None:
        env = services["airflow-scheduler"]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert (
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            == "postgresql+psycopg2://airflow:airflow@postgres/airflow"
        )
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"

    def test_secrets_are_required(self) -> None:
        with pytest.raises(MissingVariable, match="AIRFLOW_JWT_SECRET"):
            load_compose({})
        with pytest.raises(MissingVariable, match="AIRFLOW_API_SECRET_KEY"):
            load_compose({"AIRFLOW_JWT_SECRET": "x", "AIRFLOW_API_SECRET_KEY": ""})

    def test_every_airflow_option_exists_in_the_installed_airflow(self, services: dict[str, Any]) -> None:
        from airflow.configuration import conf

        described = conf.configuration_description
        for key in services["airflow-apiserver"]["environment"]:
            if match := re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", key):
                section, option = match.group(1).lower(), match.group(2).lower()
                assert option in described.get(section, {}).get("options", {}), key

    def test_auth_manager_and_health_endpoint_exist(self, services: dict[str, Any]) -> None:
        import importlib

        from airflow.api_fastapi.core_api.routes.public.monitor import monitor_router

        module, _, name = services["airflow-apiserver"]["environment"][
            "AIRFLOW__CORE__AUTH_MANAGER"
        ].rpartition(".")
        assert getattr(importlib.import_module(module), name).__name__ == "SimpleAuthManager"
        health_test = services["airflow-apiserver"]["healthcheck"]["test"]
        path = health_test[-1].removeprefix("http://localhost:8080/api/v2")
        assert path in {route.path for route in monitor_router.routes}


class TestConnections:
    def test_smtp_goes_to_mailpit_without_tls(self, services: dict[str, Any]) -> None:
        conn = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert conn["conn_type"] == "smtp"
        assert conn["host"] == "mailpit" and conn["host"] in services
        assert conn["port"] == 1025 and conn["port"] in services["mailpit"]["expose"]
        # JSON booleans: URI-form extras would be strings, and "false" would read as true.
        assert conn["extra"]["disable_ssl"] is True
        assert conn["extra"]["disable_tls"] is True
        assert conn["extra"]["from_email"] == "trialwatch@example.org"

    def test_smtp_connection_is_read_by_the_digest_settings(self, services: dict[str, Any]) -> None:
        from trialwatch.digest.smtp import SmtpSettings

        conn = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_SMTP_DEFAULT"])
        settings = SmtpSettings.from_airflow_connection_fields(
            conn["host"], conn["port"], None, None, conn["extra"]
        )
        assert (settings.host, settings.port, settings.from_email) == (
            "mailpit",
            1025,
            "trialwatch@example.org",
        )

    def test_registry_is_clinicaltrials_gov_by_default(self, services: dict[str, Any]) -> None:
        conn = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_CTGOV_API"])
        assert conn == {
            "conn_type": "http",
            "host": "https://clinicaltrials.gov/api/v2",
            "extra": {"min_interval": 1},
        }

    def test_offline_registry_is_the_replay_service(self) -> None:
        services = load_compose(OFFLINE)["services"]
        conn = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_CTGOV_API"])
        assert conn["host"] == "http://replay:8765/api/v2"
        assert conn["extra"]["min_interval"] == 0
        replay = services["replay"]
        assert replay["profiles"] == ["offline"]
        assert replay["entrypoint"][-1] == "trialwatch"
        assert replay["command"] == ["replay", "--host", "0.0.0.0", "--port", "8765"]

    def test_replay_command_line_is_accepted_by_the_cli(self, services: dict[str, Any]) -> None:
        from trialwatch import cli

        args = cli.build_parser().parse_args(services["replay"]["command"])
        assert (args.host, args.port) == ("0.0.0.0", 8765)

    def test_store_is_the_trialwatch_database(self, services: dict[str, Any]) -> None:
        env = services["airflow-worker"]["environment"]
        assert env["TRIALWATCH_STORE_URL"] == "postgresql+psycopg2://airflow:airflow@postgres/trialwatch"
        init_sql = services["postgres"]["volumes"][1].split(":")[0]
        assert re.search(r"CREATE DATABASE trialwatch OWNER airflow;", (REPO / init_sql).read_text())
        assert services["postgres"]["environment"]["POSTGRES_USER"] == "airflow"

    def test_watchlists_are_read_from_the_mounted_include(self, services: dict[str, Any]) -> None:
        env = services["airflow-scheduler"]["environment"]
        assert env["TRIALWATCH_WATCHLISTS"] == "/opt/airflow/include/watchlists"
        assert "./include:/opt/airflow/include" in services["airflow-scheduler"]["volumes"]


class TestImage:
    def test_base_image_is_the_pinned_airflow_version(self) -> None:
        base = dockerfile_base_image()
        airflow = pinned(REPO / "requirements.txt", "apache-airflow")
        assert base == f"apache/airflow:{airflow}-python3.11"
        assert pinned(REPO / "constraints.txt", "apache-airflow") == airflow
        assert "Python 3.11" in (REPO / "constraints.txt").read_text().splitlines()[0]

    def test_copied_paths_exist_and_are_not_ignored(self) -> None:
        ignored = {
            line.strip()
            for line in (REPO / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        sources = []
        for line in re.findall(r"^COPY (.+)$", DOCKERFILE.read_text(), flags=re.MULTILINE):
            parts = [part for part in line.split() if not part.startswith("--")]
            sources.extend(parts[:-1])
        assert {"requirements.txt", "constraints.txt", "pyproject.toml", "include"} <= set(sources)
        for source in sources:
            assert (REPO / source).exists(), source
            assert source not in ignored, source

    def test_package_is_installed_where_compose_mounts_include(self) -> None:
        text = DOCKERFILE.read_text()
        assert "COPY --chown=airflow:0 include /opt/airflow/include" in text
        assert "--editable /opt/airflow" in text
        assert re.search(r"-r /opt/trialwatch/requirements\.txt -c /opt/trialwatch/constraints\.txt", text)
        pyproject = (REPO / "pyproject.toml").read_text()
        assert 'where = ["include"]' in pyproject

    def test_init_script_is_valid_bash_and_is_what_airflow_init_runs(self, services: dict[str, Any]) -> None:
        script = REPO / "deploy" / "airflow-init.sh"
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert services["airflow-init"]["command"] == ["/opt/airflow/deploy/airflow-init.sh"]
        assert "./deploy:/opt/airflow/deploy:ro" in services["airflow-init"]["volumes"]
        assert services["airflow-init"]["user"] == "50000:0"
        # The image's entrypoint migrates the metadata database when asked to, as in the official file.
        assert "\n/entrypoint airflow version\n" in script.read_text()
        assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
        assert "trialwatch db upgrade" in script.read_text()
        assert "chown" not in script.read_text().replace("sudo chown", ""), "nothing to hand over: not root"


def test_docker_compose_accepts_the_file_with_env_example_filled_in(tmp_path: Path) -> None:
    """The Compose client's own reading of the file (no engine needed): `docker-compose config`."""
    assert shutil.which("docker-compose"), "needs Debian's docker-compose client: `make compose-client`"
    env_file = tmp_path / ".env"
    filled = re.sub(
        r"^(AIRFLOW_JWT_SECRET|AIRFLOW_API_SECRET_KEY)=$",
        lambda m: f"{m.group(1)}={SECRETS[m.group(1)]}",
        (REPO / ".env.example").read_text(),
        flags=re.MULTILINE,
    )
    env_file.write_text(filled)
    for profiles in ([], ["--profile", "flower"], ["--profile", "debug"], ["--profile", "offline"]):
        result = subprocess.run(
            ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE), *profiles, "config"],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        resolved = yaml.safe_load(result.stdout)
        (port,) = resolved["services"]["mailpit"]["ports"]
        # docker-compose v1 writes "127.0.0.1:8025:8025/tcp"; v2 a mapping with host_ip.
        host_ip = port["host_ip"] if isinstance(port, dict) else port.split(":")[0]
        assert host_ip == "127.0.0.1", profiles

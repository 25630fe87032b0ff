"""A small Airflow cluster on loopback for the Celery test: one process per component, two workers.

Every component is its own process group with its own working directory, AIRFLOW_HOME and
TRIALWATCH_HOME, so the only files they share are the code and the DAG bundle (the repo's dags/).
They meet through PostgreSQL (metadata database and store), Redis (the Celery broker) and HTTP
(the api-server's execution API), as they would on separate machines.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
HERE = Path(__file__).resolve().parent
WATCHLISTS = HERE / "watchlists"
WORKERS = ("worker-a", "worker-b")
STARTUP_TIMEOUT_S = 240.0
ADMIN = "admin"


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Component:
    name: str
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.directory / "output.log"

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(text[-lines:])


@dataclass
class Cluster:
    base_url: str
    root: Path
    password: str
    components: dict[str, Component] = field(default_factory=dict)
    token: str = ""

    def home(self, name: str) -> Path:
        return self.root / name

    def diagnostics(self) -> str:
        return "\n".join(c.tail() for c in self.components.values())

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if not self.token:
            answer = requests.post(
                f"{self.base_url}/auth/token", json={"username": ADMIN, "password": self.password}, timeout=30
            )
            answer.raise_for_status()
            self.token = answer.json()["access_token"]
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        answer = self.api("GET", path, params=params)
        if answer.status_code != 200:
            raise AssertionError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()


def _environment(
    root: Path, name: str, marker: str, shared: dict[str, str], extra: dict[str, str] | None = None
) -> dict[str, str]:
    directory = root / name
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "TRIALWATCH"))}
    env.update(shared)
    env.update(
        {
            "AIRFLOW_HOME": str(directory / "airflow"),
            "TRIALWATCH_HOME": str(directory / "trialwatch"),
            "TRIALWATCH_TEST_CLUSTER": marker,
        }
    )
    env.update(extra or {})
    return env


def shared_settings(
    *,
    metadata_url: str,
    store_url: str,
    broker_url: str,
    broker_key_prefix: str,
    api_port: int,
    registry_url: str,
    smtp_port: int,
    batch_size: int,
) -> dict[str, str]:
    """Settings every component gets: what a deployment would put in its common environment."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        # Every broker key under this run's prefix (kombu's global_keyprefix), apart from any other
        # cluster on the same Redis database.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": broker_key_prefix,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # Identical in every component, as on separate machines: tokens signed by one are read by all.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW_CONN_CTGOV_API": json.dumps(
            {"conn_type": "http", "host": registry_url, "extra": {"min_interval": 0}}
        ),
        # A local sink on loopback: no TLS to negotiate. Never do this for a real server.
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "trialwatch@localhost"},
            }
        ),
        "AIRFLOW_VAR_TRIALWATCH_SYNC_BATCH_SIZE": str(batch_size),
        "TRIALWATCH_STORE_URL": store_url,
        "TRIALWATCH_WATCHLISTS": str(WATCHLISTS),
        "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins"), str(HERE)]),
        "PATH": f"{AIRFLOW_BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _start(root: Path, name: str, args: list[str], env: dict[str, str]) -> Component:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    log = (directory / "output.log").open("wb")
    process = subprocess.Popen(
        [str(AIRFLOW_BIN), *args],
        cwd=directory,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return Component(name, directory, process)


def _processes_marked(marker: str) -> list[int]:
    """PIDs whose environment carries this cluster's marker: everything it started, however detached."""
    needle = f"TRIALWATCH_TEST_CLUSTER={marker}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _stop_all(components: list[Component], marker: str) -> None:
    for component in components:
        try:
            os.killpg(component.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20
    for component in components:
        try:
            component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for _ in range(3):
        leftovers = _processes_marked(marker)
        for component in components:
            try:
                os.killpg(component.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not leftovers:
            break
        time.sleep(0.5)
    for component in components:
        try:
            component.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _wait_until_ready(cluster: Cluster) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    problem = "no answer yet"
    while time.monotonic() < deadline:
        for component in cluster.components.values():
            if component.process.poll() is not None:
                raise RuntimeError(
                    f"{component.name} exited with {component.process.returncode}\n{cluster.diagnostics()}"
                )
        try:
            health = requests.get(f"{cluster.base_url}/api/v2/monitor/health", timeout=5)
            if health.status_code == 200:
                dag = cluster.api("GET", "/api/v2/dags/trialwatch_sync")
                if dag.status_code == 200:
                    return
                problem = f"trialwatch_sync not parsed yet ({dag.status_code})"
            else:
                problem = f"health answered {health.status_code}"
        except requests.RequestException as error:
            problem = repr(error)
        time.sleep(2)
    raise TimeoutError(
        f"cluster not ready after {STARTUP_TIMEOUT_S:.0f} s ({problem})\n{cluster.diagnostics()}"
    )


@contextmanager
def celery_cluster(root: Path, settings: dict[str, str]) -> Iterator[Cluster]:
    """Migrate the metadata database, start every component, and stop them all when the block ends."""
    marker = uuid.uuid4().hex
    api_port = int(settings["AIRFLOW__API__PORT"])
    log_ports = free_ports(len(WORKERS))
    password = secrets.token_urlsafe(12)
    api_home = root / "api-server" / "airflow"
    api_home.mkdir(parents=True, exist_ok=True)
    passwords = api_home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: password}))

    def env(name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return _environment(root, name, marker, settings, extra)

    migrate = subprocess.run(
        [str(AIRFLOW_BIN), "db", "migrate"],
        cwd=root,
        env=env("init"),
        capture_output=True,
        text=True,
        check=False,
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")

    cluster = Cluster(base_url=f"http://127.0.0.1:{api_port}", root=root, password=password)
    started: list[Component] = []
    with ExitStack() as stack:
        stack.callback(lambda: _stop_all(started, marker))
        plan: list[tuple[str, list[str], dict[str, str]]] = [
            (
                "api-server",
                ["api-server"],
                {
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                    # Logs of running tasks are fetched from a worker's log server on this port.
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
                },
            ),
            ("scheduler", ["scheduler"], {}),
            ("dag-processor", ["dag-processor"], {}),
        ]
        for worker, port in zip(WORKERS, log_ports, strict=True):
            plan.append(
                (
                    worker,
                    ["celery", "worker", "--celery-hostname", f"{worker}@%h", "--concurrency", "1"],
                    {
                        # Two workers on one machine need two log-server ports; separate hosts would not.
                        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port),
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.hostname",
                        "TRIALWATCH_TEST_WORKER_NAME": worker,
                    },
                )
            )
        for name, args, extra in plan:
            component = _start(root, name, args, env(name, extra))
            started.append(component)
            cluster.components[name] = component
        _wait_until_ready(cluster)
        yield cluster

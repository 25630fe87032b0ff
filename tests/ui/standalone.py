"""Start a real ``airflow standalone`` on loopback with the project's DAGs and plugins, and stop it again.

Everything it needs lives in its own temporary AIRFLOW_HOME and on free ports, so it can run beside
another Airflow on the same machine. Used by the browser tests and by scripts/screenshot_ui.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = REPO / ".venv" / "bin" / "airflow"
STARTUP_TIMEOUT_S = 180.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass(frozen=True)
class RunningAirflow:
    base_url: str
    home: Path
    username: str
    password: str
    log_path: Path


def _free_ports(count: int) -> list[int]:
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


def standalone_environment(
    home: Path, store_url: str, extra: dict[str, str] | None = None
) -> tuple[dict[str, str], int]:
    """The environment for one isolated standalone instance, and the port of its UI."""
    api_port, worker_log_port, trigger_log_port, health_port = _free_ports(4)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port),
            # standalone starts its components as `airflow ...` found on PATH.
            "PATH": f"{AIRFLOW_BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(REPO),
            "TRIALWATCH_STORE_URL": store_url,
            "TRIALWATCH_HOME": str(home / "trialwatch"),
        }
    )
    env.update(extra or {})
    return env, api_port


def _processes_of(home: Path) -> list[int]:
    """PIDs whose environment names this instance's AIRFLOW_HOME: everything the launch started."""
    marker = f"AIRFLOW_HOME={home}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _stop(process: subprocess.Popen[bytes], home: Path) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    # Some children start their own sessions or survive SIGTERM; find them by their environment.
    for _ in range(2):
        leftovers = [pid for pid in _processes_of(home) if pid != os.getpid()]
        if not leftovers:
            break
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _wait_until_ready(base_url: str, home: Path, process: subprocess.Popen[bytes], log_path: Path) -> str:
    passwords = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {process.returncode}; see {log_path}")
        try:
            health = requests.get(f"{base_url}/api/v2/monitor/health", timeout=5)
            if health.status_code == 200 and passwords.is_file():
                plugin = requests.get(f"{base_url}/trialwatch/api/overview", timeout=5)
                if plugin.status_code == 401:  # mounted, and asking for a login
                    return json.loads(passwords.read_text())["admin"]
                last_problem = f"/trialwatch/api/overview answered {plugin.status_code}"
            else:
                last_problem = f"health {health.status_code}, password file present: {passwords.is_file()}"
        except (requests.RequestException, ValueError, KeyError) as problem:
            last_problem = repr(problem)
        time.sleep(2)
    raise TimeoutError(
        f"airflow standalone not ready at {base_url} after {STARTUP_TIMEOUT_S:.0f} s "
        f"({last_problem}); see {log_path}"
    )


@contextmanager
def airflow_standalone(
    home: Path, store_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[RunningAirflow]:
    """Run ``airflow standalone`` until the block ends; every process it started is stopped after.

    ``extra_env`` adds to (or replaces in) its environment, e.g. connections."""
    home.mkdir(parents=True, exist_ok=True)
    env, port = standalone_environment(home, store_url, extra_env)
    base_url = f"http://127.0.0.1:{port}"
    log_path = home / "standalone.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(AIRFLOW_BIN), "standalone"],
            cwd=home,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            password = _wait_until_ready(base_url, home, process, log_path)
            yield RunningAirflow(base_url, home, "admin", password, log_path)
        finally:
            _stop(process, home)


def login(page, airflow: RunningAirflow) -> None:  # type: ignore[no-untyped-def]
    """Log in through Airflow's own login form (SimpleAuthManager)."""
    page.goto(f"{airflow.base_url}/")
    page.locator("input[name=username]").fill(airflow.username)
    page.locator("input[name=password]").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url and "/login" not in url, timeout=60_000)


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, without background traffic."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_trial_watch(page, airflow: RunningAirflow):  # type: ignore[no-untyped-def]
    """Log in and open Trial Watch from the Airflow navigation; returns the plugin's frame."""
    login(page, airflow)
    # A top-level entry of Airflow's navigation, not under Browse.
    page.get_by_role("link", name="Trial Watch").first.click()
    page.wait_for_url(re.compile(r"/plugin/trialwatch"))
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Watched trials").wait_for()
    return frame

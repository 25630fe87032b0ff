"""`trialwatch demo`: the whole monitor, offline, through the real DAGs.

It starts the replay registry (day 1) and a local mail sink, runs the sync DAG, the history backfill
DAG (day 1: the new trials' older versions) and the digest DAGs with `airflow dags test`, switches the registry to day 2 (new versions of the two seed trials) and
runs them again. The DAG runs go through Airflow's executor and an api-server (for the tasks'
execution API), so every task writes its log file like a scheduled run: `make up-demo` starts Airflow
on the demo's Airflow home (`airflow_home`) and shows the runs, their logs and the store. The day-2 digest lands in the mail sink's folder as .eml files, and its webhook,
Slack and Teams messages (from copies of the watchlists with ``channels`` added) in a local webhook
sink's folder as .json files.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trialwatch import settings

REPO = settings.PACKAGE_DIR.parent.parent
# The demo's channels: one connection each, all pointing at the local webhook sink.
DEMO_CHANNELS = {"webhook": "demo_webhook", "slack": "demo_slack", "teams": "demo_teams"}
DEMO_WEBHOOK_SECRET = "demo-signing-secret"
API_SERVER_TIMEOUT_S = 180.0


def airflow_home(workdir: Path) -> Path:
    """The demo's Airflow home: its metadata database (DAG runs) and task logs; `make up-demo` opens it."""
    return workdir / "airflow"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_watchlists(workdir: Path) -> Path:
    """Copies of the project's watchlists, each with the demo's channels added."""
    folder = workdir / "watchlists"
    folder.mkdir(parents=True, exist_ok=True)
    channels = "".join(f"  - {kind}: {conn_id}\n" for kind, conn_id in DEMO_CHANNELS.items())
    for path in sorted(settings.watchlist_dir().glob("*.yaml")):
        (folder / path.name).write_text(path.read_text().rstrip("\n") + "\nchannels:\n" + channels)
    return folder


def _channel_connections(hook_url: str) -> dict[str, str]:
    paths = {"webhook": "/hooks/partner", "slack": "/services/T0/B0/demo", "teams": "/webhookb2/demo"}
    env = {}
    for kind, conn_id in DEMO_CHANNELS.items():
        fields: dict[str, object] = {"conn_type": "http", "host": hook_url + paths[kind]}
        if kind == "webhook":
            fields["password"] = DEMO_WEBHOOK_SECRET
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(fields)
    return env


def _airflow_env(
    workdir: Path, api_url: str, smtp_port: int, hook_url: str | None = None, api_port: int | None = None
) -> dict[str, str]:
    home = airflow_home(workdir)
    env = settings.environment_for_subprocess()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # As `make up` does: the DAGs run on schedule once `make up-demo` opens this home.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Two task processes at a time: the demo runs on a laptop beside everything else.
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_CTGOV_API": json.dumps(
                {"conn_type": "http", "host": api_url, "extra": {"min_interval": 0}}
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
            "TRIALWATCH_HOME": str(workdir),
            "TRIALWATCH_STORE_URL": f"sqlite:///{workdir / 'trialwatch.db'}",
        }
    )
    if api_port is not None:
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{api_port}/execution/"
    if hook_url is not None:
        env["TRIALWATCH_WATCHLISTS"] = str(_demo_watchlists(workdir))
        env.update(_channel_connections(hook_url))
    return env


def _airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


@contextmanager
def _execution_api(env: dict[str, str], port: int, log_file: Path) -> Iterator[None]:
    """An api-server on loopback for the tasks' execution API, stopped (with its workers) at the end."""
    started = time.monotonic()
    print("  starting Airflow's api-server for the task runs ...", end="", flush=True)
    with log_file.open("a") as log:
        process = subprocess.Popen(
            [_airflow_bin(), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
    try:
        health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
        while True:
            if process.poll() is not None:
                raise SystemExit(f"airflow api-server exited with {process.returncode}; see {log_file}")
            if time.monotonic() - started > API_SERVER_TIMEOUT_S:
                raise SystemExit(f"airflow api-server not ready at {health} after 180 s; see {log_file}")
            try:
                with urllib.request.urlopen(health, timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(1)
        print(f" ok ({time.monotonic() - started:.0f} s)")
        yield
    finally:
        # Its own session: the signal reaches the server and its worker processes, nothing else.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _airflow(args: list[str], env: dict[str, str], log_file: Path, what: str) -> None:
    started = time.monotonic()
    print(f"  {what} ...", end="", flush=True)
    with log_file.open("a") as log:
        log.write(f"\n$ airflow {' '.join(args)}\n")
        log.flush()
        result = subprocess.run(
            [_airflow_bin(), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            check=False,
        )
    print(f" {'ok' if result.returncode == 0 else 'FAILED'} ({time.monotonic() - started:.0f} s)")
    if result.returncode != 0:
        tail = log_file.read_text().splitlines()[-40:]
        raise SystemExit(f"airflow {' '.join(args)} failed; last lines of {log_file}:\n" + "\n".join(tail))


def _dag_ids() -> list[str]:
    from trialwatch.watchlists import load_watchlists

    return [f"trialwatch_digest_{w.name}" for w in load_watchlists().watchlists]


def describe_mail(path: Path) -> list[str]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    lines = [f"  {path}", f"    To: {message['To']}", f"    Subject: {message['Subject']}"]
    body = message.get_body(preferencelist=("plain",))
    if body is not None:
        text = body.get_content()
        lines += [f"    | {line}" for line in text.splitlines()[:60]]
    return lines


def run_demo(workdir: Path) -> list[Path]:
    from trialwatch.mailsink import MailSink
    from trialwatch.replay.server import serve
    from trialwatch.webhooksink import WebhookSink

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    log_file = workdir / "airflow.log"
    hooks = WebhookSink(workdir / "webhooks", secret=DEMO_WEBHOOK_SECRET)
    with serve(day=1) as registry, MailSink(workdir / "mail") as sink, hooks:
        print(f"replay registry: {registry.base_url} (day 1)")
        print(f"mail sink: smtp://{sink.host}:{sink.port} -> {sink.folder}")
        print(f"webhook sink (webhook, Slack, Teams): {hooks.url} -> {hooks.folder}")
        print(f"store: {workdir / 'trialwatch.db'}; Airflow logs: {log_file}")
        api_port = _free_port()
        env = _airflow_env(workdir, registry.base_url, sink.port, hooks.url, api_port)
        _airflow(["db", "migrate"], env, log_file, "preparing Airflow's metadata database")
        digests = _dag_ids()
        # --use-executor: tasks run as in a scheduled run and write their logs for the Airflow UI.
        test = ["dags", "test", "--use-executor"]
        with _execution_api(env, api_port, log_file):
            for day in (1, 2):
                registry.set_day(day)
                print(f"day {day}: registry data of {registry.data_timestamp}")
                _airflow([*test, "trialwatch_sync"], env, log_file, "sync DAG")
                if day == 1:  # the new trials' older versions, as the hourly backfill would fetch them
                    _airflow([*test, "trialwatch_backfill"], env, log_file, "backfill DAG")
                before = len(sink.saved)
                for dag_id in digests:
                    _airflow([*test, dag_id], env, log_file, f"digest DAG {dag_id}")
                print(f"  {len(sink.saved) - before} digest email(s) sent on day {day}")
                print(f"  {len(hooks.saved)} channel message(s) received so far")
        print(f"Airflow home with the DAG runs and task logs: {airflow_home(workdir)} (make up-demo)")
        return sink.saved

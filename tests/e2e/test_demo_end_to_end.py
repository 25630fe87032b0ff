"""End to end: the real DAGs under `airflow dags test`, the replay registry over HTTP on day 1 and
day 2, and the digest received by a real SMTP server. Nothing of ours is mocked."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from trialwatch.demo import airflow_home, run_demo

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo_mail(demo_dir: Path) -> list[email.message.EmailMessage]:
    saved = run_demo(demo_dir)
    return [email.message_from_bytes(Path(p).read_bytes(), policy=email.policy.default) for p in saved]


def _nk_digest(messages: list[email.message.EmailMessage]) -> email.message.EmailMessage:
    matching = [m for m in messages if "NCT02185781" in m.get_body(preferencelist=("plain",)).get_content()]
    assert len(matching) == 1, [m["Subject"] for m in messages]
    return matching[0]


def _section(text: str, nct_id: str) -> str:
    """The digest's text section of one trial (from its id line to the next trial's rule)."""
    start = text.index(f"{nct_id} ·")
    end = text.find("-" * 20, start)
    return text[start : end if end != -1 else len(text)]


def test_day_two_digest_names_both_seed_trials_with_old_and_new_status_and_enrollment(demo_mail) -> None:  # type: ignore[no-untyped-def]
    text = _nk_digest(demo_mail).get_body(preferencelist=("plain",)).get_content()
    first, second = _section(text, "NCT02185781"), _section(text, "NCT04327037")
    # NCT02185781: two registry versions since day 1, each its own group with its compare link.
    assert "version 4 (2026-10-07), compared with version 3" in first
    assert "version 5 (2026-10-08), compared with version 4" in first
    assert "Recruiting -> Active, not recruiting" in first
    assert "Active, not recruiting -> Completed" in first
    assert "12 (estimated) -> 6 (actual)" in first
    assert "NCT02185781?tab=history&a=3&b=4" in first
    # NCT04327037: one new version.
    assert "Recruiting -> Completed" in second
    assert "24 (estimated) -> 10 (actual)" in second
    assert "NCT04327037?tab=history&a=2&b=3" in second


def test_day_two_digest_reports_the_new_enrollment_shortfall_finding(demo_mail) -> None:  # type: ignore[no-untyped-def]
    digest = _nk_digest(demo_mail)
    text = digest.get_body(preferencelist=("plain",)).get_content()
    # NCT04327037 completed with 10 of the 24 anticipated participants: under half.
    assert "Findings: 1 new, 0 resolved since the last digest" in text
    assert "[MAJOR] Enrollment far below the anticipated figure · NCT04327037" in text
    assert "1 new finding" in digest["Subject"]
    html = digest.get_body(preferencelist=("html",)).get_content()
    assert "Enrollment far below the anticipated figure" in html


def test_day_one_sends_nothing_and_day_two_one_digest_per_recipient(demo_mail) -> None:  # type: ignore[no-untyped-def]
    digest = _nk_digest(demo_mail)
    assert digest["Message-ID"] and digest["List-Id"] and digest["Date"]
    assert digest.get_content_type() == "multipart/mixed"
    kinds = {part.get_content_type() for part in digest.walk()}
    assert {"multipart/alternative", "text/plain", "text/html", "text/csv"} <= kinds
    assert len({m["Message-ID"] for m in demo_mail}) == len(demo_mail)


def test_html_part_links_each_change_to_the_registry_comparison(demo_mail) -> None:  # type: ignore[no-untyped-def]
    html = _nk_digest(demo_mail).get_body(preferencelist=("html",)).get_content()
    assert "https://clinicaltrials.gov/study/NCT02185781?tab=history&amp;a=" in html
    assert "https://clinicaltrials.gov/study/NCT04327037" in html


def test_digest_carries_the_pipeline_health_footer(demo_mail) -> None:  # type: ignore[no-untyped-def]
    text = _nk_digest(demo_mail).get_body(preferencelist=("plain",)).get_content()
    assert "Pipeline health" in text
    assert "Registry data as of: 2026-10-09T09:00:06" in text


def test_digest_dag_refreshes_the_watchlist_feed(demo_mail, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    feed = ET.parse(demo_dir / "feeds" / "nk_cell_leukemia.atom").getroot()
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    text = ET.tostring(feed, encoding="unicode")
    assert entries and "NCT02185781" in text and "NCT04327037" in text


def test_channel_messages_reach_the_webhook_sink_once_each_and_verify(demo_mail, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    from collections import Counter

    folder = demo_dir / "webhooks"
    bodies = sorted(p for p in folder.glob("*.json") if not p.name.endswith(".headers.json"))
    metas = [json.loads(p.with_suffix(".headers.json").read_text()) for p in bodies]
    per_path = Counter(m["path"] for m in metas)
    # Every watchlist copy lists the three channels, so each channel got the same number of messages.
    assert set(per_path) == {"/hooks/partner", "/services/T0/B0/demo", "/webhookb2/demo"}
    assert len(set(per_path.values())) == 1
    deliveries = [m["headers"]["X-Trialwatch-Delivery"] for m in metas]
    assert len(deliveries) == len(set(deliveries)), "a message was posted twice"
    webhooks = [(p, m) for p, m in zip(bodies, metas, strict=True) if m["path"] == "/hooks/partner"]
    assert all(m["signature_ok"] is True for _, m in webhooks)
    payloads = [json.loads(p.read_bytes()) for p, _ in webhooks]
    nk = [p for p in payloads if p["watchlist"]["name"] == "nk_cell_leukemia"]
    assert len(nk) == 1
    assert {"NCT02185781", "NCT04327037"} <= {e["nct_id"] for e in nk[0]["events"]}
    slack = [
        json.loads(p.read_bytes()) for p, m in zip(bodies, metas, strict=True) if "/services/" in m["path"]
    ]
    assert any(b["blocks"][0]["text"]["text"] == "NK-cell therapy in acute leukemia" for b in slack)


# The replay registry's data timestamps on day 1 and day 2 (include/trialwatch/replay/data).
DAY_ONE, DAY_TWO = "2026-10-05T09:00:04", "2026-10-09T09:00:06"


def test_make_up_demo_opens_the_airflow_home_the_demo_ran_in() -> None:
    import subprocess

    from trialwatch.cli.demo import DEFAULT_WORKDIR

    repo = Path(__file__).resolve().parents[2]
    dry_run = subprocess.run(
        ["make", "-n", "up-demo"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert f"AIRFLOW_HOME={airflow_home(DEFAULT_WORKDIR)} " in dry_run
    assert f"TRIALWATCH_HOME={DEFAULT_WORKDIR} " in dry_run


def test_airflow_on_the_demo_home_shows_the_demo_runs_and_their_task_logs(demo_mail, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    import requests

    from tests.ui.standalone import airflow_standalone

    # The scheduler may start a sync: point it at a closed loopback port, never at the live registry.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    registry = f'{{"conn_type": "http", "host": "http://127.0.0.1:{closed}/api/v2"}}'
    store_url = f"sqlite:///{demo_dir / 'trialwatch.db'}"
    with airflow_standalone(
        airflow_home(demo_dir), store_url, {"AIRFLOW_CONN_CTGOV_API": registry}
    ) as airflow:
        token = requests.post(
            f"{airflow.base_url}/auth/token",
            json={"username": airflow.username, "password": airflow.password},
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        runs_url = f"{airflow.base_url}/api/v2/dags/trialwatch_sync/dagRuns"
        runs = requests.get(runs_url, headers=headers, timeout=30).json()["dag_runs"]
        demo_runs = sorted(
            (run for run in runs if run["run_type"] == "manual"), key=lambda run: run["run_after"]
        )
        assert [run["state"] for run in demo_runs] == ["success", "success"]
        for run, day in zip(demo_runs, (DAY_ONE, DAY_TWO), strict=True):
            logs = requests.get(
                f"{runs_url}/{run['dag_run_id']}/taskInstances/finish/logs/1", headers=headers, timeout=30
            )
            assert logs.status_code == 200, logs.text[:500]
            assert f"'data_timestamp': '{day}'" in logs.text, logs.text[:2000]


def test_trial_watch_shows_the_seed_trials_whole_history_after_the_demo(demo_mail, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Day 1 stores each seed trial's current version and the backfill DAG its older ones; day 2's
    sync adds the new ones: the timeline runs from version 0 to the newest, history flagged as such."""
    from trialwatch.replay.server import ReplayRegistry
    from trialwatch.store import Store
    from trialwatch.store.read_models import trial

    registry = ReplayRegistry()
    store = Store(f"sqlite:///{demo_dir / 'trialwatch.db'}")
    try:
        with store.session() as session:
            for nct_id in ("NCT02185781", "NCT04327037"):
                day1 = [v.version for v in registry.versions(1, nct_id)]
                day2 = [v.version for v in registry.versions(2, nct_id)]
                detail = trial(session, nct_id)
                numbers = [v.registry_version for v in detail.timeline]
                assert numbers == sorted(day2, reverse=True), nct_id
                assert detail.timeline[0].current
                for version in detail.timeline:
                    assert {e.backfill for e in version.events} <= {version.registry_version <= day1[-1]}
                assert any(e.backfill for v in detail.timeline for e in v.events), nct_id
    finally:
        store.dispose()

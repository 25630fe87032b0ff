"""Known error paths print one line on stderr with the right exit code, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include/trialwatch/replay/data/samples"
WATCHLIST = "title: Test list\ntrials: [NCT00184067]\nrecipients: [ana@example.org]\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: own home, own watchlists (two), no mail settings."""
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "alpha.yaml").write_text(WATCHLIST)
    (tmp_path / "lists" / "beta.yaml").write_text(WATCHLIST)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TRIALWATCH_", "AIRFLOW_CONN_"))}
    return {
        **keep,
        "TRIALWATCH_HOME": str(tmp_path / "home"),
        "TRIALWATCH_WATCHLISTS": str(tmp_path / "lists"),
    }


def trialwatch(env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trialwatch: error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def made_store(env: dict[str, str]) -> None:
    assert trialwatch(env, "db", "upgrade").returncode == 0


def test_unknown_watchlist_for_preview_names_the_folder_and_the_known_ones(env, tmp_path) -> None:
    made_store(env)
    result = trialwatch(env, "digest", "preview", "alpah", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"no watchlist 'alpah' in {tmp_path / 'lists'}; known: alpha, beta" in line
    assert not (tmp_path / "out").exists()


def test_preview_out_pointing_at_a_file(env, tmp_path) -> None:
    made_store(env)
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    result = trialwatch(env, "digest", "preview", "alpha", "--out", str(target))
    assert result.returncode == 2
    assert str(target) in one_error_line(result)
    assert target.read_text() == "keep me"


def test_preview_of_a_store_that_does_not_exist_says_so_and_creates_nothing(env, tmp_path) -> None:
    result = trialwatch(env, "digest", "preview", "alpha", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    line = one_error_line(result)
    assert str(tmp_path / "home" / "trialwatch.db") in line and "TRIALWATCH_HOME" in line
    assert not (tmp_path / "home" / "trialwatch.db").exists()


def test_send_without_mail_settings(env) -> None:
    result = trialwatch(env, "digest", "send")
    assert result.returncode == 1
    assert "no mail settings" in one_error_line(result)


def test_send_with_an_unknown_watchlist_is_a_usage_error(env) -> None:
    result = trialwatch(env, "digest", "send", "gamma")
    assert result.returncode == 2
    assert "no watchlist 'gamma'" in one_error_line(result)


def test_sync_against_an_unreachable_registry(env) -> None:
    # One retry (default 5) still logs a retry warning to hide, with a short backoff (about 1 s).
    result = trialwatch(env, "sync", "--api", "http://127.0.0.1:9/api/v2", "--retries", "1")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "http://127.0.0.1:9/api/v2" in line and "after 2 attempt(s)" in line
    assert result.stdout == ""


def test_a_bad_setting_names_the_variable(env) -> None:
    result = trialwatch({**env, "TRIALWATCH_USE_HISTORY": "perhaps"}, "sync", "--ids", "NCT00184067")
    assert result.returncode == 1
    assert "TRIALWATCH_USE_HISTORY" in one_error_line(result)


def test_argparse_usage_errors_exit_2(env) -> None:
    result = trialwatch(env, "sync", "--min-interval", "-1")
    assert result.returncode == 2
    assert "--min-interval" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(env) -> None:
    result = trialwatch(env, "--debug", "digest", "send")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no mail settings" in result.stderr


def test_diff_reads_stdin_and_exit_code_says_whether_the_records_differ(env) -> None:
    old = SAMPLES / "study_NCT00184067.json"
    study = json.loads(old.read_text(encoding="utf-8"))
    status = study["protocolSection"]["statusModule"]
    status_before = status["overallStatus"]
    new_status = "SUSPENDED" if status_before != "SUSPENDED" else "RECRUITING"
    status["overallStatus"] = new_status

    same = trialwatch(env, "diff", str(old), "-", "--exit-code", stdin=old.read_text(encoding="utf-8"))
    assert (same.returncode, json.loads(same.stdout), same.stderr) == (0, [], "")

    changed = trialwatch(env, "diff", "-", str(old), stdin=json.dumps(study))
    assert changed.returncode == 0  # without --exit-code a difference is not a failure
    events = json.loads(changed.stdout)
    assert [(e["path"], e["old"], e["new"]) for e in events if e["category"] == "status"] == [
        ("protocolSection.statusModule.overallStatus", new_status, status_before)
    ]

    differ = trialwatch(env, "diff", str(old), "-", "--exit-code", stdin=json.dumps(study))
    assert differ.returncode == 1
    assert differ.stderr == ""
    assert any(e["new"] == new_status for e in json.loads(differ.stdout))


def test_diff_bad_stdin_is_exit_2_naming_stdin(env) -> None:
    result = trialwatch(env, "diff", str(SAMPLES / "study_NCT00184067.json"), "-", stdin="{not json")
    assert result.returncode == 2
    assert "<stdin>: not JSON" in one_error_line(result)

"""One settings object: the docs table matches the code, booleans are strict, and the sync task and
Trial Watch resolve the same store from the trialwatch_store connection."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from trialwatch import airflow_glue
from trialwatch.settings import ConnectionFields, SettingError, Settings, parse_bool

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "include/trialwatch/replay/data/samples/study_NCT00184067.json"


class RecordingEnv(dict[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def documented_variables() -> set[str]:
    """The first column of the table in docs/configuration.md."""
    text = (REPO / "docs/configuration.md").read_text(encoding="utf-8")
    names = set()
    for line in text.splitlines():
        match = re.match(r"\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", line)
        if match:
            names.add(match.group(1))
    return names


def test_docs_table_lists_exactly_the_variables_the_settings_read() -> None:
    # The SMTP host is set so that the SMTP branch reads its other variables too.
    env = RecordingEnv({"TRIALWATCH_SMTP_HOST": "mail.example.org"})
    Settings.from_env(env)
    read = {name for name in env.read if not name.startswith("AIRFLOW_CONN_")}
    assert documented_variables() == read
    # The connections the table names are the ones the builder looks up.
    assert {name for name in env.read if name.startswith("AIRFLOW_CONN_")} == {
        "AIRFLOW_CONN_CTGOV_API",
        "AIRFLOW_CONN_TRIALWATCH_STORE",
        "AIRFLOW_CONN_SMTP_DEFAULT",
    }


def test_defaults_and_precedence_connection_over_variable(tmp_path: Path) -> None:
    env = {"TRIALWATCH_HOME": str(tmp_path), "TRIALWATCH_API_URL": "http://env/api/v2"}
    plain = Settings.from_env(env)
    assert plain.store_url == f"sqlite:///{tmp_path / 'trialwatch.db'}"
    assert (plain.api_url, plain.min_interval, plain.use_history) == ("http://env/api/v2", 1.0, True)
    assert (plain.mail_from, plain.smtp) == ("trialwatch@localhost", None)
    assert (plain.reconcile_days, plain.sync_overlap_days) == (7, 2)
    cadence = Settings.from_env(
        {**env, "TRIALWATCH_RECONCILE_DAYS": "0", "TRIALWATCH_SYNC_OVERLAP_DAYS": "5"}
    )
    assert (cadence.reconcile_days, cadence.sync_overlap_days) == (0, 5)

    connections = {
        "ctgov_api": ConnectionFields(host="http://conn/api/v2/", extra={"min_interval": "0.5"}),
        "trialwatch_store": ConnectionFields(conn_type="sqlite", host=str(tmp_path / "c.db")),
        "smtp_default": ConnectionFields(host="mail.example.org", port=587, extra={"from_email": "c@x.org"}),
    }
    env_too = {**env, "TRIALWATCH_MAIL_FROM": "env@x.org", "TRIALWATCH_STORE_URL": "sqlite:///env.db"}
    resolved = Settings.from_env(env_too, connections)
    assert resolved.api_url == "http://conn/api/v2"
    assert resolved.min_interval == 0.5
    assert resolved.store_url == f"sqlite:///{tmp_path / 'c.db'}"
    assert resolved.mail_from == "c@x.org"
    assert resolved.smtp is not None and resolved.smtp.from_email == "c@x.org"


def test_one_sender_for_the_queued_digest_and_the_smtp_envelope() -> None:
    resolved = Settings.from_env(
        {"TRIALWATCH_SMTP_HOST": "mail.example.org", "TRIALWATCH_MAIL_FROM": "tw@x.org"}
    )
    assert resolved.mail_from == "tw@x.org"
    assert resolved.smtp is not None and resolved.smtp.from_email == "tw@x.org"


@pytest.mark.parametrize("word", ["maybe", "ja", "2"])
def test_booleans_are_strict_and_name_the_variable(word: str) -> None:
    with pytest.raises(SettingError, match="TRIALWATCH_USE_HISTORY"):
        Settings.from_env({"TRIALWATCH_USE_HISTORY": word})
    with pytest.raises(SettingError, match="ctgov_api extra use_history"):
        Settings.from_env({}, {"ctgov_api": ConnectionFields(host="h", extra={"use_history": word})})


def test_boolean_words() -> None:
    assert [parse_bool("X", w) for w in ("true", "1", "Yes", "on", "false", "0", "no", "OFF")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_bad_numbers_name_the_variable() -> None:
    with pytest.raises(SettingError, match="TRIALWATCH_MIN_INTERVAL"):
        Settings.from_env({"TRIALWATCH_MIN_INTERVAL": "fast"})
    with pytest.raises(SettingError, match="TRIALWATCH_RECONCILE_DAYS"):
        Settings.from_env({"TRIALWATCH_RECONCILE_DAYS": "weekly"})
    with pytest.raises(SettingError, match="TRIALWATCH_SYNC_OVERLAP_DAYS"):
        Settings.from_env({"TRIALWATCH_SYNC_OVERLAP_DAYS": "-1"})
    with pytest.raises(SettingError, match="TRIALWATCH_SMTP_PORT"):
        Settings.from_env({"TRIALWATCH_SMTP_HOST": "h", "TRIALWATCH_SMTP_PORT": "smtp"})
    with pytest.raises(SettingError, match="AIRFLOW_CONN_SMTP_DEFAULT"):
        Settings.from_env({"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://not-json"})


def test_sync_task_and_trial_watch_read_the_store_of_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the trialwatch_store connection is set: the task writes there and Trial Watch reads it."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from trialwatch.pipeline import record_study
    from trialwatch_ui.app import URL_PREFIX, create_app, require_user

    monkeypatch.delenv("TRIALWATCH_STORE_URL", raising=False)
    # The default store would be here; it must stay untouched.
    monkeypatch.setenv("TRIALWATCH_HOME", str(tmp_path / "home"))
    connected = tmp_path / "connected" / "store.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIALWATCH_STORE", json.dumps({"conn_type": "sqlite", "host": str(connected)})
    )
    study = json.loads(SAMPLE.read_text(encoding="utf-8"))
    nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    title = study["protocolSection"]["identificationModule"]["briefTitle"]

    # What the sync DAG's fetch_batch task does: resolve the store, then record a fetched study.
    task_store = airflow_glue.store(airflow_glue.settings())
    task_store.upgrade()
    record_study(task_store, study, history=None, data_timestamp="2026-11-20T00:00:00")
    task_store.dispose()

    app = create_app()  # no store given: Trial Watch resolves it itself
    app.dependency_overrides[require_user] = lambda: None
    parent = FastAPI()
    parent.mount(URL_PREFIX, app)
    with TestClient(parent, base_url="http://testserver/trialwatch/") as client:
        response = client.get(f"/api/trials/{nct_id}")
    assert response.status_code == 200, response.text
    assert response.json()["title"] == title
    assert connected.exists()
    assert not (tmp_path / "home" / "trialwatch.db").exists()

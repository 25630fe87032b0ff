"""Airflow connections become trialwatch settings (resolved from AIRFLOW_CONN_* like a real deployment)."""

from __future__ import annotations

import json

import pytest
from trialwatch import airflow_glue, settings


def test_registry_defaults_to_clinicaltrials_gov_at_one_request_per_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CTGOV_API", raising=False)
    monkeypatch.delenv("TRIALWATCH_API_URL", raising=False)
    client = airflow_glue.ctgov_client()
    assert client.base_url == settings.DEFAULT_API_BASE
    # Mapped batches run side by side; together they keep to about one request per second.
    assert client.min_interval == airflow_glue.FETCH_CONCURRENCY * 1.0
    assert airflow_glue.settings().use_history is True


def test_registry_connection_sets_url_interval_and_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CTGOV_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": "http://127.0.0.1:8765/api/v2/",
                "extra": {"min_interval": 0.5, "use_history": "false"},
            }
        ),
    )
    client = airflow_glue.ctgov_client()
    assert client.base_url == "http://127.0.0.1:8765/api/v2"
    assert client.min_interval == 0.5 * airflow_glue.FETCH_CONCURRENCY
    assert airflow_glue.settings().use_history is False


def test_store_connection_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIALWATCH_STORE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.internal",
                "login": "tw",
                "password": "pw",
                "schema": "trialwatch",
                "port": 5432,
            }
        ),
    )
    store = airflow_glue.store()
    assert store.url.startswith("postgresql+psycopg2://tw:pw@db.internal:5432/trialwatch")
    assert "pw" not in repr(store)


def test_store_defaults_to_sqlite_in_trialwatch_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_TRIALWATCH_STORE", raising=False)
    assert airflow_glue.store().url == f"sqlite:///{settings.home() / 'trialwatch.db'}"


def test_smtp_keeps_tls_and_certificate_checks_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "mail.example.org",
                "port": 587,
                "login": "u",
                "password": "p",
                "extra": {"from_email": "tw@example.org"},
            }
        ),
    )
    smtp = airflow_glue.smtp_settings()
    assert (smtp.host, smtp.port, smtp.starttls, smtp.verify_certificates) == (
        "mail.example.org",
        587,
        True,
        True,
    )
    assert smtp.from_email == "tw@example.org"


def test_missing_smtp_connection_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    with pytest.raises(LookupError, match="AIRFLOW_CONN_SMTP_DEFAULT"):
        airflow_glue.smtp_settings()


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


def test_channel_targets_from_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, "partner_hook", host="https://partner.example/hooks/tw", password="k3y")
    _connection(monkeypatch, "slack_token", host="hooks.slack.com/services", password="T0/B0/XXXX")
    _connection(monkeypatch, "slack_url", password="https://hooks.slack.com/services/T1/B1/YYYY")
    _connection(monkeypatch, "teams_onc", host="https://example.webhook.office.com/webhookb2/abc")
    webhook = airflow_glue.channel_target("webhook", "partner_hook")
    assert (webhook.kind, webhook.url, webhook.secret) == (
        "webhook",
        "https://partner.example/hooks/tw",
        "k3y",
    )
    assert (
        airflow_glue.channel_target("slack", "slack_token").url
        == "https://hooks.slack.com/services/T0/B0/XXXX"
    )
    assert (
        airflow_glue.channel_target("slack", "slack_url").url == "https://hooks.slack.com/services/T1/B1/YYYY"
    )
    teams = airflow_glue.channel_target("teams", "teams_onc")
    assert (teams.url, teams.secret) == ("https://example.webhook.office.com/webhookb2/abc", None)


def test_missing_or_unsigned_channel_connections_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from trialwatch.watchlists import Channel

    monkeypatch.delenv("AIRFLOW_CONN_NOT_THERE", raising=False)
    with pytest.raises(LookupError, match="no Airflow connection 'not_there' for the slack channel"):
        airflow_glue.channel_target("slack", "not_there")
    _connection(monkeypatch, "unsigned", host="https://partner.example/hook")
    with pytest.raises(ValueError, match="needs a secret"):
        airflow_glue.channel_target("webhook", "unsigned")
    _connection(monkeypatch, "teams_ok", host="https://example.webhook.office.com/x")
    targets = airflow_glue.channel_targets(
        [Channel("webhook", "unsigned"), Channel("slack", "not_there"), Channel("teams", "teams_ok")]
    )
    assert list(targets) == ["teams:teams_ok"]

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

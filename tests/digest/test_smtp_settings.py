"""SMTP settings from Airflow connection fields and the environment; the CLI's send and preview."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from trialwatch.digest.smtp import SmtpConfigError, SmtpSettings
from trialwatch.settings import Settings

from .conftest import NOW


def test_airflow_defaults_keep_tls_and_verification_on():
    settings = SmtpSettings.from_airflow_connection_fields("mail.example.org", None, "u", "s3cret", {})
    assert (settings.ssl, settings.starttls, settings.verify_certificates, settings.port) == (
        False,
        True,
        True,
        587,
    )
    assert "s3cret" not in repr(settings)
    implicit = SmtpSettings.from_airflow_connection_fields("mail.example.org", 465, "u", "s3cret", {})
    assert (implicit.ssl, implicit.starttls, implicit.verify_certificates) == (True, False, True)


def test_airflow_extras_for_a_local_sink():
    settings = SmtpSettings.from_airflow_connection_fields(
        "mailpit",
        1025,
        None,
        None,
        {"disable_ssl": True, "disable_tls": "true", "from_email": "tw@example.org", "timeout": "7"},
    )
    assert (settings.ssl, settings.starttls, settings.port, settings.timeout) == (False, False, 1025, 7.0)
    assert settings.from_email == "tw@example.org"


def test_airflow_string_false_means_false_and_ssl_context_none_disables_verification():
    settings = SmtpSettings.from_airflow_connection_fields(
        "smtp.example.org",
        587,
        None,
        None,
        {"disable_ssl": "true", "disable_tls": "false", "ssl_context": "none"},
    )
    assert (settings.ssl, settings.starttls, settings.verify_certificates) == (False, True, False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ssl_context": "weird"}, "ssl_context"),
        ({"disable_tls": "maybe"}, "disable_tls"),
        ({"timeout": "x"}, "timeout"),
    ],
)
def test_bad_extras_are_named(extra, message):
    with pytest.raises(SmtpConfigError, match=message):
        SmtpSettings.from_airflow_connection_fields("h", 25, None, None, extra)


def test_settings_from_environment():
    settings = Settings.from_env(
        {
            "TRIALWATCH_SMTP_HOST": "127.0.0.1",
            "TRIALWATCH_SMTP_PORT": "2525",
            "TRIALWATCH_SMTP_STARTTLS": "false",
        }
    ).smtp
    assert settings is not None
    assert (settings.host, settings.port, settings.starttls, settings.verify_certificates) == (
        "127.0.0.1",
        2525,
        False,
        True,
    )
    conn = {
        "conn_type": "smtp",
        "host": "mailpit",
        "port": 1025,
        "extra": {"disable_ssl": True, "disable_tls": True},
    }
    from_airflow = Settings.from_env({"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn)}).smtp
    assert from_airflow is not None
    assert (from_airflow.host, from_airflow.ssl, from_airflow.starttls) == ("mailpit", False, False)
    assert Settings.from_env({}).smtp is None


def test_cli_preview_and_send(seeded, smtp_server, tmp_path, monkeypatch, capsys, time_machine):
    """`trialwatch digest preview` and `send` against the store and a watchlist file on disk."""
    from trialwatch.cli import main

    handler, controller = smtp_server
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "nk.yaml").write_text(
        "title: NK-cell therapy in acute leukemia\ntrials: [NCT03934567, NCT06171568, NCT03475563]\n"
        "recipients: [ana@example.org]\n"
    )
    monkeypatch.setenv("TRIALWATCH_STORE_URL", seeded.url)
    monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(tmp_path / "lists"))
    monkeypatch.setenv("TRIALWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRIALWATCH_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("TRIALWATCH_SMTP_STARTTLS", "false")
    # The seeded events are dated NOW; a first digest looks back one period from the clock.
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)

    assert main(["digest", "preview", "nk", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".csv", ".eml", ".html", ".txt", ".xml"]
    assert main(["digest", "send", "nk"]) == 0
    assert main(["digest", "send"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "sent 1, failed 0" in out and "sent 0, failed 0" in out
    assert len(handler.messages_for("ana@example.org")) == 1

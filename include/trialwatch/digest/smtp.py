"""SMTP settings and one connection that sends prepared messages, one recipient at a time.

Transport security is on unless switched off explicitly: STARTTLS with certificate verification by
default, implicit TLS (``ssl``) when asked. Switching either off is meant for a local mail sink only.
"""

from __future__ import annotations

import smtplib
from typing import Self

from trialwatch.settings import SmtpConfigError, SmtpSettings

__all__ = [
    "SmtpConfigError",
    "SmtpConnection",
    "SmtpRecipientRefused",
    "SmtpSessionError",
    "SmtpSettings",
    "SmtpTransportError",
]


class SmtpTransportError(RuntimeError):
    """The SMTP connection failed or broke; the message may be retried."""


class SmtpSessionError(SmtpTransportError):
    """No session could be opened: server unreachable, no STARTTLS, TLS or login failed."""


class SmtpConnection:
    """One authenticated SMTP session; ``send`` delivers one message to one recipient.

    Used as a context manager. A failure to connect, to start TLS or to log in raises
    ``SmtpSessionError`` with the server named, so the caller can report it for every pending message.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        settings = self.settings
        try:
            if settings.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=settings.tls_context()
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpSessionError(f"cannot connect to SMTP server {self.where}: {exc}") from exc
        try:
            client.ehlo()
            if settings.starttls:
                if not client.has_extn("starttls"):
                    raise SmtpSessionError(
                        f"SMTP server {self.where} does not offer STARTTLS; refusing to send in clear text. "
                        "Only for a local mail sink: set starttls=False (Airflow extra disable_tls=true)"
                    )
                client.starttls(context=settings.tls_context())
                client.ehlo()
            if settings.login and settings.password:
                client.login(settings.login, settings.password)
        except SmtpSessionError:
            _quietly_close(client)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _quietly_close(client)
            raise SmtpSessionError(f"SMTP session setup with {self.where} failed: {exc}") from exc
        self._client = client

    def send(self, recipient: str, message: bytes) -> None:
        """Hand one message for one recipient to the server; raises on refusal or a broken connection.

        After a broken connection the session is closed, and the next ``send`` opens a new one.
        """
        if self._client is None:
            self.open()
        assert self._client is not None
        try:
            self._client.sendmail(self.settings.from_email, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(recipient, (0, b""))
            raise SmtpRecipientRefused(recipient, code, _text(reason)) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 or exc.smtp_code < 400:
                raise SmtpRecipientRefused(recipient, exc.smtp_code, _text(exc.smtp_error)) from exc
            self.close()
            raise SmtpTransportError(f"SMTP server {self.where} deferred the message: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SmtpTransportError(f"SMTP connection to {self.where} broke while sending: {exc!r}") from exc

    def close(self) -> None:
        if self._client is not None:
            _quietly_close(self._client)
            self._client = None


class SmtpRecipientRefused(RuntimeError):
    """The server refused this recipient or this message (a permanent answer for this attempt)."""

    def __init__(self, recipient: str, code: int, reason: str) -> None:
        super().__init__(f"SMTP server refused {recipient}: {code} {reason}".strip())
        self.recipient = recipient
        self.code = code
        self.reason = reason


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _quietly_close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()

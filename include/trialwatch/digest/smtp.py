"""SMTP settings and one connection that sends prepared messages, one recipient at a time.

Transport security is on unless switched off explicitly: STARTTLS with certificate verification by
default, implicit TLS (``ssl``) when asked. Switching either off is meant for a local mail sink only.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any, Self

from trialwatch.settings import SettingError, parse_bool


class SmtpConfigError(ValueError):
    """The SMTP settings cannot work as given (names the setting and the problem)."""


class SmtpTransportError(RuntimeError):
    """The SMTP connection failed or broke; the message may be retried."""


class SmtpSessionError(SmtpTransportError):
    """No session could be opened: server unreachable, no STARTTLS, TLS or login failed."""


def _flag(name: str, value: Any) -> bool:
    """A connection extra as a boolean, by the one strict parser; missing or empty means False."""
    if value is None or value == "":
        return False
    try:
        return parse_bool(f"SMTP connection extra {name!r}", value)
    except SettingError as exc:
        raise SmtpConfigError(str(exc)) from None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    login: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    verify_certificates: bool = True
    timeout: float = 30.0
    from_email: str = "trialwatch@localhost"

    def __post_init__(self) -> None:
        if not self.host:
            raise SmtpConfigError("SMTP host is empty")
        if not 0 < int(self.port) < 65536:
            raise SmtpConfigError(f"SMTP port {self.port!r} is not a TCP port")
        if self.timeout <= 0:
            raise SmtpConfigError(f"SMTP timeout {self.timeout!r} must be positive")
        if (
            not self.from_email.isascii()
            or any(c in self.from_email for c in "\r\n")
            or "@" not in self.from_email
        ):
            raise SmtpConfigError(f"SMTP from_email {self.from_email!r} is not an address")

    def __repr__(self) -> str:
        # Never print the password into logs.
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, login={self.login!r}, "
            f"starttls={self.starttls}, ssl={self.ssl}, verify_certificates={self.verify_certificates}, "
            f"from_email={self.from_email!r})"
        )

    @classmethod
    def from_airflow_connection_fields(
        cls,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: dict[str, Any] | None,
    ) -> SmtpSettings:
        """Settings from an Airflow ``smtp`` connection's fields, reading the extras as its provider does.

        Encryption is always on unless turned off: implicit TLS on port 465 (or when ``disable_ssl``
        is given as false), STARTTLS otherwise, as mail servers on 587/25 expect. The provider turns
        implicit TLS on for every port, which cannot work on a submission port; ``disable_ssl`` and
        ``disable_tls`` set to true still turn each off (strings "false"/"0" mean false here).
        ``ssl_context="none"`` turns certificate verification off.
        """
        extra = dict(extra or {})
        if "disable_ssl" in extra:
            use_ssl = not _flag("disable_ssl", extra["disable_ssl"])
        else:
            use_ssl = int(port or 0) == 465
        use_starttls = not _flag("disable_tls", extra.get("disable_tls", False)) and not use_ssl
        ssl_context = extra.get("ssl_context")
        if ssl_context not in (None, "default", "none"):
            raise SmtpConfigError(
                f"SMTP connection extra 'ssl_context' must be 'default' or 'none', got {ssl_context!r}"
            )
        try:
            timeout = float(extra.get("timeout", 30))
        except (TypeError, ValueError):
            raise SmtpConfigError(
                f"SMTP connection extra 'timeout' must be a number, got {extra.get('timeout')!r}"
            )
        return cls(
            host=host or "",
            port=int(port) if port else (465 if use_ssl else 587),
            login=login or None,
            password=password or None,
            starttls=use_starttls,
            ssl=use_ssl,
            verify_certificates=ssl_context != "none",
            timeout=timeout,
            from_email=extra.get("from_email") or "trialwatch@localhost",
        )

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


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

"""The digest as an RFC 5322 message: headers that cannot be injected, and a stable Message-ID.

Structure: multipart/mixed [ multipart/alternative [text/plain, text/html], text/csv attachment ].
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
MAX_SUBJECT_CHARS = 200
# Serialising policy: bodies are encoded at 76-character lines when built; headers (at most a few
# hundred characters after ``sanitise_header``) stay on one line, because the email package folds
# some subjects badly ("Subject:" alone, then the text with a leading space on the next line).
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)
_LIST_ID_LABEL = re.compile(r"[^a-z0-9-]+")


def sanitise_header(value: str, *, limit: int = MAX_SUBJECT_CHARS) -> str:
    """One line of printable text: CR, LF and other control characters become spaces.

    Registry and watchlist text reaches headers (subject, display names); a newline in it must never
    start a header of its own.
    """
    text = _SPACES.sub(" ", _CONTROL.sub(" ", str(value))).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def message_id_for(watchlist: str, period_key: str, recipient: str) -> str:
    """The same id for every copy of one digest, so receivers can collapse a re-sent duplicate."""
    digest = hashlib.sha256(f"{watchlist}|{period_key}|{recipient}".encode()).hexdigest()
    return f"<{digest[:32]}@trialwatch>"


def list_id_for(watchlist: str) -> str:
    label = _LIST_ID_LABEL.sub("-", watchlist.lower()).strip("-") or "watchlist"
    return f"<{label}.trialwatch.local>"


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    csv_text: str,
    csv_filename: str,
    message_id: str,
    list_id: str,
    date: datetime,
    list_name: str = "",
) -> EmailMessage:
    """Assemble the digest message; every header value passes through ``sanitise_header``."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sanitise_header(sender, limit=320)
    message["To"] = sanitise_header(recipient, limit=320)
    message["Subject"] = sanitise_header(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = sanitise_header(message_id, limit=200)
    list_label = sanitise_header(list_name, limit=120).replace('"', "'")
    message["List-Id"] = f'"{list_label}" {list_id}' if list_label else list_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"

    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.make_mixed()
    message.add_attachment(
        csv_text,
        subtype="csv",
        charset="utf-8",
        cte="base64",
        filename=sanitise_header(csv_filename, limit=120),
    )
    return message


def message_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=WIRE_POLICY)

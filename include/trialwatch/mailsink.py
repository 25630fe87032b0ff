"""A local SMTP server that keeps every message it receives as a file: the demo's (and `make up`'s) mail sink."""

from __future__ import annotations

import itertools
import logging
import re
import threading
from pathlib import Path
from typing import Self

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)
# aiosmtpd logs every connection at INFO; the sink's own line per saved message is enough.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.saved: list[Path] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        for recipient in envelope.rcpt_tos:
            with self._lock:
                number = next(self._numbers)
            name = f"{number:03d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', recipient)}.eml"
            path = self.folder / name
            path.write_bytes(envelope.original_content or envelope.content)
            self.saved.append(path)
            log.info("mail for %s saved to %s", recipient, path)
        return "250 Message accepted for delivery"


class MailSink:
    """``with MailSink(folder) as sink:`` — an SMTP server on 127.0.0.1 (no TLS: local use only)."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.handler = _SaveToFolder(folder)
        self._controller = Controller(self.handler, hostname=host, port=port or _free_port(host))

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def saved(self) -> list[Path]:
        return list(self.handler.saved)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]

"""A local HTTP server that keeps every webhook post it receives as files: the demo's webhook sink.

Each post becomes ``NNN-<path>.json`` (the body, byte for byte) and ``NNN-<path>.headers.json`` (the
request headers and whether the signature verified, when the sink knows the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5_000_000


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check of ``X-Trialwatch-Signature`` (HMAC-SHA256 of "<timestamp>.<body>")."""
    timestamp = headers.get("X-Trialwatch-Timestamp", "")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers.get("X-Trialwatch-Signature", ""))


class WebhookSink:
    """``with WebhookSink(folder, secret=...) as sink:`` — accepts POSTs on 127.0.0.1 at any path."""

    def __init__(self, folder: Path, *, secret: str | None = None, host: str = "127.0.0.1") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.secret = secret
        self.saved: list[Path] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _save(self, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            number = next(self._numbers)
        label = re.sub(r"[^A-Za-z0-9._-]+", "_", path.strip("/")) or "root"
        target = self.folder / f"{number:03d}-{label}.json"
        target.write_bytes(body)
        meta: dict[str, Any] = {"path": path, "headers": headers}
        if self.secret is not None and "X-Trialwatch-Signature" in headers:
            meta["signature_ok"] = signature_ok(self.secret, headers, body)
        target.with_suffix(".headers.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self.saved.append(target)
        log.info("webhook post to %s saved to %s", path, target)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self.send_error(413, "body too large")
                    return
                body = self.rfile.read(length)
                sink._save(self.path, dict(self.headers.items()), body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per saved post (above) is enough

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

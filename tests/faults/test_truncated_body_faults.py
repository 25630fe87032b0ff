"""A registry answer cut off before its Content-Length: retried, and named when it never completes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from trialwatch.registry.client import CtgovClient
from trialwatch.registry.errors import RegistryError

VERSION = {"apiVersion": "2.0.5", "dataTimestamp": "2026-11-24T09:00:00"}


class _CutOffServer(ThreadingHTTPServer):
    """Answers /api/v2/version, cutting the first ``cut`` answers off after a tenth of the promised bytes."""

    daemon_threads = True

    def __init__(self, cut: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cut = cut
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    server: _CutOffServer

    def do_GET(self) -> None:
        self.server.requests += 1
        body = json.dumps(VERSION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.server.requests <= self.server.cut:
            self.send_header("Content-Length", str(len(body) * 10))
            self.end_headers()
            self.wfile.write(body[: len(body) // 10])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def cut_off() -> Iterator[Callable[[int], _CutOffServer]]:
    servers: list[_CutOffServer] = []

    def start(cut: int) -> _CutOffServer:
        server = _CutOffServer(cut)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _client(server: _CutOffServer) -> CtgovClient:
    host, port = server.server_address[:2]
    return CtgovClient(
        f"http://{host}:{port}/api/v2", min_interval=0, max_retries=2, backoff_base=0, sleep=lambda _s: None
    )


def test_a_cut_off_answer_is_retried_and_the_full_one_used(cut_off) -> None:  # type: ignore[no-untyped-def]
    server = cut_off(1)
    assert _client(server).version() == VERSION
    assert server.requests == 2


def test_an_answer_that_is_always_cut_off_fails_naming_the_url_and_attempts(cut_off) -> None:  # type: ignore[no-untyped-def]
    server = cut_off(100)
    with pytest.raises(
        RegistryError, match=r"could not get http://127\.0\.0\.1:\d+/api/v2/version after 3 attempt"
    ):
        _client(server).version()
    assert server.requests == 3

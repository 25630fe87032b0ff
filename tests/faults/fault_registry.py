"""A registry that misbehaves on purpose: a real HTTP server on 127.0.0.1 speaking enough of API v2.

It answers ``/version``, ``/studies`` (searches and ``filter.ids`` batches) and ``/studies/{id}``
like the registry does, with every record built from a real sample, until a fault is set: then the
endpoint the fault names answers the way the fault describes (tokens that go round, bodies that
trickle or never end, records of another id, NaN, deep nesting, error pages, cut connections).
Handlers wait on the server's stop event, so closing the server ends every trickle at once.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from trialwatch.replay.server import DEFAULT_DATA_DIR

TEMPLATE_ID = "NCT00184067"
DATA_TIMESTAMP = "2026-10-05T09:00:04"
SEARCH_IDS = ("NCT10000001", "NCT10000002", "NCT10000003")
UNKNOWN_PREFIX = "NCT99"  # ids starting so answer 404, like a trial the registry does not know

# Every fault the server knows, with what it takes over: "search" pages, "study" answers, "batch"
# pages, "record" (the target's record wherever it is served: alone or in a batch page), or "any".
MODES: dict[str, str] = {
    "alternating_tokens": "search",  # page tokens A, B, A, B… with new studies on every page
    "repeated_token": "search",  # the same token again and again
    "fresh_token_same_studies": "search",  # a new token on every page of the very same studies
    "endless_new_ids": "search",  # new ids and a new token on every page, forever
    "trickle": "record",  # headers, then one byte every ``trickle_seconds`` (alone or the batch page)
    "trickle_no_length": "study",  # the same without Content-Length (read until close)
    "trickle_headers": "study",  # the status line and headers, one byte every ``trickle_seconds``
    "huge_declared": "study",  # Content-Length far over any limit (nothing much sent)
    "huge_streamed": "study",  # an endless body without Content-Length
    "huge_record": "record",  # a valid record padded to ``record_bytes``
    "wrong_id": "record",  # a record of ``other_id`` instead of the one asked for
    "wrong_id_in_batch": "batch",  # a filter.ids page holding only ``other_id``
    "nan": "record",  # a record with NaN as its enrollment count
    "infinity": "record",  # a record with Infinity as its enrollment count
    "overflow_float": "record",  # a record with 1e999 as its enrollment count
    "deep_nesting": "record",  # 10,000 levels of nested arrays
    "long_number": "record",  # a 5,000-digit enrollment count
    "status": "any",  # answer ``status`` (429, 500, 503, 403…) with ``headers``
    "html": "any",  # 200 with an HTML maintenance page
    "truncated": "any",  # Content-Length promises more than is sent, then the connection closes
    "reset": "any",  # the connection is reset (RST) without an answer
    "not_an_object": "search",  # 200 with a JSON list instead of a page object
}


@dataclass
class Fault:
    """What to do instead of the normal answer; ``times`` None means until cleared."""

    mode: str
    target: str | None = None  # only for this NCT id (study and batch faults)
    times: int | None = None
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    other_id: str = "NCT20000001"
    record_bytes: int = 2_000_000
    trickle_seconds: float = 10.0
    page_size: int | None = None  # studies per faulty search page (default: the pageSize asked for)
    hits: int = 0
    sent: int = 0  # bytes a trickle got out before the client hung up


def template_study() -> dict[str, Any]:
    study = json.loads((DEFAULT_DATA_DIR / "samples" / f"study_{TEMPLATE_ID}.json").read_text())
    study["protocolSection"]["identificationModule"].pop("nctIdAliases", None)
    return study


_TEMPLATE = template_study()


def study_for(nct_id: str) -> dict[str, Any]:
    """A complete, valid record with ``nct_id`` (a real sample with its id replaced)."""
    study = copy.deepcopy(_TEMPLATE)
    study["protocolSection"]["identificationModule"]["nctId"] = nct_id
    return study


def padded_study(nct_id: str, size: int) -> dict[str, Any]:
    """A valid record about ``size`` bytes long: its detailed description is that long."""
    study = study_for(nct_id)
    words = "Participants receive the study drug daily and are followed for adverse events. "
    study["protocolSection"]["descriptionModule"]["detailedDescription"] = words * (size // len(words) + 1)
    return study


class FaultRegistry:
    """The server; use as a context manager. ``set(Fault(...))`` arms a fault, ``clear()`` disarms it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.fault: Fault | None = None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fault_registry = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    def set(self, fault: Fault) -> Fault:
        if fault.mode not in MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}; known: {', '.join(MODES)}")
        with self._lock:
            self.fault = fault
        return fault

    def clear(self) -> None:
        with self._lock:
            self.fault = None

    def requests_to(self, pattern: str) -> list[str]:
        with self._lock:
            return [target for target in self.requests if re.search(pattern, target)]

    def take(self, kind: str, nct_ids: tuple[str, ...]) -> Fault | None:
        """The armed fault if it applies to this endpoint and these ids (counting its use)."""
        with self._lock:
            fault = self.fault
            if fault is None or MODES[fault.mode] not in (
                kind,
                "any",
                *(("record",) if kind != "search" else ()),
            ):
                return None
            if fault.target is not None and fault.target not in nct_ids:
                return None
            fault.hits += 1
            if fault.times is not None and fault.hits >= fault.times:
                self.fault = None
            return fault

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    @property
    def owner(self) -> FaultRegistry:
        return self.server.fault_registry  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.owner
        with owner._lock:
            owner.requests.append(self.path)
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        path = unquote(parts.path)
        try:
            if path == "/api/v2/version":
                self._version()
            elif path == "/api/v2/studies" and "filter.ids" in params:
                self._batch(params)
            elif path == "/api/v2/studies":
                self._search(params)
            elif match := re.fullmatch(r"/api/v2/studies/(NCT\d{8})", path):
                self._study(match.group(1))
            else:
                self._send(404, b"no such endpoint", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as it should

    # ------------------------------------------------------------------ endpoints

    def _version(self) -> None:
        fault = self.owner.take("version", ())
        if fault is not None and self._generic(fault):
            return
        self._json({"apiVersion": "2.0.5", "dataTimestamp": DATA_TIMESTAMP})

    def _search(self, params: dict[str, str]) -> None:
        fault = self.owner.take("search", ())
        if fault is None:
            self._json({"studies": [_id_only(nct_id) for nct_id in SEARCH_IDS]})
            return
        if self._generic(fault):
            return
        size = fault.page_size or int(params.get("pageSize", "10"))
        token = params.get("pageToken")
        page = fault.hits - 1  # the n-th page this fault has answered
        if fault.mode == "alternating_tokens":
            ids = _numbered_ids(page, size)
            next_token = "A" if token in (None, "B") else "B"
            self._json({"studies": [_id_only(i) for i in ids], "nextPageToken": next_token})
        elif fault.mode == "repeated_token":
            self._json({"studies": [_id_only(i) for i in _numbered_ids(page, size)], "nextPageToken": "SAME"})
        elif fault.mode == "fresh_token_same_studies":
            ids = _numbered_ids(0, size)
            self._json({"studies": [_id_only(i) for i in ids], "nextPageToken": f"fresh-{page + 1}"})
        elif fault.mode == "endless_new_ids":
            ids = _numbered_ids(page, size)
            self._json({"studies": [_id_only(i) for i in ids], "nextPageToken": f"next-{page + 1}"})
        elif fault.mode == "not_an_object":
            self._send(200, b'["NCT10000001"]', "application/json")

    def _batch(self, params: dict[str, str]) -> None:
        ids = tuple(i.strip().upper() for i in re.split(r"[|,]", params["filter.ids"]) if i.strip())
        fault = self.owner.take("batch", ids)
        if fault is not None and self._generic(fault):
            return
        known = [i for i in ids if not i.startswith(UNKNOWN_PREFIX)]
        if fault is not None and fault.mode == "trickle":
            self._trickle(
                json.dumps({"studies": [study_for(i) for i in known]}).encode(), fault, with_length=True
            )
            return
        if fault is not None and fault.mode == "wrong_id_in_batch":
            records = [json.dumps(study_for(fault.other_id))]
        else:
            records = [_record_text(i, fault if i == (fault and fault.target) else None) for i in known]
        self._send(200, ('{"studies": [' + ", ".join(records) + "]}").encode(), "application/json")

    def _study(self, nct_id: str) -> None:
        fault = self.owner.take("study", (nct_id,))
        if fault is not None and self._generic(fault):
            return
        if nct_id.startswith(UNKNOWN_PREFIX):
            self._send(404, f"Study {nct_id} not found".encode(), "text/plain")
            return
        if fault is None:
            self._json(study_for(nct_id))
            return
        mode = fault.mode
        if mode in ("trickle", "trickle_no_length"):
            self._trickle(json.dumps(study_for(nct_id)).encode(), fault, with_length=mode == "trickle")
        elif mode == "trickle_headers":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 200 + b"\r\n"
            for index in range(len(head)):
                if self.owner.stop.wait(fault.trickle_seconds if index else 0):
                    break
                self.wfile.write(head[index : index + 1])
                self.wfile.flush()
                fault.sent += 1
            self.close_connection = True
        elif mode == "huge_declared":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(50 * 1024 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b'{"protocolSection": {')
            self.close_connection = True
        elif mode == "huge_streamed":
            self._stream_forever()
        else:
            self._send(200, _record_text(nct_id, fault).encode(), "application/json")

    # ------------------------------------------------------------------ faults for any endpoint

    def _generic(self, fault: Fault) -> bool:
        """Answer with a fault any endpoint can have; False if ``fault`` is endpoint-specific."""
        if fault.mode == "status":
            self._send(fault.status, f"injected HTTP {fault.status}".encode(), "text/plain", fault.headers)
        elif fault.mode == "html":
            page = b"<html><head><title>Service maintenance</title></head><body>Back soon</body></html>"
            self._send(200, page, "text/html")
        elif fault.mode == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"apiVersion": "2.0.5", "dataTi')
            self.close_connection = True
        elif fault.mode == "reset":
            # SO_LINGER 0: closing sends RST instead of FIN, like a proxy dropping the connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        else:
            return False
        return True

    def _trickle(self, body: bytes, fault: Fault, *, with_length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        for index in range(len(body)):
            if self.owner.stop.wait(fault.trickle_seconds if index else 0):
                break
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()
            fault.sent += 1
        self.close_connection = True

    def _stream_forever(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'{"studies": [')
        chunk = (json.dumps(_id_only("NCT10000001")) + ", ").encode() * 1000
        while not self.owner.stop.is_set():
            self.wfile.write(chunk)
        self.close_connection = True

    def _json(self, data: Any) -> None:
        self._send(200, json.dumps(data).encode(), "application/json")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


_LITERALS = {"nan": "NaN", "infinity": "Infinity", "overflow_float": "1e999", "long_number": "7" * 5000}


def _record_text(nct_id: str, fault: Fault | None) -> str:
    """The JSON text of ``nct_id``'s record, spoilt as a "record" fault says."""
    mode = fault.mode if fault is not None else None
    if fault is None or MODES[fault.mode] != "record" or mode == "trickle":
        return json.dumps(study_for(nct_id))
    if mode == "huge_record":
        return json.dumps(padded_study(nct_id, fault.record_bytes))
    if mode == "wrong_id":
        return json.dumps(study_for(fault.other_id))
    if mode == "deep_nesting":
        return "[" * 10_000 + "]" * 10_000
    # nan, infinity, overflow_float, long_number: the enrollment count
    return json.dumps(study_for(nct_id)).replace('"count": ', f'"count": {_LITERALS[mode]}, "was": ', 1)


def _id_only(nct_id: str) -> dict[str, Any]:
    return {"protocolSection": {"identificationModule": {"nctId": nct_id}}}


def _numbered_ids(page: int, size: int) -> list[str]:
    """``size`` ids of page ``page``, distinct across pages (NCT3xxxxxxx)."""
    start = 30_000_000 + page * size
    return [f"NCT{start + offset:08d}" for offset in range(size)]

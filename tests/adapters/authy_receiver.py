"""A tiny local HTTP receiver for Authy callbacks, used by the contract tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from werkzeug.serving import BaseWSGIServer, make_server

CALLBACK_PATH = "/webhooks/authy"


@dataclass
class Received:
    """One callback as the receiving Flask app saw it."""

    url: str  # request.url, as a Flask webhook reconstructs it
    method: str
    nonce: str | None
    signature: str | None
    raw: bytes
    json: Any


@dataclass
class CallbackReceiver:
    """Records every POST to CALLBACK_PATH; `delay` stalls each answer (for timeout tests)."""

    url: str = ""
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least `count` callbacks arrived (or the timeout passed); return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return list(self.received)


def _app(receiver: CallbackReceiver) -> Flask:
    """The receiving app."""
    app = Flask(__name__)

    @app.post(CALLBACK_PATH)
    def callback() -> tuple[str, int]:
        if receiver.delay:
            time.sleep(receiver.delay)
        item = Received(url=request.url, method=request.method,
                        nonce=request.headers.get("X-Authy-Signature-Nonce"),
                        signature=request.headers.get("X-Authy-Signature"), raw=request.get_data(),
                        json=request.get_json(silent=True))
        with receiver._cond:
            receiver.received.append(item)
            receiver._cond.notify_all()
        return "", 200

    return app


@contextmanager
def callback_receiver() -> Iterator[CallbackReceiver]:
    """Run a receiver on 127.0.0.1 (free port) for the duration of the block."""
    receiver = CallbackReceiver()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, _app(receiver), threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="authy-callback-receiver", daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}{CALLBACK_PATH}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Recorded:
    """One request exactly as it arrived."""

    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]
    body: bytes


@contextmanager
def recording_server(answer: dict[str, Any]) -> Iterator[tuple[str, list[Recorded]]]:
    """A server on 127.0.0.1 that records every request and answers 200 with `answer` (compact JSON)."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    recorded: list[Recorded] = []
    payload = json.dumps(answer, separators=(",", ":")).encode()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded.append(Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _record

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""A minimal payments bot on the sandbox: the same hops per flow as Payfriend, and nothing else.

    python -m bench.reference_bot --sandbox-url http://127.0.0.1:PORT --people people.json

The benchmark runs it in place of Payfriend to learn what the machine, the sandbox and the simulated
people allow at most. Per flow it makes Payfriend's calls, over raw HTTP/1.1 keep-alive connections
(http.client, one per thread):

1. getUpdates long poll brings "send $N to Neville";
2. sendMessage "Send $N to Neville? ..." with an inline keyboard (Confirm / Cancel);
3. on the callback_query: answerCallbackQuery and editMessageReplyMarkup (the buttons go away), the
   Authy OneTouch approval request (POST .../onetouch/json/users/<id>/approval_requests, the body
   Payfriend's Authy adapter sends), and sendMessage "Approve $N to Neville in your Authy app. ...";
4. the signed OneTouch callback arrives at its own threaded HTTP server on 127.0.0.1 (registered
   with the sandbox's POST /api/config), which answers 200 and sends "Sent: $N to Neville ✓".

No database and no logic beyond that: the pending payment and the approval uuid live in dicts. The
callback's X-Authy-Signature IS checked (one HMAC-SHA256 over the flattened body, with the sandbox's
published algorithm in sandbox.authy_signing), since that costs a few tens of microseconds.
`--people` is a JSON object {telegram chat id: Authy id}, what Payfriend keeps in its users table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

TELEGRAM_TOKEN = "1000000001:sandbox-telegram-token"  # the sandbox's well-known credentials
AUTHY_API_KEY = "sandbox-authy-api-key"
POLL_TIMEOUT = 10
_SEND = re.compile(r"^send (\S+) to (\S+)$", re.IGNORECASE)


class Http:
    """JSON POSTs over one keep-alive HTTP/1.1 connection per thread."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port,
                                                                             timeout=self.timeout)
        return connection

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """POST `body` as JSON and return the decoded answer; reconnects once if the server had closed."""
        data = json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("POST", path, body=data, headers=sent)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self._local.connection = None
            return json.loads(payload) if payload else None
        return None


class ReferenceBot:
    """The bot: a long-poll loop, a pool of handler threads, and the Authy callback server."""

    def __init__(self, sandbox_url: str, authy_ids: dict[int, str], threads: int = 64) -> None:
        self.sandbox_url, self.authy_ids = sandbox_url.rstrip("/"), authy_ids
        self.http = Http(self.sandbox_url)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="handler")
        self.pending: dict[int, tuple[str, str]] = {}  # chat id -> (amount, payee) awaiting Confirm
        self.approvals: dict[str, tuple[int, str, str]] = {}  # approval uuid -> (chat id, amount, payee)
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.callback_url = ""

    # ------------------------------------------------------------------ Telegram

    def telegram(self, method: str, **params: Any) -> Any:
        """Call one Bot API method."""
        return self.http.post(f"/bot{TELEGRAM_TOKEN}/{method}", params)

    def send(self, chat_id: int, text: str, keyboard: list[list[dict[str, str]]] | None = None) -> None:
        """sendMessage, with an inline keyboard when given."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if keyboard:
            params["reply_markup"] = {"inline_keyboard": keyboard}
        self.telegram("sendMessage", **params)

    def poll(self) -> None:
        """getUpdates long polls until stopped; each update goes to the handler pool."""
        offset = 0
        while not self.stopping.is_set():
            try:
                answer = self.telegram("getUpdates", offset=offset, timeout=POLL_TIMEOUT)
            except (OSError, http.client.HTTPException, ValueError):
                self.stopping.wait(0.5)
                continue
            for update in (answer or {}).get("result") or []:
                offset = max(offset, update["update_id"] + 1)
                self.pool.submit(self.handle, update)

    def handle(self, update: dict[str, Any]) -> None:
        """One update: a text message or a button press."""
        try:
            if "callback_query" in update:
                self.on_press(update["callback_query"])
            elif "message" in update:
                self.on_text(update["message"]["chat"]["id"], update["message"].get("text") or "")
        except Exception as exc:  # keep the pool thread; say what failed
            print(f"reference bot: update failed: {exc!r}", file=sys.stderr, flush=True)

    def on_text(self, chat_id: int, text: str) -> None:
        """'send $N to X' asks for confirmation; 'cancel' drops what is pending."""
        match = _SEND.match(text.strip())
        if match:
            amount, payee = match.groups()
            self.pending[chat_id] = (amount, payee)
            self.send(chat_id, f"Send {amount} to {payee}? Confirm or cancel.",
                      [[{"text": "Confirm", "callback_data": "confirm"}, {"text": "Cancel", "callback_data": "cancel"}]])
        elif text.strip().lower() == "cancel":
            self.pending.pop(chat_id, None)
            self.send(chat_id, "Cancelled.")

    def on_press(self, query: dict[str, Any]) -> None:
        """Settle the button, then push the approval request and tell the person."""
        message = query.get("message") or {}
        chat_id = message.get("chat", {}).get("id") or query["from"]["id"]
        self.telegram("answerCallbackQuery", callback_query_id=query["id"])
        self.telegram("editMessageReplyMarkup", chat_id=chat_id, message_id=message.get("message_id"))
        payment = self.pending.pop(chat_id, None)
        if payment is None or query.get("data") != "confirm":
            return
        amount, payee = payment
        approval = self.push(chat_id, amount, payee)
        self.approvals[approval] = (chat_id, amount, payee)
        self.send(chat_id, f"Approve {amount} to {payee} in your Authy app. "
                           "No decision within 15 seconds and we'll text you a code instead.")

    # ------------------------------------------------------------------ Authy

    def push(self, chat_id: int, amount: str, payee: str) -> str:
        """Create a OneTouch approval request (Payfriend's body: message, details, hidden id); its uuid."""
        body = {"message": f"Send {amount} to {payee}", "seconds_to_expire": 120,
                "details": {"Amount": amount, "To": payee},
                "hidden_details": {"payment_id": "ref_" + uuid.uuid4().hex[:24]}, "logos": []}
        answer = self.http.post(f"/authy/onetouch/json/users/{self.authy_ids[chat_id]}/approval_requests", body,
                                {"X-Authy-API-Key": AUTHY_API_KEY})
        return answer["approval_request"]["uuid"]

    def on_callback(self, body: dict[str, Any]) -> None:
        """A decided approval: tell the person how it ended."""
        found = self.approvals.pop(str(body.get("uuid")), None)
        if found is None:
            return
        chat_id, amount, payee = found
        if body.get("status") == "approved":
            self.send(chat_id, f"Sent: {amount} to {payee} \u2713")
        else:
            self.send(chat_id, f"Denied: {amount} to {payee} was not sent.")

    # ------------------------------------------------------------------ running

    def start(self) -> str:
        """Start the callback server and the long poll; register the callback URL; returns the server URL."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _callback_handler(self))
        self.server.daemon_threads = True
        base = f"http://127.0.0.1:{self.server.server_port}"
        self.callback_url = base + "/webhooks/authy"
        threading.Thread(target=self.server.serve_forever, name="callbacks", daemon=True).start()
        self.http.post("/api/config", {"authy": self.callback_url})
        threading.Thread(target=self.poll, name="poll", daemon=True).start()
        return base

    def stop(self) -> None:
        """Stop polling and serving."""
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def signature_ok(url: str, headers: Any, body: dict[str, Any]) -> bool:
    """Whether X-Authy-Signature is right for this callback (HMAC-SHA256, the published algorithm)."""
    from sandbox.authy_signing import verify

    nonce, signature = headers.get("X-Authy-Signature-Nonce", ""), headers.get("X-Authy-Signature", "")
    return bool(nonce and signature) and verify(AUTHY_API_KEY, nonce, "POST", url, body, signature)


def _callback_handler(bot: ReferenceBot) -> type[BaseHTTPRequestHandler]:
    """The request handler class of the callback server, bound to `bot`."""

    class CallbackHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """No per-request log line."""

        def do_POST(self) -> None:
            """Check and acknowledge the callback, then act on it."""
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            ok = (self.path == "/webhooks/authy" and isinstance(body, dict)
                  and signature_ok(bot.callback_url, self.headers, body))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
            if ok:
                bot.on_callback(body)

    return CallbackHandler


def main(argv: list[str] | None = None) -> int:
    """Run the reference bot until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.reference_bot", description=__doc__.split("\n")[0])
    parser.add_argument("--sandbox-url", required=True, help="the sandbox to talk to")
    parser.add_argument("--people", required=True, help="JSON file {telegram chat id: Authy id}")
    parser.add_argument("--threads", type=int, default=64, help="update handler threads (default 64)")
    args = parser.parse_args(argv)
    with open(args.people, encoding="utf-8") as people:
        authy_ids = {int(chat): str(authy) for chat, authy in json.load(people).items()}
    bot = ReferenceBot(args.sandbox_url, authy_ids, args.threads)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"Reference bot listening on {bot.start()}", flush=True)
    done.wait()
    bot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

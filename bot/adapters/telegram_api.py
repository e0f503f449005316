"""The Bot API calls the workers make (send, answer a press, clear buttons), as plain blocking HTTP.

The outbox and job threads block on each call anyway. Handing every call to python-telegram-bot's
event loop and waiting on its future cost more CPU than the call itself (asyncio, anyio, httpx's
async stack, and a `Message` object built from every answer that nobody reads). Here each worker
thread keeps one keep-alive `requests` session, sends the JSON the Bot API documents and reads
only `ok`, `error_code` and `retry_after`. python-telegram-bot still owns updates, the webhook and
the command menu.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from bot.core.entities import OutboxMessage
from bot.ports import DeliveryError

SHARE_CONTACT = "Share my phone number"
DEFAULT_API = "https://api.telegram.org"


def reply_markup(message: OutboxMessage) -> dict[str, Any] | None:
    """The keyboard an outbox message asks for, as Bot API JSON (None: no keyboard)."""
    if message.buttons:
        return {"inline_keyboard": [[{"text": b.text, "callback_data": b.data} for b in row]
                                    for row in message.buttons]}
    if message.request_contact:
        return {"keyboard": [[{"text": SHARE_CONTACT, "request_contact": True}]],
                "one_time_keyboard": True, "resize_keyboard": True}
    if message.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def api_error(status: int, body: Any) -> DeliveryError:
    """Map a Bot API failure (HTTP status and its JSON body, if any) to what the outbox should do."""
    if not isinstance(body, dict):
        body = {}
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
    description = str(body.get("description") or f"HTTP {status}")[:200]
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    if code == 429:
        retry_after = parameters.get("retry_after")
        return DeliveryError("flood control",
                             retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else 1.0)
    if code == 403:
        return DeliveryError(f"forbidden: {description}", permanent=True, blocked=True)
    if code in (400, 401, 404):
        return DeliveryError(f"rejected: {description}", permanent=True)
    return DeliveryError(f"telegram: {description}")


class BotApi:
    """Blocking Bot API calls over one keep-alive session per thread; raises DeliveryError."""

    def __init__(self, token: str, base_url: str | None, timeout: float) -> None:
        self._url = f"{base_url or DEFAULT_API}/bot{token}/"
        self._timeout = timeout
        self._local = threading.local()

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call one method and return its `result` (which may be null: callers must not rely on it)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(self._url + method, json=params, timeout=self._timeout)
        except requests.RequestException as exc:
            # The exception's text holds the URL, and the URL holds the token: only its kind is kept.
            raise DeliveryError(f"network: {exc.__class__.__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise api_error(response.status_code, body)

    def send(self, message: OutboxMessage) -> None:
        """sendMessage for one outbox message, with its keyboard."""
        params: dict[str, Any] = {"chat_id": int(message.recipient), "text": message.text}
        markup = reply_markup(message)
        if markup is not None:
            params["reply_markup"] = markup
        self.call("sendMessage", params)

    def close(self) -> None:
        """Close this thread's session (the others close with their threads)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

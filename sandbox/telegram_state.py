"""What the Telegram stand-in remembers: chats, pending updates, the webhook, flood limits."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.ids import RESTORE_GAP, IncreasingIds, telegram_query_id

BOT_USERNAME = "payfriend_sandbox_bot"
BOT_FIRST_NAME = "Payfriend"


@dataclass
class ChatMessage:
    """One message in a private chat, written by the bot or by the person."""

    message_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    contact: dict[str, Any] | None = None
    reply_markup: dict[str, Any] | None = None  # as the bot sent it (inline or reply keyboard)
    parse_mode: str | None = None
    edit_date: int | None = None
    deleted: bool = False
    sent_text: str | None = None  # the text as first sent, kept once the message is edited

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]] | None:
        """The inline keyboard under this message, if any."""
        markup = self.reply_markup or {}
        return markup.get("inline_keyboard")

    @property
    def reply_keyboard(self) -> list[list[dict[str, Any]]] | None:
        """The reply keyboard this message offered, if any (normalised to button objects)."""
        rows = (self.reply_markup or {}).get("keyboard")
        if rows is None:
            return None
        return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]


@dataclass
class ChatLog:
    """A person's private chat with the bot."""

    chat_id: int
    chat_instance: str
    messages: list[ChatMessage] = field(default_factory=list)
    keyboard_message_id: int | None = None  # the message whose reply keyboard is showing
    typing_until: float = 0.0
    last_message_id: int = 0

    def next_message_id(self) -> int:
        """A message id unique inside this chat."""
        self.last_message_id += 1
        return self.last_message_id

    def snapshot(self) -> dict[str, Any]:
        """The chat as plain JSON data."""
        return {**asdict(self), "messages": [asdict(m) for m in self.messages]}

    @classmethod
    def restored(cls, data: dict[str, Any]) -> "ChatLog":
        """A chat from its snapshot; message ids go on after a gap (messages sent after the last save)."""
        chat = cls(**{**data, "messages": [ChatMessage(**m) for m in data["messages"]]})
        chat.last_message_id += RESTORE_GAP
        return chat

    def find(self, message_id: int) -> ChatMessage | None:
        """The (not deleted) message with this id."""
        return next((m for m in self.messages if m.message_id == message_id and not m.deleted), None)

    @property
    def keyboard_message(self) -> ChatMessage | None:
        """The message whose reply keyboard the person currently sees."""
        return self.find(self.keyboard_message_id) if self.keyboard_message_id else None


@dataclass
class Webhook:
    """The webhook set through setWebhook."""

    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Limits:
    """Flood limits: messages per second per chat and overall (None: unlimited)."""

    per_chat_per_second: float | None = 5.0
    global_per_second: float | None = 30.0

    def as_json(self) -> dict[str, Any]:
        return {"per_chat_per_second": self.per_chat_per_second,
                "global_per_second": self.global_per_second}


class RateWindow:
    """A sliding window of send times; says how long to wait when a rate is exceeded."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def retry_after(self, rate: float | None, now: float) -> int:
        """0 when one more send fits under `rate` per second, else whole seconds to wait."""
        if rate is None:
            return 0
        window = max(1.0, 1.0 / rate)
        allowed = max(1, round(rate * window))
        while self.times and self.times[0] <= now - window:
            self.times.popleft()
        if len(self.times) < allowed:
            return 0
        return max(1, math.ceil(self.times[0] + window - now))

    def record(self, now: float) -> None:
        """Count one send at `now`."""
        self.times.append(now)


class TelegramState:
    """Everything the Telegram stand-in keeps; guarded by the World's lock."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._update_ids = IncreasingIds(100_000_001)  # monotonic, even across reset() and restarts
        self.limits = Limits()
        self.webhook: Webhook | None = None
        self.webhook_thread: threading.Thread | None = None
        self.allowed_updates: list[str] | None = None
        self.poll_generation = 0
        self.commands: list[dict[str, Any]] = []  # the bot's settings, like the webhook: kept by reset()
        self.reset()

    def reset(self) -> None:
        """Forget chats, updates, callback queries and flood counters (the webhook and commands stay)."""
        self.updates: list[dict[str, Any]] = []
        self.chats: dict[int, ChatLog] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.delivery_attempts: dict[int, int] = {}
        self.global_window = RateWindow()
        self.chat_windows: dict[int, RateWindow] = {}
        # One Bot API method (lower case) failing on its own: "error" (HTTP 500) or "null" (ok, result null).
        self.method_faults: dict[str, str] = {}

    def chat(self, chat_id: int) -> ChatLog:
        """The chat with this id, created on first use."""
        log = self.chats.get(chat_id)
        if log is None:
            log = ChatLog(chat_id=chat_id, chat_instance=str(-(4_000_000_000_000 + chat_id)))
            self.chats[chat_id] = log
        return log

    def add_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a new Update carrying `payload` under `kind` (message, callback_query ...)."""
        update = {"update_id": self._update_ids.next(), kind: payload}
        self.updates.append(update)
        return update

    def next_query_id(self) -> str:
        """A fresh callback query id (a string, as Telegram sends it)."""
        return telegram_query_id()

    def snapshot(self) -> dict[str, Any]:
        """Chats, pending updates, callback queries, the webhook, commands and limits as plain JSON data."""
        return {"last_update_id": self._update_ids.snapshot(), "updates": list(self.updates),
                "chats": [chat.snapshot() for chat in self.chats.values()],
                "callback_queries": dict(self.callback_queries),
                "webhook": asdict(self.webhook) if self.webhook else None,
                "allowed_updates": self.allowed_updates, "commands": list(self.commands),
                "limits": asdict(self.limits)}

    def restore(self, data: dict[str, Any]) -> None:
        """Take over a snapshot (flood counters start empty)."""
        chats = {c["chat_id"]: ChatLog.restored(c) for c in data["chats"]}
        webhook = Webhook(**data["webhook"]) if data["webhook"] else None
        limits = Limits(**data["limits"])
        self.reset()
        self._update_ids.restore(data["last_update_id"])
        self.updates = list(data["updates"])
        self.chats = chats
        self.callback_queries = dict(data["callback_queries"])
        self.webhook, self.limits = webhook, limits
        self.allowed_updates = data["allowed_updates"]
        self.commands = list(data["commands"])

    def confirm(self, offset: int) -> None:
        """Apply getUpdates' offset: forget confirmed updates (negative: keep the last -offset)."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def deliverable(self, limit: int = 100) -> list[dict[str, Any]]:
        """The oldest pending updates of an allowed type, at most `limit`."""
        allowed = self.allowed_updates
        picked = [u for u in self.updates if allowed is None or _kind(u) in allowed]
        return picked[:limit]

    def remove_update(self, update_id: int) -> None:
        """Drop one update (delivered to the webhook, or given up on)."""
        self.updates = [u for u in self.updates if u["update_id"] != update_id]
        self.delivery_attempts.pop(update_id, None)

    def flood_wait(self, chat_id: int, now: float) -> int:
        """0 when the bot may send to this chat now, else the retry_after in seconds."""
        per_chat = self.chat_windows.setdefault(chat_id, RateWindow())
        return max(self.global_window.retry_after(self.limits.global_per_second, now),
                   per_chat.retry_after(self.limits.per_chat_per_second, now))

    def record_send(self, chat_id: int, now: float) -> None:
        """Count one message sent (or edited) by the bot in this chat."""
        self.global_window.record(now)
        self.chat_windows.setdefault(chat_id, RateWindow()).record(now)


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def bot_user(token: str) -> dict[str, Any]:
    """The bot's User object; its id is the token's numeric prefix."""
    return {"id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME, "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


def person_user(user_id: int, name: str) -> dict[str, Any]:
    """A person's Telegram User object."""
    first, _, last = name.partition(" ")
    user = {"id": user_id, "is_bot": False, "first_name": first or name, "language_code": "en"}
    if last:
        user["last_name"] = last
    return user


def private_chat(user_id: int, name: str) -> dict[str, Any]:
    """The private Chat object between the bot and a person."""
    first, _, last = name.partition(" ")
    chat = {"id": user_id, "type": "private", "first_name": first or name}
    if last:
        chat["last_name"] = last
    return chat


def message_json(msg: ChatMessage, chat: dict[str, Any], sender: dict[str, Any]) -> dict[str, Any]:
    """A Bot API Message object for a chat message (inline keyboards only, as Telegram does)."""
    out: dict[str, Any] = {"message_id": msg.message_id, "from": sender, "chat": chat, "date": msg.date}
    if msg.text is not None:
        out["text"] = msg.text
    if msg.entities:
        out["entities"] = msg.entities
    if msg.contact is not None:
        out["contact"] = msg.contact
    if msg.inline_keyboard:
        out["reply_markup"] = {"inline_keyboard": msg.inline_keyboard}
    if msg.edit_date is not None:
        out["edit_date"] = msg.edit_date
    return out


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram measures entity offsets)."""
    return len(text.encode("utf-16-le")) // 2

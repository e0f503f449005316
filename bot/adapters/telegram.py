"""Telegram through python-telegram-bot 22: one thread owns the asyncio loop, updates and the webhook.

The workers' own calls (send, answer a press, clear buttons) go through `BotApi`, blocking on their
own thread, without a round trip through the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
import weakref
from datetime import timedelta
from typing import Any, Callable

from telegram import Bot, BotCommand, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.adapters.telegram_api import BotApi
from bot.core.entities import Channel, InboundMessage, OutboxMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)

COMMANDS = [("start", "register or resume"), ("send", "send money: /send 20 Neville"),
            ("status", "recent payments"), ("history", "all payments"), ("cancel", "cancel the waiting payment"),
            ("help", "what I understand")]


def to_inbound(update: Update) -> InboundMessage | None:
    """Translate a Telegram update from a private chat into an InboundMessage (None: not for us)."""
    key = f"tg:{update.update_id}"
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is None or chat.type != "private":
            return None
        return InboundMessage(Channel.TELEGRAM, str(query.from_user.id), key, chat_id=chat.id,
                              button=query.data or "", callback_id=query.id,
                              message_id=query.message.message_id if query.message is not None else None)
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return None
    sender = str(message.from_user.id)
    if message.contact is not None:
        return InboundMessage(Channel.TELEGRAM, sender, key, chat_id=message.chat.id,
                              contact_phone=message.contact.phone_number,
                              contact_user_id=message.contact.user_id)
    return InboundMessage(Channel.TELEGRAM, sender, key, text=message.text or "", chat_id=message.chat.id)


def _seconds(retry_after: int | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def delivery_error(exc: TelegramError) -> DeliveryError:
    """Map a Telegram error to what the outbox should do about it."""
    if isinstance(exc, Forbidden):
        return DeliveryError(f"forbidden: {exc.message}", permanent=True, blocked=True)
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DeliveryError("flood control", retry_after=_seconds(exc.retry_after))
    if isinstance(exc, (BadRequest, InvalidToken)):
        return DeliveryError(f"rejected: {exc.message}", permanent=True)
    return DeliveryError(f"network: {exc.message}")


def _log_typing_failure(future: Any) -> None:
    """A typing indicator that did not show is worth a debug line, nothing more."""
    if not future.cancelled() and future.exception() is not None:
        log.debug("typing indicator not shown: %s", future.exception())


class TelegramGateway:
    """Runs python-telegram-bot on its own thread and loop; other threads hand it work."""

    def __init__(self, token: str, base_url: str | None, timeout: float,
                 on_inbound: Callable[[InboundMessage], None], polling: bool = True) -> None:
        self._token = token
        self._base_url = base_url
        self._timeout = timeout
        self._on_inbound = on_inbound
        self._polling = polling
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: Application | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._thread_locks = [threading.Lock() for _ in range(64)]
        self._api = BotApi(token, base_url, timeout)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the loop thread, connect (getMe) and, in polling mode, start polling."""
        self._thread = threading.Thread(target=self._run, name="telegram-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout * 6):
            raise RuntimeError("Telegram did not start in time")
        if self._error is not None:
            raise RuntimeError(f"Telegram could not start: {self._error}")

    def stop(self) -> None:
        """Stop polling, shut the application down and end the loop thread."""
        if self._loop is None or self._stopped is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(self._timeout * 4)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            self._app = self._build()
            await self._app.initialize()
            await self._app.start()
            if self._polling:
                assert self._app.updater is not None
                await self._app.updater.start_polling(poll_interval=0.0, timeout=10,
                                                      allowed_updates=["message", "callback_query"])
        except Exception as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        if self._polling and self._app.updater is not None and self._app.updater.running:
            await self._app.updater.stop()
        await self._app.stop()
        await self._app.shutdown()

    def _build(self) -> Application:
        builder = (ApplicationBuilder().token(self._token).concurrent_updates(64).job_queue(None)
                   .connect_timeout(self._timeout).read_timeout(self._timeout)
                   .write_timeout(self._timeout).pool_timeout(self._timeout)
                   .get_updates_read_timeout(self._timeout + 12))
        if self._base_url:
            builder = builder.base_url(self._base_url + "/bot").base_file_url(self._base_url + "/file/bot")
        if not self._polling:
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._handle_update))
        return app

    # ---------------------------------------------------------------- inbound

    async def _handle_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        inbound = to_inbound(update)
        if inbound is None:
            return
        # Updates of different chats run side by side; one chat's run in the order they came.
        lock = self._chat_locks.get(inbound.sender)
        if lock is None:
            lock = self._chat_locks[inbound.sender] = asyncio.Lock()
        async with lock:
            await asyncio.to_thread(self._on_inbound, inbound)

    def handle_webhook(self, data: dict[str, Any]) -> bool:
        """Handle one update delivered to our webhook (caller's thread); False if it is not an update."""
        try:
            update = Update.de_json(data, self._app.bot if self._app else None)
        except (KeyError, TypeError, ValueError):
            return False
        if update is None:
            return False
        inbound = to_inbound(update)
        if inbound is not None:
            # Striped locks: one chat's updates never run side by side, and memory stays bounded.
            with self._thread_locks[hash(inbound.sender) % len(self._thread_locks)]:
                self._on_inbound(inbound)
        return True

    # ---------------------------------------------------------------- outbound

    def _call(self, coro: Any) -> Any:
        if self._loop is None:
            coro.close()
            raise DeliveryError("Telegram is not started")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self._timeout * 4)
        except TelegramError as exc:
            raise delivery_error(exc) from exc
        except TimeoutError as exc:
            future.cancel()
            raise DeliveryError("Telegram did not answer in time") from exc

    def deliver(self, message: OutboxMessage) -> None:
        """Send one outbox message (Messenger port); raises DeliveryError."""
        self._bot()  # not before start(): the worker is ready before it sends
        self._api.send(message)

    def settle_button(self, callback_id: str, chat_id: int, message_id: int | None,
                      text: str | None = None) -> None:
        """Answer a button press and take its buttons away (editing the text to `text` when given)."""
        self._bot()
        try:
            self._api.call("answerCallbackQuery", {"callback_query_id": callback_id})
        except DeliveryError as exc:
            if exc.retry_after is not None or not exc.permanent:
                raise
            log.info("button press not answered (too old?): %s", exc)  # the buttons still go
        if message_id is None:
            return
        if text:  # an edit without reply_markup takes the inline keyboard away
            self._api.call("editMessageText", {"chat_id": chat_id, "message_id": message_id, "text": text})
        else:
            self._api.call("editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id})

    def typing_after(self, chat_id: int, delay: float) -> Callable[[], None]:
        """Show "typing…" in the chat (until our next message, or 5 s) if `delay` seconds pass before the
        returned function is called. Never waits for Telegram: a slow Telegram cannot stretch a job past
        its lease, and a failure is only logged."""
        loop, app = self._loop, self._app
        if loop is None or app is None:
            raise DeliveryError("Telegram is not started")
        done = threading.Event()

        def fire() -> None:
            if not done.is_set():
                task = loop.create_task(app.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING))
                task.add_done_callback(_log_typing_failure)

        loop.call_soon_threadsafe(loop.call_later, delay, fire)
        return done.set

    def set_webhook(self, url: str, secret: str) -> None:
        """Register our webhook with Telegram, with its secret token."""
        self._call(self._bot().set_webhook(url=url, secret_token=secret,
                                           allowed_updates=["message", "callback_query"]))

    def set_commands(self) -> None:
        """Publish the command list shown in Telegram's menu."""
        self._call(self._bot().set_my_commands([BotCommand(name, text) for name, text in COMMANDS]))

    def _bot(self) -> Bot:
        if self._app is None:
            raise DeliveryError("Telegram is not started")
        return self._app.bot

"""python-telegram-bot 22, unmodified, against the sandbox's Telegram Bot API over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import telegram
from flask import Flask, request
from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup,
                      ReplyKeyboardRemove)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler,
                          filters)
from werkzeug.serving import make_server

PHONE = "+15005550100"


def run(coro):
    """Run one async scenario to completion."""
    return asyncio.run(coro)


def make_bot(sandbox, token: str | None = None) -> telegram.Bot:
    """A plain PTB Bot pointed at the sandbox."""
    return telegram.Bot(token or sandbox.world.keys.telegram_token, base_url=f"{sandbox.url}/bot")


def api(sandbox, method: str, path: str, **kwargs) -> Any:
    """Call the control API and return its JSON (raising on HTTP errors)."""
    response = requests.request(method, f"{sandbox.url}/api{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def add_person(sandbox, phone: str = PHONE, name: str = "Hermione Granger", start: bool = True) -> dict:
    """Create a person; by default they have started the bot (and that /start is consumed)."""
    person = api(sandbox, "POST", "/people", json={"phone": phone, "name": name})
    if start:
        api(sandbox, "POST", "/telegram/send", json={"phone": phone, "text": "/start"})
        with sandbox.world.lock:
            sandbox.world.telegram.updates.clear()
    return person


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds (int or timedelta depending on PTB settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class Receiver:
    """A tiny local webhook receiver recording every delivery; answers with the queued statuses."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            with self.arrived:
                self.deliveries.append({"headers": dict(request.headers), "json": request.get_json()})
                self.arrived.notify_all()
                status = self.statuses.pop(0) if self.statuses else 200
            return "", status

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least `count` deliveries arrived."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def stop(self) -> None:
        """Stop the receiver's server."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver, stopped after the test."""
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


# -- getMe and tokens -------------------------------------------------------------------------


def test_get_me_and_initialize(sandbox):
    async def scenario():
        async with make_bot(sandbox) as bot:  # initialize() calls getMe
            me = await bot.get_me()
            assert me.is_bot and me.username and bot.bot.id == me.id
            assert me.id == int(sandbox.world.keys.telegram_token.split(":")[0])
    run(scenario())


@pytest.mark.parametrize("token", ["1000000001:not-the-sandbox-token", "malformed"])
def test_wrong_token_is_invalid_token(sandbox, token):
    async def scenario():
        with pytest.raises(InvalidToken):
            await make_bot(sandbox, token).get_me()
    run(scenario())
    r = requests.post(f"{sandbox.url}/bot{token}/getMe", timeout=5)
    assert r.status_code in (401, 404) and r.json()["ok"] is False


def test_unknown_method_is_404(sandbox):
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/noSuchMethod", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_json_bodies_are_accepted(sandbox):
    add_person(sandbox)
    chat_id = api(sandbox, "GET", "/people")[0]["chat_id"]
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/sendMessage",
                      json={"chat_id": chat_id, "text": "json body",
                            "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}},
                      timeout=5)
    assert r.status_code == 200 and r.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"


# -- getUpdates ---------------------------------------------------------------------------------


def test_get_updates_long_poll_holds_for_the_timeout(sandbox):
    async def scenario():
        async with make_bot(sandbox) as bot:
            started = time.monotonic()
            updates = await bot.get_updates(timeout=1)
            return updates, time.monotonic() - started
    updates, elapsed = run(scenario())
    assert updates == () and elapsed >= 0.9


def test_get_updates_returns_as_soon_as_the_person_writes(sandbox):
    add_person(sandbox)

    def write_later():
        time.sleep(0.3)
        api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "send $20 to Neville"})

    async def scenario():
        async with make_bot(sandbox) as bot:
            threading.Thread(target=write_later, daemon=True).start()
            started = time.monotonic()
            updates = await bot.get_updates(timeout=20)
            return updates, time.monotonic() - started
    updates, elapsed = run(scenario())
    assert [u.message.text for u in updates] == ["send $20 to Neville"]
    assert elapsed < 10


def test_offset_confirms_updates_and_unconfirmed_ones_come_again(sandbox):
    add_person(sandbox)
    for text in ("one", "two", "three"):
        api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": text})

    async def scenario():
        async with make_bot(sandbox) as bot:
            first = await bot.get_updates(timeout=0)
            again = await bot.get_updates(timeout=0)
            assert [u.update_id for u in again] == [u.update_id for u in first]
            ids = [u.update_id for u in first]
            assert ids == sorted(ids) and len(set(ids)) == 3
            rest = await bot.get_updates(offset=ids[0] + 1, timeout=0)
            assert [u.message.text for u in rest] == ["two", "three"]
            limited = await bot.get_updates(offset=ids[0] + 1, limit=1, timeout=0)
            assert [u.message.text for u in limited] == ["two"]
            assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "four"})
            newer = await bot.get_updates(offset=ids[-1] + 1, timeout=0)
            assert [u.message.text for u in newer] == ["four"] and newer[0].update_id > ids[-1]
    run(scenario())


def test_second_poller_terminates_the_first_with_conflict(sandbox):
    async def scenario():
        async with make_bot(sandbox) as first, make_bot(sandbox) as second:
            waiting = asyncio.create_task(first.get_updates(timeout=10))
            await asyncio.sleep(0.3)
            await second.get_updates(timeout=0)
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await waiting
    run(scenario())


def test_application_polling_receives_commands_buttons_and_contacts(sandbox):
    """An Application in polling mode: /start with args, a button press and a shared contact."""
    add_person(sandbox, start=False)
    seen: dict[str, Any] = {}

    async def scenario():
        finished = asyncio.Event()

        async def on_start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            seen["args"] = context.args
            await update.message.reply_text(
                "Share your number?", reply_markup=ReplyKeyboardMarkup(
                    [[KeyboardButton("Share my number", request_contact=True)]], one_time_keyboard=True))

        async def on_contact(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            contact = update.message.contact
            seen["contact"] = (contact.phone_number, contact.user_id, update.message.from_user.id)
            await update.message.reply_text("Pay?", reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Approve", callback_data="pay:1:ok")]]))

        async def on_button(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            query = update.callback_query
            seen["data"] = query.data
            await query.answer("Done")
            await query.edit_message_text("Paid")
            finished.set()

        app = Application.builder().token(sandbox.world.keys.telegram_token) \
            .base_url(f"{sandbox.url}/bot").build()
        app.add_handler(CommandHandler("start", on_start))
        app.add_handler(MessageHandler(filters.CONTACT, on_contact))
        app.add_handler(CallbackQueryHandler(on_button))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start ref123"})
            await wait_until(lambda: bot_texts(sandbox) == ["Share your number?"])
            api(sandbox, "POST", "/telegram/press", json={"phone": PHONE, "button": "Share my number"})
            await wait_until(lambda: "Pay?" in bot_texts(sandbox))
            api(sandbox, "POST", "/telegram/press", json={"phone": PHONE, "button": "Approve"})
            await asyncio.wait_for(finished.wait(), 10)
            await app.updater.stop()
            await app.stop()

    run(scenario())
    assert seen["args"] == ["ref123"]
    phone_number, user_id, from_id = seen["contact"]
    assert phone_number.lstrip("+") == PHONE.lstrip("+") and user_id == from_id
    assert seen["data"] == "pay:1:ok"
    messages = api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE})
    assert [m["text"] for m in messages] == ["Share your number?", "Paid"]
    assert messages[1]["edited"] and messages[1]["inline_keyboard"] is None
    chat = api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})
    assert chat["keyboard"] is None  # one-time keyboard hidden after use
    assert chat["callback_answers"][0]["answer_text"] == "Done"
    with sandbox.world.lock:  # the final getUpdates confirmed everything
        assert sandbox.world.telegram.updates == []


async def wait_until(predicate, timeout: float = 10.0) -> None:
    """Poll a condition from async code."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def bot_texts(sandbox) -> list[str]:
    """The texts the bot sent the default person."""
    return [m["text"] for m in api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE})]


# -- webhooks -----------------------------------------------------------------------------------


def test_webhook_set_info_delivery_with_secret_and_delete(sandbox, receiver):
    add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            assert await bot.set_webhook(receiver.url, secret_token="s3cret-Token_1", max_connections=40)
            info = await bot.get_webhook_info()
            assert info.url == receiver.url and info.pending_update_count == 0
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates(timeout=0)
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "hello hook"})
            deliveries = await asyncio.to_thread(receiver.wait_for, 1)
            assert deliveries[0]["headers"]["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-Token_1"
            assert deliveries[0]["headers"]["Content-Type"] == "application/json"
            update = telegram.Update.de_json(deliveries[0]["json"], bot)
            assert update.message.text == "hello hook"
            assert await bot.delete_webhook()
            assert (await bot.get_webhook_info()).url == ""
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "polled again"})
            updates = await bot.get_updates(timeout=2)
            assert [u.message.text for u in updates] == ["polled again"]
    run(scenario())


def test_webhook_rejects_bad_secret_token(sandbox, receiver):
    async def scenario():
        async with make_bot(sandbox) as bot:
            with pytest.raises(BadRequest, match="(?i)secret token"):
                await bot.set_webhook(receiver.url, secret_token="not allowed!")
    run(scenario())


def test_webhook_retries_non_2xx_then_reports_the_error(sandbox, receiver):
    add_person(sandbox)
    receiver.statuses = [500, 503]  # then 200

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.set_webhook(receiver.url, secret_token="abc")
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "retry me"})
            deliveries = await asyncio.to_thread(receiver.wait_for, 3)
            assert len({d["json"]["update_id"] for d in deliveries}) == 1 and len(deliveries) == 3
            await wait_until(lambda: (sandbox.world.telegram.updates == []))
            info = await bot.get_webhook_info()
            assert info.pending_update_count == 0 and "503" in info.last_error_message
            assert info.last_error_date is not None
    run(scenario())


def test_webhook_survives_a_receiver_that_is_gone(sandbox):
    add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.set_webhook("http://127.0.0.1:9/gone")
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "nobody home"})
            await wait_until(lambda: sandbox.world.telegram.updates == [])
            assert "Connection" in (await bot.get_webhook_info()).last_error_message
    run(scenario())


def test_webhook_duplicate_and_drop_faults(sandbox, receiver):
    add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.set_webhook(receiver.url)
            api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "duplicate-callback"})
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "twice"})
            deliveries = await asyncio.to_thread(receiver.wait_for, 2)
            assert [d["json"]["message"]["text"] for d in deliveries] == ["twice", "twice"]
            assert deliveries[0]["json"]["update_id"] == deliveries[1]["json"]["update_id"]
            api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "drop-callback"})
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "lost"})
            await wait_until(lambda: sandbox.world.telegram.updates == [])
            api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "none"})
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "after"})
            deliveries = await asyncio.to_thread(receiver.wait_for, 3)
            assert [d["json"]["message"]["text"] for d in deliveries] == ["twice", "twice", "after"]
    run(scenario())


# -- sending and editing ------------------------------------------------------------------------


def test_send_message_with_inline_keyboard_edit_text_and_markup(sandbox):
    person = add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="pay:7:ok"),
                                              InlineKeyboardButton("Cancel", callback_data="pay:7:no")]])
            sent = await bot.send_message(person["chat_id"], "Send $20.00 to Neville?", reply_markup=keyboard)
            assert sent.chat.id == person["chat_id"] and sent.from_user.is_bot
            assert sent.reply_markup == keyboard and sent.date.year >= 2024
            edited = await bot.edit_message_text("Send $20.00 to Neville? (waiting)", chat_id=sent.chat.id,
                                                 message_id=sent.message_id, reply_markup=keyboard)
            assert edited.text.endswith("(waiting)") and edited.reply_markup == keyboard
            with pytest.raises(BadRequest, match="not modified"):
                await bot.edit_message_text("Send $20.00 to Neville? (waiting)", chat_id=sent.chat.id,
                                            message_id=sent.message_id, reply_markup=keyboard)
            smaller = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="pay:7:no")]])
            changed = await bot.edit_message_reply_markup(chat_id=sent.chat.id, message_id=sent.message_id,
                                                          reply_markup=smaller)
            assert changed.reply_markup == smaller
            view = api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE})
            assert view[0]["buttons"] == ["Cancel"] and view[0]["edited"]
            with pytest.raises(Exception) as pressed:
                api(sandbox, "POST", "/telegram/press", json={"phone": PHONE, "button": "Approve"})
            assert "404" in str(pressed.value)
            cleared = await bot.edit_message_reply_markup(chat_id=sent.chat.id, message_id=sent.message_id)
            assert cleared.reply_markup is None
            with pytest.raises(BadRequest, match="(?i)message to edit not found"):
                await bot.edit_message_text("x", chat_id=sent.chat.id, message_id=9999)
    run(scenario())


def test_send_message_validation_errors(sandbox):
    person = add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            with pytest.raises(BadRequest, match="(?i)too long"):
                await bot.send_message(person["chat_id"], "x" * 4097)
            with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
                await bot.send_message(person["chat_id"], "x", reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("A", callback_data="d" * 65)]]))
            with pytest.raises(BadRequest, match="(?i)chat not found"):
                await bot.send_message(123, "nobody")
    run(scenario())


def test_request_contact_keyboard_share_contact_and_remove_keyboard(sandbox):
    person = add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.send_message(person["chat_id"], "Share your number", reply_markup=ReplyKeyboardMarkup(
                [[KeyboardButton("Share my number", request_contact=True)], ["Not now"]]))
            chat = api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})
            assert chat["keyboard"][0][0] == {"text": "Share my number", "request_contact": True}
            api(sandbox, "POST", "/telegram/press", json={"phone": PHONE, "button": "Not now"})
            api(sandbox, "POST", "/telegram/share-contact", json={"phone": PHONE})
            updates = await bot.get_updates(timeout=0)
            assert updates[0].message.text == "Not now"
            contact_message = updates[1].message
            assert contact_message.contact.user_id == contact_message.from_user.id == person["telegram_user_id"]
            assert "+" + contact_message.contact.phone_number.lstrip("+") == PHONE
            assert contact_message.contact.first_name == "Hermione"
            await bot.send_message(person["chat_id"], "Thanks", reply_markup=ReplyKeyboardRemove())
            assert api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})["keyboard"] is None
    run(scenario())


def test_answer_callback_query(sandbox):
    person = add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.send_message(person["chat_id"], "Pay?", reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Approve", callback_data="pay:1:ok")]]))
            api(sandbox, "POST", "/telegram/press", json={"phone": PHONE, "button": "pay:1:ok"})
            (update,) = await bot.get_updates(timeout=0)
            query = update.callback_query
            assert query.data == "pay:1:ok" and query.chat_instance and query.message.text == "Pay?"
            assert query.from_user.id == person["telegram_user_id"]
            assert await query.answer("Approved", show_alert=True) is True
            with pytest.raises(BadRequest, match="(?i)query is too old"):
                await query.answer("again")
    run(scenario())
    answers = api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})["callback_answers"]
    assert answers[0]["answer_text"] == "Approved" and answers[0]["show_alert"] is True


def test_set_my_commands_and_send_chat_action(sandbox):
    person = add_person(sandbox)

    async def scenario():
        async with make_bot(sandbox) as bot:
            assert await bot.set_my_commands([("start", "Start"), ("pay", "Send money")])
            assert [c.command for c in await bot.get_my_commands()] == ["start", "pay"]
            with pytest.raises(BadRequest):
                await bot.set_my_commands([("Bad Command", "x")])
            assert await bot.send_chat_action(person["chat_id"], "typing") is True
    run(scenario())
    assert api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})["typing"] is True
    assert api(sandbox, "GET", "/telegram")["commands"][1] == {"command": "pay", "description": "Send money"}


# -- refusals -----------------------------------------------------------------------------------


def test_forbidden_before_start_and_after_block(sandbox):
    person = add_person(sandbox, start=False)

    async def scenario():
        async with make_bot(sandbox) as bot:
            with pytest.raises(Forbidden, match="can't initiate conversation"):
                await bot.send_message(person["chat_id"], "hello?")
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
            await bot.send_message(person["chat_id"], "welcome")
            api(sandbox, "POST", "/telegram/block", json={"phone": PHONE})
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(person["chat_id"], "still there?")
            with pytest.raises(Forbidden):
                await bot.send_chat_action(person["chat_id"], "typing")
            api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})  # restart
            await bot.send_message(person["chat_id"], "welcome back")
    run(scenario())
    assert bot_texts(sandbox) == ["welcome", "welcome back"]


def test_flood_limit_per_chat_gives_retry_after(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/limits", json={"per_chat_per_second": 1})

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.send_message(person["chat_id"], "one")
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(person["chat_id"], "two")
            assert retry_after_seconds(raised.value) >= 1
    run(scenario())


def test_flood_limit_global_gives_retry_after(sandbox):
    people = [add_person(sandbox, f"+1500555020{i}", f"P{i}") for i in range(3)]
    api(sandbox, "POST", "/telegram/limits", json={"per_chat_per_second": None, "global_per_second": 2})

    async def scenario():
        async with make_bot(sandbox) as bot:
            await bot.send_message(people[0]["chat_id"], "a")
            await bot.send_message(people[1]["chat_id"], "b")
            with pytest.raises(RetryAfter):
                await bot.send_message(people[2]["chat_id"], "c")
    run(scenario())


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, status", [("down", 502), ("error", 500)])
def test_fault_down_and_error_raise_network_error(sandbox, mode, status):
    person = add_person(sandbox)
    api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": mode})

    async def scenario():
        bot = make_bot(sandbox)
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(person["chat_id"], "hello")
        assert not isinstance(raised.value, TimedOut)
    run(scenario())
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/getMe", timeout=5)
    assert r.status_code == status and r.json()["ok"] is False
    api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "none"})
    assert requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/getMe", timeout=5).ok


def test_fault_slow_stalls_each_call(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "slow", "slow_seconds": 1.0})

    async def scenario():
        async with make_bot(sandbox) as bot:  # initialize() stalls too, then works
            with pytest.raises(TimedOut):
                await bot.send_message(person["chat_id"], "too impatient", read_timeout=0.3)
            started = time.monotonic()
            sent = await bot.send_message(person["chat_id"], "patient")
            assert sent.text == "patient" and time.monotonic() - started >= 0.9
    run(scenario())

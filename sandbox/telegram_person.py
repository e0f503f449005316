"""What a person does in their Telegram chat with the bot, turned into Bot API Updates."""

from __future__ import annotations

import re
from typing import Any

from sandbox.telegram_state import ChatMessage, message_json, person_user, private_chat, utf16_len, bot_user
from sandbox.world import Person, World

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")


class NotFound(LookupError):
    """No such person, or no such button."""


def _person(world: World, phone: str) -> Person:
    person = world.people.get(phone)
    if person is None:
        raise NotFound(f"no person with phone {phone!r}; add them with POST /api/people")
    return person


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities for every /command in the text (offsets in UTF-16 units)."""
    return [{"type": "bot_command", "offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group())}
            for m in _COMMAND.finditer(text)]


def _queue_message(world: World, person: Person, **fields: Any) -> dict[str, Any]:
    """Append the person's message to the chat and queue it as an Update (lock held)."""
    st = world.telegram
    chat = st.chat(person.telegram_user_id)
    msg = ChatMessage(message_id=chat.next_message_id(), from_bot=False, date=int(world.clock()), **fields)
    chat.messages.append(msg)
    person.started_bot = True  # writing to the bot opens the chat (and undoes a block)
    person.blocked_bot = False
    sender = person_user(person.telegram_user_id, person.name)
    update = st.add_update("message", message_json(msg, private_chat(person.telegram_user_id, person.name),
                                                   sender))
    _hide_one_time_keyboard(chat)
    world.touch()
    return update


def _hide_one_time_keyboard(chat) -> None:
    shown = chat.keyboard_message
    if shown is not None and (shown.reply_markup or {}).get("one_time_keyboard"):
        chat.keyboard_message_id = None


def person_writes(world: World, phone: str, text: str) -> dict[str, Any]:
    """The person sends a text message to the bot; returns the queued Update."""
    if not text or not text.strip():
        raise ValueError("text must not be empty")
    with world.lock:
        person = _person(world, phone)
        return _queue_message(world, person, text=text, entities=command_entities(text))


def person_shares_contact(world: World, phone: str) -> dict[str, Any]:
    """The person shares their own number (contact.user_id = their id; no '+', as clients send it)."""
    with world.lock:
        person = _person(world, phone)
        first, _, last = person.name.partition(" ")
        contact = {"phone_number": person.phone.lstrip("+"), "first_name": first or person.name,
                   "user_id": person.telegram_user_id}
        if last:
            contact["last_name"] = last
        return _queue_message(world, person, contact=contact)


def person_blocks(world: World, phone: str) -> Person:
    """The person blocks the bot: the bot's next messages get 403 until they write again."""
    with world.lock:
        person = _person(world, phone)
        person.blocked_bot = True
        world.touch()
        return person


def person_presses(world: World, phone: str, button: str) -> dict[str, Any]:
    """Press a button (text or callback data) on the latest message offering it."""
    with world.lock:
        person = _person(world, phone)
        chat = world.telegram.chat(person.telegram_user_id)
        for msg in reversed(chat.messages):
            if not msg.from_bot or msg.deleted:
                continue
            for row in msg.inline_keyboard or []:
                for b in row:
                    if button in (b.get("text"), b.get("callback_data")):
                        return _press_inline(world, person, msg, b)
            if msg.message_id == chat.keyboard_message_id:
                for row in msg.reply_keyboard or []:
                    for b in row:
                        if b.get("text") == button:
                            if b.get("request_contact"):
                                return person_shares_contact(world, phone)
                            return person_writes(world, phone, b["text"])
        raise NotFound(f"no message offers a button {button!r}")


def _press_inline(world: World, person: Person, msg: ChatMessage, button: dict[str, Any]) -> dict[str, Any]:
    if "callback_data" not in button:
        raise ValueError(f"button {button.get('text')!r} is not a callback button")
    st = world.telegram
    chat = st.chat(person.telegram_user_id)
    query = {"id": st.next_query_id(), "from": person_user(person.telegram_user_id, person.name),
             "message": message_json(msg, private_chat(person.telegram_user_id, person.name),
                                     bot_user(world.keys.telegram_token)),
             "chat_instance": chat.chat_instance, "data": button["callback_data"]}
    st.callback_queries[query["id"]] = {"chat_id": chat.chat_id, "message_id": msg.message_id,
                                       "data": button["callback_data"], "answered": False,
                                       "answer_text": None, "show_alert": False}
    update = st.add_update("callback_query", query)
    world.touch()
    return update


def message_view(msg: ChatMessage) -> dict[str, Any]:
    """One chat message as the control API shows it (edits applied, buttons listed)."""
    inline = msg.inline_keyboard or []
    reply = msg.reply_keyboard
    buttons = [b.get("text") for row in inline for b in row] + [b.get("text") for row in reply or [] for b in row]
    return {"message_id": msg.message_id, "from": "bot" if msg.from_bot else "person", "date": msg.date,
            "text": msg.text, "sent_text": msg.text if msg.sent_text is None else msg.sent_text,
            "contact": msg.contact, "parse_mode": msg.parse_mode,
            "inline_keyboard": inline or None, "reply_keyboard": reply,
            "remove_keyboard": bool((msg.reply_markup or {}).get("remove_keyboard")),
            "buttons": buttons, "edited": msg.edit_date is not None, "edit_date": msg.edit_date}


def bot_messages(world: World, phone: str) -> list[dict[str, Any]]:
    """What the bot has sent this person, oldest first."""
    with world.lock:
        person = _person(world, phone)
        chat = world.telegram.chats.get(person.telegram_user_id)
        return [message_view(m) for m in (chat.messages if chat else []) if m.from_bot and not m.deleted]


def chat_view(world: World, phone: str) -> dict[str, Any]:
    """The whole chat as the person sees it: both sides, the reply keyboard, typing, answers."""
    with world.lock:
        person = _person(world, phone)
        chat = world.telegram.chat(person.telegram_user_id)
        shown = chat.keyboard_message
        answers = [{"id": qid, **q} for qid, q in world.telegram.callback_queries.items()
                   if q["chat_id"] == chat.chat_id]
        return {"person": person.as_json(),
                "messages": [message_view(m) for m in chat.messages if not m.deleted],
                "keyboard": shown.reply_keyboard if shown else None,
                "typing": chat.typing_until > world.clock(),
                "callback_answers": answers}

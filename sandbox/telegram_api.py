"""Telegram Bot API stand-in at /bot<token>/<method> (what python-telegram-bot 22 calls)."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request

from sandbox import telegram_webhook
from sandbox.telegram_state import ChatMessage, Webhook, bot_user, message_json, private_chat
from sandbox.world import Person, World

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                 "upload_document", "choose_sticker", "find_location", "record_video_note",
                 "upload_video_note"}
_UPDATE_TYPES = {"message", "edited_message", "callback_query", "channel_post", "edited_channel_post",
                 "inline_query", "chosen_inline_result", "shipping_query", "pre_checkout_query", "poll",
                 "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "message_reaction",
                 "message_reaction_count", "chat_boost", "removed_chat_boost", "business_connection",
                 "business_message", "edited_business_message", "deleted_business_messages",
                 "purchased_paid_media"}
MAX_TEXT = 4096
MAX_POLL_TIMEOUT = 50


class ApiError(Exception):
    """A Bot API error: becomes a non-2xx response with the Bot API error envelope."""

    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _reply(result: Any) -> Response:
    return jsonify(ok=True, result=result)


def _error(err: ApiError) -> tuple[Response, int]:
    body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
    if err.parameters:
        body["parameters"] = err.parameters
    return jsonify(body), err.code


def _params() -> dict[str, Any]:
    """Query string, form and JSON body merged (PTB sends forms with JSON-encoded values)."""
    params: dict[str, Any] = dict(request.args.items())
    params.update(request.form.items())
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        params.update(body)
    return params


def _json_value(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return value


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    return value in (True, "true", "True", "1", 1)


class BotApi:
    """The Bot API methods, each taking the request parameters and returning the result."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            name.lower(): getattr(self, name) for name in (
                "getMe", "logOut", "close", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo",
                "sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessage",
                "answerCallbackQuery", "setMyCommands", "getMyCommands", "deleteMyCommands",
                "sendChatAction")}

    # -- helpers (lock held) -------------------------------------------------------------------

    @property
    def me(self) -> dict[str, Any]:
        return bot_user(self.world.keys.telegram_token)

    def _recipient(self, params: dict[str, Any]) -> Person:
        """The person a private chat_id names; 400/403 as Telegram answers."""
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        person = self.world.person_by_telegram(chat_id)
        if person is None:
            raise ApiError(400, "Bad Request: chat not found")
        if person.blocked_bot:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not person.started_bot:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return person

    def _flood_check(self, chat_id: int) -> None:
        now = time.monotonic()
        wait = self.world.telegram.flood_wait(chat_id, now)
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self.world.telegram.record_send(chat_id, now)

    def _text(self, params: dict[str, Any]) -> tuple[str, str | None]:
        text = params.get("text")
        parse_mode = params.get("parse_mode") or None
        if text is None or str(text).strip() == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if parse_mode and parse_mode.upper() == "HTML":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text, parse_mode

    def _markup(self, params: dict[str, Any], allow_reply: bool = True) -> dict[str, Any] | None:
        markup = _json_value(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: object expected as reply markup")
        if "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                    if not button.get("text"):
                        raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
            return markup
        if not allow_reply:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup or markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _bot_message(self, person: Person, params: dict[str, Any]) -> ChatMessage:
        chat = self.world.telegram.chats.get(person.telegram_user_id)
        message_id = _int(params, "message_id")
        msg = chat.find(message_id) if chat and message_id is not None else None
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _message_json(self, person: Person, msg: ChatMessage) -> dict[str, Any]:
        return message_json(msg, private_chat(person.telegram_user_id, person.name), self.me)

    # -- methods -------------------------------------------------------------------------------

    def getMe(self, params: dict[str, Any]) -> Any:
        return self.me

    def logOut(self, params: dict[str, Any]) -> Any:
        return True

    def close(self, params: dict[str, Any]) -> Any:
        return True

    def getUpdates(self, params: dict[str, Any]) -> Any:
        """Long poll: hold until an update exists or `timeout` seconds passed."""
        world, st = self.world, self.world.telegram
        offset = _int(params, "offset", 0) or 0
        limit = min(max(_int(params, "limit", 100) or 100, 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL_TIMEOUT)
        allowed = _json_value(params, "allowed_updates")
        with world.lock:
            if st.webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            if allowed is not None:
                st.allowed_updates = [a for a in allowed if a in _UPDATE_TYPES] or None
            st.confirm(offset)
            st.poll_generation += 1
            generation = st.poll_generation
            world.changed.notify_all()  # an older poller still waiting is terminated (409)
            deadline = time.monotonic() + timeout
            while True:
                if st.poll_generation != generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                batch = st.deliverable(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or st.stopping.is_set() or st.webhook is not None:
                    return batch
                world.changed.wait(remaining)

    def setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET.match(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not re.match(r"^https?://", url):
            raise ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports "
                                "80, 88, 443 or 8443")  # the sandbox accepts local http:// too
        allowed = _json_value(params, "allowed_updates")
        with self.world.lock:
            st = self.world.telegram
            if _bool(params, "drop_pending_updates"):
                st.updates.clear()
            if allowed is not None:
                st.allowed_updates = [a for a in allowed if a in _UPDATE_TYPES] or None
            st.webhook = Webhook(url=url, secret_token=secret,
                                 max_connections=_int(params, "max_connections", 40) or 40) if url else None
            st.poll_generation += 1  # a waiting getUpdates ends
            self.world.touch()
        if url:
            telegram_webhook.ensure_worker(self.world)
        return True

    def deleteWebhook(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            st = self.world.telegram
            st.webhook = None
            if _bool(params, "drop_pending_updates"):
                st.updates.clear()
            self.world.touch()
        return True

    def getWebhookInfo(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            st = self.world.telegram
            hook = st.webhook
            info: dict[str, Any] = {"url": hook.url if hook else "", "has_custom_certificate": False,
                                    "pending_update_count": len(st.deliverable(10_000))}
            if hook:
                info["max_connections"] = hook.max_connections
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message
            if st.allowed_updates:
                info["allowed_updates"] = st.allowed_updates
            return info

    def sendMessage(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            person = self._recipient(params)
            text, parse_mode = self._text(params)
            markup = self._markup(params)
            self._flood_check(person.telegram_user_id)
            chat = self.world.telegram.chat(person.telegram_user_id)
            msg = ChatMessage(message_id=chat.next_message_id(), from_bot=True, date=int(self.world.clock()),
                              text=text, reply_markup=markup, parse_mode=parse_mode)
            chat.messages.append(msg)
            chat.typing_until = 0.0
            if markup and "keyboard" in markup:
                chat.keyboard_message_id = msg.message_id
            elif markup and markup.get("remove_keyboard"):
                chat.keyboard_message_id = None
            self.world.touch()
            self.world.payfriend_wrote(person.phone, _seen_text(params, markup))
            return self._message_json(person, msg)

    def editMessageText(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            person = self._recipient(params)
            msg = self._bot_message(person, params)
            text, parse_mode = self._text(params)
            markup = self._markup(params, allow_reply=False)
            if text == msg.text and markup == (msg.reply_markup if msg.inline_keyboard else None):
                raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                    "and reply markup are exactly the same as a current content and reply "
                                    "markup of the message")
            self._flood_check(person.telegram_user_id)
            if msg.sent_text is None:
                msg.sent_text = msg.text
            msg.text, msg.parse_mode, msg.entities = text, parse_mode, []
            if markup is not None or msg.inline_keyboard:  # an edit without reply_markup removes the
                msg.reply_markup = markup                  # inline keyboard; a reply keyboard stays
            msg.edit_date = int(self.world.clock())
            self.world.touch()
            return self._message_json(person, msg)

    def editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            person = self._recipient(params)
            msg = self._bot_message(person, params)
            markup = self._markup(params, allow_reply=False)
            if markup == (msg.reply_markup if msg.inline_keyboard else None):
                raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                    "and reply markup are exactly the same as a current content and reply "
                                    "markup of the message")
            self._flood_check(person.telegram_user_id)
            msg.reply_markup = markup
            msg.edit_date = int(self.world.clock())
            self.world.touch()
            return self._message_json(person, msg)

    def deleteMessage(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            person = self._recipient(params)
            chat = self.world.telegram.chats.get(person.telegram_user_id)
            message_id = _int(params, "message_id")
            msg = chat.find(message_id) if chat and message_id is not None else None
            if chat is None or msg is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            msg.deleted = True
            if chat.keyboard_message_id == msg.message_id:
                chat.keyboard_message_id = None
            self.world.touch()
            return True

    def answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            query = self.world.telegram.callback_queries.get(str(params.get("callback_query_id") or ""))
            if query is None or query["answered"]:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or "
                                    "query ID is invalid")
            query.update(answered=True, answer_text=params.get("text"),
                         show_alert=_bool(params, "show_alert"))
            self.world.touch()
            return True

    def setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = _json_value(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 BotCommand")
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_NAME.match(str(cmd.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self.world.lock:
            self.world.telegram.commands = [{"command": c["command"], "description": c["description"]}
                                            for c in commands]
            self.world.touch()
        return True

    def getMyCommands(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            return list(self.world.telegram.commands)

    def deleteMyCommands(self, params: dict[str, Any]) -> Any:
        with self.world.lock:
            self.world.telegram.commands = []
            self.world.touch()
        return True

    def sendChatAction(self, params: dict[str, Any]) -> Any:
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        with self.world.lock:
            person = self._recipient(params)
            self.world.telegram.chat(person.telegram_user_id).typing_until = self.world.clock() + 5
            self.world.touch()
        return True


def _seen_text(params: dict[str, Any], markup: dict[str, Any] | None) -> str:
    """The message as sent, links included (an HTML href, an inline button's url), for the person's apps."""
    urls = [str(button.get("url")) for row in (markup or {}).get("inline_keyboard") or [] for button in row
            if isinstance(button, dict) and button.get("url")]
    return "\n".join([str(params.get("text") or ""), *urls])


def _apply_fault(world: World) -> None:
    """Answer as a failing Telegram would: down (502), error (500) or slow (stall, then answer)."""
    mode = world.fault("telegram")
    if mode == "down":
        raise ApiError(502, "Bad Gateway")
    if mode == "error":
        raise ApiError(500, "Internal Server Error")
    if mode == "slow":
        world.stall()


def create_blueprint(world: World) -> Blueprint:
    """The Bot API routes for this world."""
    bp = Blueprint("telegram_api", __name__)
    api = BotApi(world)

    @bp.route("/bot<token>/<method>", methods=["GET", "POST"])
    def call(token: str, method: str):
        try:
            if token != world.keys.telegram_token:
                if _TOKEN_SHAPE.match(token):
                    raise ApiError(401, "Unauthorized")
                raise ApiError(404, "Not Found")
            handler = api.methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            _apply_fault(world)
            method_fault = world.telegram.method_faults.get(method.lower())
            if method_fault == "error":
                raise ApiError(500, "Internal Server Error")
            result = handler(_params())
            return _reply(None if method_fault == "null" else result)
        except ApiError as err:
            return _error(err)

    return bp


def shutdown(world: World) -> None:
    """Wake and end every long poll and webhook worker of this world."""
    world.stop()

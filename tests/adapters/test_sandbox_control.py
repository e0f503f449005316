"""The sandbox control API, over HTTP."""

from __future__ import annotations

import threading
import time
import uuid

import requests

from sandbox.world import Approval


PHONE = "+15005550100"


def api(sandbox, method: str, path: str, expect: int | None = None, **kwargs):
    """Call the control API; check the status when `expect` is given; return the JSON."""
    response = requests.request(method, f"{sandbox.url}/api{path}", timeout=10, **kwargs)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response.json()


def add_person(sandbox, phone: str = PHONE, name: str = "Hermione") -> dict:
    """Add a person through the control API."""
    return api(sandbox, "POST", "/people", expect=201, json={"phone": phone, "name": name})


def bot_sends(sandbox, person: dict, text: str, reply_markup: dict | None = None) -> dict:
    """The bot sends a message over the Bot API (JSON body)."""
    body = {"chat_id": person["chat_id"], "text": text}
    if reply_markup:
        body["reply_markup"] = reply_markup
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/sendMessage", json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def pending_updates(sandbox) -> list[dict]:
    """The updates waiting in the Telegram stand-in."""
    with sandbox.world.lock:
        return list(sandbox.world.telegram.updates)


def approval(sandbox, phone: str = PHONE, provider: str = "authy", expires_in: float | None = 60) -> Approval:
    """Put a pending approval in the person's authenticator app."""
    now = sandbox.world.clock()
    return sandbox.world.add_approval(Approval(
        id=uuid.uuid4().hex, provider=provider, phone=phone, message="Approve your payment",
        details={"Payee": "Neville", "Amount": "$20.00"}, hidden_details={"payment_id": "p1"},
        created_at=now, expires_at=None if expires_in is None else now + expires_in))


def test_people_validation_and_idempotent_add(sandbox):
    first = add_person(sandbox)
    again = api(sandbox, "POST", "/people", expect=201, json={"phone": PHONE, "name": "Other"})
    assert again["telegram_user_id"] == first["telegram_user_id"] and again["name"] == "Hermione"
    second = add_person(sandbox, "+15005550101", "Neville")
    assert second["telegram_user_id"] != first["telegram_user_id"]
    api(sandbox, "POST", "/people", expect=400, json={"phone": "12345", "name": "x"})
    api(sandbox, "POST", "/people", expect=400, json={"name": "no phone"})


def test_person_writes_and_slash_start_marks_started(sandbox):
    add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", expect=404, json={"phone": "+19999999999", "text": "hi"})
    api(sandbox, "POST", "/telegram/send", expect=400, json={"phone": PHONE, "text": ""})
    update = api(sandbox, "POST", "/telegram/send", expect=201, json={"phone": PHONE, "text": "/start ref"})
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert api(sandbox, "GET", "/people")[0]["started_bot"] is True
    blocked = api(sandbox, "POST", "/telegram/block", expect=200, json={"phone": PHONE})
    assert blocked["blocked_bot"] is True
    assert [u["update_id"] for u in pending_updates(sandbox)] == [update["update_id"]]


def test_messages_show_buttons_and_press_finds_the_latest_offer(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
    inline = {"inline_keyboard": [[{"text": "Approve", "callback_data": "pay:1:ok"}]]}
    first = bot_sends(sandbox, person, "Pay $1?", inline)
    second = bot_sends(sandbox, person, "Pay $2?", {"inline_keyboard": [[{"text": "Approve",
                                                                       "callback_data": "pay:2:ok"}]]})
    messages = api(sandbox, "GET", "/telegram/messages", expect=200, params={"phone": PHONE})
    assert [m["text"] for m in messages] == ["Pay $1?", "Pay $2?"]
    assert messages[0]["buttons"] == ["Approve"] and messages[0]["from"] == "bot"
    assert messages[0]["inline_keyboard"] == inline["inline_keyboard"]
    pressed = api(sandbox, "POST", "/telegram/press", expect=201, json={"phone": PHONE, "button": "Approve"})
    assert pressed["callback_query"]["data"] == "pay:2:ok"
    assert pressed["callback_query"]["message"]["message_id"] == second["message_id"]
    by_data = api(sandbox, "POST", "/telegram/press", expect=201, json={"phone": PHONE, "button": "pay:1:ok"})
    assert by_data["callback_query"]["message"]["message_id"] == first["message_id"]
    api(sandbox, "POST", "/telegram/press", expect=404, json={"phone": PHONE, "button": "Nope"})
    api(sandbox, "GET", "/telegram/messages", expect=404, params={"phone": "+19999999999"})
    api(sandbox, "GET", "/telegram/messages", expect=400)


def test_reply_keyboard_buttons_send_their_text_or_the_contact(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
    bot_sends(sandbox, person, "Your number?", {"keyboard": [[{"text": "Share", "request_contact": True}],
                                                            ["Later"]]})
    later = api(sandbox, "POST", "/telegram/press", expect=201, json={"phone": PHONE, "button": "Later"})
    assert later["message"]["text"] == "Later"
    shared = api(sandbox, "POST", "/telegram/press", expect=201, json={"phone": PHONE, "button": "Share"})
    contact = shared["message"]["contact"]
    assert contact["user_id"] == person["telegram_user_id"] == shared["message"]["from"]["id"]
    direct = api(sandbox, "POST", "/telegram/share-contact", expect=201, json={"phone": PHONE})
    assert direct["message"]["contact"]["phone_number"] == PHONE.lstrip("+")
    chat = api(sandbox, "GET", "/telegram/chat", expect=200, params={"phone": PHONE})
    assert [m["from"] for m in chat["messages"]] == ["person", "bot", "person", "person", "person"]


def test_sms_send_calls_the_hook_and_inbox_lists_both_directions(sandbox):
    sandbox.world.on_person_sms = None  # as if no Twilio stand-in were loaded
    sent = api(sandbox, "POST", "/sms/send", expect=202, json={"phone": PHONE, "text": "no stand-in"})
    assert sent["delivered"] is False
    forwarded = []

    def hook(sms):
        assert not sandbox.world.lock._is_owned()  # called outside the lock
        forwarded.append(sms)

    sandbox.world.on_person_sms = hook
    sent = api(sandbox, "POST", "/sms/send", expect=201, json={"phone": PHONE, "text": "send $5 to Ron"})
    assert sent["delivered"] is True and forwarded[0].body == "send $5 to Ron"
    assert forwarded[0].to == sandbox.world.keys.twilio_phone_number and forwarded[0].from_ == PHONE
    sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, "Your code is 123456")
    inbox = api(sandbox, "GET", "/sms/inbox", expect=200, params={"phone": PHONE})
    assert [(m["direction"], m["body"]) for m in inbox] == [
        ("outbound", "no stand-in"), ("outbound", "send $5 to Ron"), ("inbound", "Your code is 123456")]
    api(sandbox, "POST", "/sms/send", expect=400, json={"phone": PHONE})


def test_authenticator_pending_approve_deny_and_callbacks(sandbox):
    decided = []

    def on_decision(a):
        assert not sandbox.world.lock._is_owned()
        decided.append((a.id, a.status))

    sandbox.world.on_decision["authy"] = on_decision
    first, second = approval(sandbox), approval(sandbox)
    approval(sandbox, phone="+15005550199")
    approval(sandbox, expires_in=-1)  # already expired: not pending
    pending = api(sandbox, "GET", "/authenticator/pending", expect=200, params={"phone": PHONE})
    assert [p["id"] for p in pending] == [first.id, second.id]
    assert pending[0]["details"] == {"Payee": "Neville", "Amount": "$20.00"}
    done = api(sandbox, "POST", f"/authenticator/{first.id}/approve", expect=200)
    assert done["approval"]["status"] == "approved" and done["callback"]["sent"] is True
    api(sandbox, "POST", f"/authenticator/{first.id}/deny", expect=409)
    api(sandbox, "POST", f"/authenticator/{second.id}/deny", expect=200)
    assert decided == [(first.id, "approved"), (second.id, "denied")]
    api(sandbox, "POST", "/authenticator/nope/approve", expect=404)
    api(sandbox, "POST", f"/authenticator/{second.id}/maybe", expect=404)
    assert api(sandbox, "GET", "/authenticator/pending", params={"phone": PHONE}) == []
    statuses = [a["status"] for a in api(sandbox, "GET", "/authenticator/approvals", params={"phone": PHONE})]
    assert statuses == ["approved", "denied", "expired"]


def test_decision_without_a_provider_hook_is_reported(sandbox):
    a = approval(sandbox, provider="verify")
    sandbox.world.on_decision.pop("verify", None)
    done = api(sandbox, "POST", f"/authenticator/{a.id}/approve", expect=200)
    assert done["callback"]["sent"] is False and "verify" in done["callback"]["error"]


def test_faults_validation(sandbox):
    api(sandbox, "POST", "/faults", expect=400, json={"service": "telegram", "mode": "on-fire"})
    api(sandbox, "POST", "/faults", expect=400, json={"service": "fax", "mode": "down"})
    api(sandbox, "POST", "/faults", expect=400, json={"service": "authy", "mode": "slow", "slow_seconds": -1})
    for service in ("authy", "verify", "messaging", "telegram"):
        api(sandbox, "POST", "/faults", expect=200, json={"service": service, "mode": "down"})
    state = api(sandbox, "POST", "/faults", expect=200, json={"service": "authy", "mode": "slow", "slow_seconds": 2})
    assert state["faults"]["authy"] == "slow" and state["slow_seconds"] == 2
    assert api(sandbox, "GET", "/faults")["faults"]["telegram"] == "down"


def test_config_sets_console_callback_urls(sandbox):
    urls = {"authy": "http://127.0.0.1:5000/authy/callback", "verify": "http://127.0.0.1:5000/verify",
            "messaging": "http://127.0.0.1:5000/sms"}
    assert api(sandbox, "POST", "/config", expect=200, json=urls) == urls
    assert sandbox.world.callbacks == urls
    api(sandbox, "POST", "/config", expect=400, json={"fax": "http://x"})
    api(sandbox, "POST", "/config", expect=400, json={"authy": "ftp://x"})


def test_telegram_limits_validation(sandbox):
    assert api(sandbox, "POST", "/telegram/limits", expect=200, json={"per_chat_per_second": 2}) == {
        "per_chat_per_second": 2, "global_per_second": 30.0}
    api(sandbox, "POST", "/telegram/limits", expect=400, json={"global_per_second": 0})


def test_events_long_poll(sandbox):
    version = api(sandbox, "GET", "/events", params={"since": 0, "timeout": 0})["version"]
    idle = api(sandbox, "GET", "/events", params={"since": version, "timeout": 0.3})
    assert idle == {"version": version, "changed": False}
    threading.Timer(0.3, lambda: add_person(sandbox)).start()
    started = time.monotonic()
    woke = api(sandbox, "GET", "/events", params={"since": version, "timeout": 20})
    assert woke["changed"] is True and woke["version"] > version and time.monotonic() - started < 15
    api(sandbox, "GET", "/events", expect=400, params={"since": "x"})


def test_reset_forgets_people_and_messages_but_keeps_update_ids_increasing(sandbox):
    add_person(sandbox)
    before = api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "hi"})["update_id"]
    approval(sandbox)
    api(sandbox, "POST", "/faults", json={"service": "telegram", "mode": "down"})
    api(sandbox, "POST", "/reset", expect=200)
    assert api(sandbox, "GET", "/people") == [] and pending_updates(sandbox) == []
    assert api(sandbox, "GET", "/authenticator/pending") == []
    assert api(sandbox, "GET", "/faults")["faults"]["telegram"] == "none"
    add_person(sandbox)
    after = api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "hi"})["update_id"]
    assert after > before


def test_start_sandbox_serves_on_loopback_and_stops(sandbox):
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    assert requests.get(sandbox.url + "/", timeout=5).status_code == 200


def test_add_and_list_people(sandbox):
    r = requests.post(f"{sandbox.url}/api/people", json={"phone": "+15005550100", "name": "Hermione"}, timeout=5)
    assert r.status_code == 201
    person = r.json()
    assert person["phone"] == "+15005550100" and person["telegram_user_id"] > 0
    people = requests.get(f"{sandbox.url}/api/people", timeout=5).json()
    assert [p["name"] for p in people] == ["Hermione"]


def test_sandbox_factory_uses_the_given_world(sandbox_factory):
    from sandbox.world import Keys, World

    world = World(keys=Keys(telegram_token="42:custom-token"))
    running = sandbox_factory(world)
    assert running.world is world
    r = requests.post(f"{running.url}/bot42:custom-token/getMe", timeout=5)
    assert r.json()["result"]["id"] == 42


def test_editing_a_message_keeps_the_reply_keyboard_it_showed(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
    sent = bot_sends(sandbox, person, "Your number?", {"keyboard": [["Later"]]})
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/editMessageText",
                      data={"chat_id": person["chat_id"], "message_id": sent["message_id"], "text": "Number?"},
                      timeout=5)
    assert r.status_code == 200 and "reply_markup" not in r.json()["result"]
    chat = api(sandbox, "GET", "/telegram/chat", params={"phone": PHONE})
    assert chat["keyboard"] == [[{"text": "Later"}]] and chat["messages"][-1]["text"] == "Number?"


def test_an_edited_message_still_shows_the_text_it_was_sent_with(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
    sent = bot_sends(sandbox, person, "Send $5.00 to Neville?")
    token = sandbox.world.keys.telegram_token
    for text in ("Confirmed", "Confirmed twice"):
        requests.post(f"{sandbox.url}/bot{token}/editMessageText",
                      data={"chat_id": person["chat_id"], "message_id": sent["message_id"], "text": text},
                      timeout=5).raise_for_status()
    shown = api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE})[-1]
    assert (shown["text"], shown["sent_text"], shown["edited"]) == ("Confirmed twice", "Send $5.00 to Neville?", True)


def test_change_number_moves_the_telegram_account_and_leaves_the_sim_behind(sandbox):
    person = add_person(sandbox)
    api(sandbox, "POST", "/telegram/send", json={"phone": PHONE, "text": "/start"})
    bot_sends(sandbox, person, "Welcome")
    sandbox.world.deliver_sms(PHONE, "+15005550006", "a code for the SIM")
    new = "+447700900123"

    holder = api(sandbox, "POST", "/telegram/change-number", json={"phone": PHONE, "new_phone": new})

    assert (holder["phone"], holder["telegram_user_id"], holder["app_installed"]) == (new, person["telegram_user_id"],
                                                                                     False)
    assert [m["text"] for m in api(sandbox, "GET", "/telegram/messages", params={"phone": new})] == ["Welcome"]
    assert api(sandbox, "GET", "/telegram/messages", params={"phone": PHONE}) == []
    update = api(sandbox, "POST", "/telegram/share-contact", json={"phone": new})
    contact = update["message"]["contact"]
    assert (contact["phone_number"], contact["user_id"]) == (new.lstrip("+"), person["telegram_user_id"])
    assert [m["body"] for m in api(sandbox, "GET", "/sms/inbox", params={"phone": PHONE})] == ["a code for the SIM"]
    assert api(sandbox, "GET", "/sms/inbox", params={"phone": new}) == []


def test_change_number_needs_a_known_phone_and_a_new_e164_number(sandbox):
    add_person(sandbox)
    for body, status in (({"phone": "+15550000000", "new_phone": "+447700900123"}, 404),
                         ({"phone": PHONE, "new_phone": "07700 900123"}, 400),
                         ({"phone": PHONE, "new_phone": PHONE}, 400), ({"phone": PHONE}, 400)):
        r = requests.post(f"{sandbox.url}/api/telegram/change-number", json=body, timeout=5)
        assert r.status_code == status, (body, r.text)

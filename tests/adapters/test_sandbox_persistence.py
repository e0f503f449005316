"""The sandbox's world across runs: snapshot/restore, the state file, ids that never repeat, reset."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
import requests

from sandbox.ids import RESTORE_GAP, clock_floor
from sandbox.persistence import StateFile, state_file_beside
from sandbox.server import start_sandbox

PHONE = "+15005550100"
ACTION = "payment:p1"


def post(sandbox, path: str, **kwargs) -> dict:
    """POST to the sandbox and return the JSON answer (any 2xx)."""
    response = requests.post(sandbox.url + path, timeout=10, **kwargs)
    assert response.ok, response.text
    return response.json()


def get(sandbox, path: str, **kwargs):
    """GET from the sandbox and return the JSON answer (any 2xx)."""
    response = requests.get(sandbox.url + path, timeout=10, **kwargs)
    assert response.ok, response.text
    return response.json()


def twilio(sandbox) -> tuple[str, str]:
    """HTTP Basic credentials of the sandbox's Twilio account."""
    return sandbox.world.keys.twilio_account_sid, sandbox.world.keys.twilio_auth_token


def authy(sandbox) -> dict[str, str]:
    """The Authy API key header."""
    return {"X-Authy-API-Key": sandbox.world.keys.authy_api_key}


def populate(sandbox) -> dict:
    """A world with a bit of everything: chats, updates, SMS, Authy and Verify state, console settings."""
    keys = sandbox.world.keys
    person = post(sandbox, "/api/people", json={"phone": PHONE, "name": "Hermione Granger"})
    post(sandbox, "/api/telegram/send", json={"phone": PHONE, "text": "/start"})
    bot = f"/bot{keys.telegram_token}"
    post(sandbox, bot + "/sendMessage", json={"chat_id": person["chat_id"], "text": "Send $20 to Neville?",
                                              "reply_markup": {"inline_keyboard": [[
                                                  {"text": "Confirm", "callback_data": "pay:p1:yes"}]]}})
    post(sandbox, "/api/telegram/press", json={"phone": PHONE, "button": "Confirm"})
    post(sandbox, bot + "/setMyCommands", json={"commands": [{"command": "help", "description": "Help"}]})
    post(sandbox, "/api/telegram/limits", json={"per_chat_per_second": 7})
    post(sandbox, "/api/config", json={"authy": "http://127.0.0.1:9/authy", "messaging": "http://127.0.0.1:9/sms"})
    post(sandbox, f"/twilio/api/2010-04-01/Accounts/{keys.twilio_account_sid}/Messages.json", auth=twilio(sandbox),
         data={"To": PHONE, "From": keys.twilio_phone_number, "Body": "Welcome to Payfriend"})
    post(sandbox, f"/twilio/verify/v2/Services/{keys.verify_service_sid}/Verifications", auth=twilio(sandbox),
         data={"To": PHONE, "Channel": "sms", "Amount": "$20.00", "Payee": "Neville"})
    factor = post(sandbox, "/twilio/_sandbox/push-factor", json={"phone": PHONE, "identity": "user-0000001"})
    post(sandbox, f"/twilio/verify/v2/Services/{keys.verify_service_sid}/Entities/user-0000001/Challenges",
         auth=twilio(sandbox), data={"FactorSid": factor["sid"], "Details.Message": "Approve $20 to Neville"})
    user = post(sandbox, "/authy/protected/json/users/new", headers=authy(sandbox),
                json={"user": {"email": "h@example.com", "cellphone": "5005550100", "country_code": "1"}})["user"]
    get(sandbox, f"/authy/protected/json/sms/{user['id']}", headers=authy(sandbox),
        params={"force": "true", "action": ACTION})
    uuid = post(sandbox, f"/authy/onetouch/json/users/{user['id']}/approval_requests", headers=authy(sandbox),
                json={"message": "Send $20 to Neville", "details": {"Payee": "Neville"}})["approval_request"]["uuid"]
    post(sandbox, f"/api/authenticator/{uuid}/deny")
    return {"person": person, "authy_id": user["id"], "factor": factor}


def without_counters(snapshot: dict) -> dict:
    """A snapshot minus the id counters (a restore moves them ahead on purpose)."""
    copy = json.loads(json.dumps(snapshot))
    copy.pop("ids")
    copy["telegram"].pop("last_update_id")
    for chat in copy["telegram"]["chats"]:
        chat.pop("last_message_id")
    return copy


def code_in(sms: list[dict], sender: str) -> str:
    """The code in the newest SMS from `sender`."""
    body = [m["body"] for m in sms if m["from"] == sender][-1]
    return re.search(r"(?:code|token) is:? (\d{4,10})\b", body).group(1)


def test_snapshot_restore_round_trip_keeps_everything(sandbox_factory):
    first = sandbox_factory()
    populate(first)
    snapshot = json.loads(json.dumps(first.world.snapshot()))  # plain JSON data
    second = sandbox_factory()
    second.world.restore(snapshot)
    assert without_counters(second.world.snapshot()) == without_counters(snapshot)
    for path in ("/api/people", "/api/telegram/chat?phone=%2B15005550100", "/api/sms/inbox?phone=%2B15005550100",
                 "/api/authenticator/approvals", "/api/config", "/api/telegram"):
        assert get(second, path) == get(first, path), path


def test_a_restored_world_goes_on_where_it_stopped(sandbox_factory):
    first = sandbox_factory()
    made = populate(first)
    second = sandbox_factory()
    second.world.restore(json.loads(json.dumps(first.world.snapshot())))
    keys, inbox = second.world.keys, get(second, "/api/sms/inbox", params={"phone": PHONE})
    check = post(second, f"/twilio/verify/v2/Services/{keys.verify_service_sid}/VerificationCheck",
                 auth=twilio(second), data={"To": PHONE, "Code": code_in(inbox, "Payfriend"), "Amount": "$20.00",
                                            "Payee": "Neville"})
    assert check["status"] == "approved"
    token = code_in(inbox, "Authy")
    verified = get(second, f"/authy/protected/json/verify/{token}/{made['authy_id']}", headers=authy(second),
                   params={"action": ACTION})
    assert verified["token"] == "is valid"
    pending = get(second, "/api/authenticator/pending", params={"phone": PHONE})
    assert [a["provider"] for a in pending] == ["verify"]
    answer = post(second, f"/api/authenticator/{pending[0]['id']}/approve")
    assert answer["approval"]["status"] == "approved"
    before = first.world.telegram.updates[-1]["update_id"]
    update = post(second, "/api/telegram/send", json={"phone": PHONE, "text": "status"})
    assert update["update_id"] > before
    assert update["message"]["message_id"] > max(m["message_id"] for m in get(first, "/api/telegram/chat",
                                                                           params={"phone": PHONE})["messages"])
    again = post(second, "/authy/protected/json/users/new", headers=authy(second),
                 json={"user": {"email": "h@example.com", "cellphone": "5005550100", "country_code": "1"}})
    assert again["user"]["id"] == made["authy_id"]


def test_the_state_file_carries_the_world_into_the_next_run(tmp_path):
    path = tmp_path / "payfriend.sandbox.json"
    with start_sandbox(state_file=path) as first:
        populate(first)
        last_update = first.world.telegram.updates[-1]["update_id"]
        people = get(first, "/api/people")
    assert json.loads(path.read_text())["people"][0]["phone"] == PHONE
    assert not list(tmp_path.glob("*.tmp"))
    with start_sandbox(state_file=path) as second:
        assert get(second, "/api/people") == people
        assert [u["update_id"] for u in second.world.telegram.updates][-1] == last_update
        assert post(second, "/api/telegram/send", json={"phone": PHONE, "text": "hi"})["update_id"] > last_update


def test_changes_are_saved_soon_without_a_stop(tmp_path):
    path = tmp_path / "world.json"
    with start_sandbox(state_file=path) as running:
        post(running, "/api/people", json={"phone": PHONE, "name": "Hermione"})
        deadline = time.monotonic() + 5
        while not (path.exists() and json.loads(path.read_text())["people"]):
            assert time.monotonic() < deadline, "the change was not saved"
            time.sleep(0.05)


def test_ids_handed_out_after_the_last_save_are_not_handed_out_again(tmp_path):
    path = tmp_path / "world.json"
    with start_sandbox() as first:
        post(first, "/api/people", json={"phone": PHONE, "name": "Hermione"})
        post(first, "/api/telegram/send", json={"phone": PHONE, "text": "/start"})
        StateFile(first.world, path).save()
        unsaved = [post(first, "/api/telegram/send", json={"phone": PHONE, "text": f"m{n}"}) for n in range(5)]
    with start_sandbox(state_file=path) as second:  # as after a crash: the file predates the last updates
        update = post(second, "/api/telegram/send", json={"phone": PHONE, "text": "again"})
    assert update["update_id"] > max(u["update_id"] for u in unsaved)
    assert update["message"]["message_id"] > max(u["message"]["message_id"] for u in unsaved)
    assert RESTORE_GAP >= 100


def test_ids_never_repeat_across_two_sandboxes_without_a_state_file():
    seen: dict[str, list] = {"update": [], "person": [], "sms": [], "message": []}
    for _ in range(2):
        while seen["update"] and clock_floor() <= max(seen["update"] + seen["person"]):
            time.sleep(0.02)  # a restart takes longer than this: the wall clock has moved past the ids used
        with start_sandbox() as running:
            keys = running.world.keys
            person = post(running, "/api/people", json={"phone": PHONE, "name": "Hermione"})
            seen["person"].append(person["telegram_user_id"])
            seen["update"].append(post(running, "/api/telegram/send", json={"phone": PHONE, "text": "/start"})
                                  ["update_id"])
            seen["sms"].append(post(running, "/api/sms/send", json={"phone": PHONE, "text": "hi"})["sms"]["sid"])
            seen["message"].append(post(
                running, f"/twilio/api/2010-04-01/Accounts/{keys.twilio_account_sid}/Messages.json",
                auth=twilio(running), data={"To": PHONE, "From": keys.twilio_phone_number, "Body": "x"})["sid"])
    assert seen["update"][1] > seen["update"][0] and seen["update"][1] < 2**31
    assert seen["person"][1] > seen["person"][0]
    for kind in ("sms", "message"):
        assert len(set(seen[kind])) == 2 and all(re.fullmatch(r"SM[0-9a-f]{32}", sid) for sid in seen[kind])


@pytest.mark.parametrize("content", [b"{not json", b'{"format": 1, "people": "nobody"}', b"\xff\xfe\x00",
                                     b'{"format": 99}', b"[]"])
def test_an_unusable_state_file_is_reported_once_and_the_sandbox_starts_empty(tmp_path, caplog, content):
    path = tmp_path / "world.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        with start_sandbox(state_file=path) as running:
            assert get(running, "/api/people") == []
            assert post(running, "/api/people", json={"phone": PHONE, "name": "Hermione"})
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert json.loads(path.read_text())["people"][0]["phone"] == PHONE  # overwritten with a good one


def test_without_a_state_file_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with start_sandbox() as running:
        post(running, "/api/people", json={"phone": PHONE, "name": "Hermione"})
        assert running.state_file is None
    assert list(tmp_path.iterdir()) == []


def test_the_state_file_sits_beside_a_sqlite_database():
    assert str(state_file_beside("sqlite:///data/payfriend.db")) == "data/payfriend.sandbox.json"
    assert str(state_file_beside("sqlite:////srv/pf/app.sqlite3?timeout=5")) == "/srv/pf/app.sandbox.json"
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql://pf@localhost/payfriend"):
        assert str(state_file_beside(url)) == "payfriend-sandbox.json"


def test_reset_clears_the_world_runs_every_hook_and_keeps_console_settings(sandbox):
    populate(sandbox)
    calls = []
    sandbox.world.on_reset.append(lambda: calls.append("payfriend"))
    answer = post(sandbox, "/api/reset")
    assert answer["ok"] is True and calls == ["payfriend"]
    assert get(sandbox, "/api/people") == [] and get(sandbox, "/api/authenticator/approvals") == []
    assert get(sandbox, "/api/sms/inbox", params={"phone": PHONE}) == []
    assert sandbox.world.stand_ins["twilio"].snapshot()["messages"] == {}
    assert sandbox.world.stand_ins["authy"].snapshot()["tokens"] == []
    assert get(sandbox, "/api/config")["authy"] == "http://127.0.0.1:9/authy"
    assert get(sandbox, "/api/telegram")["commands"] == [{"command": "help", "description": "Help"}]


def test_a_failing_reset_hook_is_reported_and_the_others_still_run(sandbox):
    calls = []

    def broken() -> None:
        raise RuntimeError("database is locked")

    sandbox.world.on_reset.extend([broken, lambda: calls.append("after")])
    response = requests.post(sandbox.url + "/api/reset", timeout=10)
    assert response.status_code == 500 and "database is locked" in response.json()["error"]
    assert calls == ["after"]


def test_empty_database_deletes_every_row_but_keeps_the_schema_revision(database_url):
    from sqlalchemy import text

    from models.engine import make_engine
    from models.migrate import current, upgrade
    from models.reset import empty_database

    upgrade(database_url)
    revision = current(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO receipts (key, seen_at) VALUES ('tg:100000001', :now)"),
                               {"now": "2025-01-01 00:00:00.000000"})
            connection.execute(text(
                "INSERT INTO users (created_at, phone, phone_verified, registration, default_currency, locale, "
                "telegram_blocked, sms_opted_out, exempt_count, exempt_total_eur_minor) VALUES "
                "(:now, '+15005550100', true, 'ready', 'USD', 'en', false, false, 0, 0)"),
                {"now": "2025-01-01 00:00:00.000000"})
        empty_database(database_url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM receipts")).scalar() == 0
            assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 0
    finally:
        engine.dispose()
    assert current(database_url) == revision

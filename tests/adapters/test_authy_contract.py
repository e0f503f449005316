"""Contract tests: the real `authy` library and AuthyAuthenticator against the Authy stand-in over HTTP."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from authy.api import AuthyApiClient

from bot.adapters.authy import PHONE_CODE_LENGTH, AuthyAuthenticator
from bot.adapters.authy_callback import parse_authy_callback, verify_authy_callback
from bot.ports import AuthenticatorUnavailable, CodeBinding, PushBinding, PushRequest, PushState
from sandbox.server import RunningSandbox
from tests.adapters.authy_receiver import CallbackReceiver, callback_receiver, recording_server

HERMIONE = "+14155550123"
NEVILLE = "+447700900123"
NO_APP = "+14155550199"  # registered with Authy but not a sandbox person: no authenticator app
LOGO = "https://payfriend.example/logo.png"
HTTP = 5  # seconds: timeout of every request the tests make themselves


# ----------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def key(sandbox: RunningSandbox) -> str:
    return sandbox.world.keys.authy_api_key


@pytest.fixture
def api_uri(sandbox: RunningSandbox) -> str:
    return sandbox.url + "/authy"


@pytest.fixture
def client(key: str, api_uri: str) -> AuthyApiClient:
    """The library exactly as shipped (no deadline: only for calls the sandbox answers at once)."""
    return AuthyApiClient(key, api_uri=api_uri)


@pytest.fixture
def authy(key: str, api_uri: str) -> Iterator[AuthyAuthenticator]:
    adapter = AuthyAuthenticator(key, api_uri=api_uri, timeout=2.0, logo_url=LOGO)
    yield adapter
    adapter.close()


@pytest.fixture
def people(sandbox: RunningSandbox) -> None:
    sandbox.world.add_person(HERMIONE, "Hermione")
    sandbox.world.add_person(NEVILLE, "Neville")


@pytest.fixture
def receiver(sandbox: RunningSandbox) -> Iterator[CallbackReceiver]:
    with callback_receiver() as rec:
        with sandbox.world.lock:
            sandbox.world.callbacks["authy"] = rec.url
        yield rec


def inbox(sandbox: RunningSandbox, phone: str) -> list[str]:
    return [m.body for m in sandbox.world.inbox(phone) if m.to == phone]


def last_code(sandbox: RunningSandbox, phone: str) -> str:
    found = re.findall(r"\b(\d{4,12})\b", inbox(sandbox, phone)[-1])
    assert found, inbox(sandbox, phone)
    return found[-1]


def decide(sandbox: RunningSandbox, approval_id: str, decision: str) -> None:
    """Tap Approve/Deny through the control API (or the world hook if the route is not there)."""
    response = requests.post(f"{sandbox.url}/api/authenticator/{approval_id}/{decision}", timeout=HTTP)
    if response.status_code == 404 and "json" not in response.headers.get("Content-Type", ""):
        world = sandbox.world
        with world.lock:
            approval = world.approvals[approval_id]
            approval.status = "approved" if decision == "approve" else "denied"
        world.on_decision["authy"](approval)
        return
    assert response.status_code == 200, response.text


def binding(payment_id: str, payee: str = "Neville", amount: str = "$20.00") -> CodeBinding:
    return CodeBinding(payment_id=payment_id, payee=payee, amount_text=amount, amount_major=amount[1:],
                       currency="USD", message=f"Pay {payee} {amount}")


def push_request(payment_id: str = "pay-42") -> PushRequest:
    return PushRequest(payment_id=payment_id, message="Send $20.00 to Neville?",
                       details={"Sending to": "Neville", "Amount": "$20.00"},
                       hidden={"channel": "telegram"}, expires_in_seconds=600)


def raw_get(api_uri: str, key: str, path: str, **params: str) -> requests.Response:
    return requests.get(api_uri + path, params=params, headers={"X-Authy-API-Key": key}, timeout=HTTP)


# ----------------------------------------------------------------------------- the library, endpoint by endpoint


def test_users_new_and_status(client: AuthyApiClient, people: None) -> None:
    user = client.users.create("hermione@example.com", "415-555-0123", 1)
    assert user.ok() and isinstance(user.id, int)
    assert user.content["message"] == "User created successfully."
    again = client.users.create("h.granger@example.com", 4155550123, "1")  # ints and strings pass through
    assert again.ok() and again.id == user.id

    status = client.users.status(user.id)
    assert status.ok()
    body = status.content["status"]
    assert body["authy_id"] == user.id and body["country_code"] == 1 and body["registered"] is True
    assert body["devices"] and body["phone_number"].endswith("0123")


def test_users_new_rejects_an_invalid_user(client: AuthyApiClient) -> None:
    user = client.users.create("not-an-email", "12", 1)
    assert not user.ok() and user.id is None
    assert user.response.status_code == 400
    assert user.errors()["message"] == "User was not valid"
    assert user.content["error_code"] == "60027"


def test_unknown_user_is_a_clean_404(client: AuthyApiClient) -> None:
    status = client.users.status(99999999)
    assert status.response.status_code == 404 and status.errors()["message"]
    assert isinstance(status.content["error_code"], str)


def test_sms_is_ignored_without_force_for_an_app_user(sandbox: RunningSandbox, client: AuthyApiClient,
                                                      people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    sms = client.users.request_sms(authy_id, {})
    assert sms.ok() and sms.ignored()
    assert inbox(sandbox, HERMIONE) == []


def test_sms_without_force_is_sent_when_there_is_no_app(sandbox: RunningSandbox, client: AuthyApiClient) -> None:
    authy_id = client.users.create("x@example.com", "4155550199", 1).id
    sms = client.users.request_sms(authy_id, {})
    assert sms.ok() and not sms.ignored()
    assert len(inbox(sandbox, NO_APP)) == 1


def test_sms_with_action_names_the_action_message_and_the_code_is_bound(
        sandbox: RunningSandbox, client: AuthyApiClient, people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    sms = client.users.request_sms(authy_id, {"force": True, "action": "pay-42|Neville|20",
                                              "action_message": "Pay Neville $20.00"})
    assert sms.ok() and not sms.ignored()
    assert sms.content == {"success": True, "message": "SMS token was sent", "cellphone": "+1-XXX-XXX-XX23"}
    text = inbox(sandbox, HERMIONE)[-1]
    assert "Pay Neville $20.00" in text
    code = last_code(sandbox, HERMIONE)

    assert client.tokens.verify(authy_id, code, {"force": True, "action": "pay-42|Neville|20"}).ok()
    wrong_action = client.tokens.verify(authy_id, code, {"force": True, "action": "pay-43|Neville|20"})
    assert not wrong_action.ok()
    assert wrong_action.response.status_code == 401 and wrong_action.content["error_code"] == "60020"
    assert not client.tokens.verify(authy_id, code, {"force": True}).ok()  # no action: not this code
    wrong = "1234567" if code != "1234567" else "7654321"
    assert not client.tokens.verify(authy_id, wrong, {"force": True, "action": "pay-42|Neville|20"}).ok()


@pytest.mark.parametrize("force", ["True", "true", "1"])
def test_force_is_accepted_in_every_spelling(sandbox: RunningSandbox, client: AuthyApiClient, api_uri: str,
                                             key: str, people: None, force: str) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    response = raw_get(api_uri, key, f"/protected/json/sms/{authy_id}", force=force, action="a")
    assert response.status_code == 200 and "ignored" not in response.json()
    assert len(inbox(sandbox, HERMIONE)) == 1


def test_valid_token_answer_is_compact_json_with_status_200(sandbox: RunningSandbox, client: AuthyApiClient,
                                                            api_uri: str, key: str, people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    client.users.request_sms(authy_id, {"force": True, "action": "pay-1"})
    code = last_code(sandbox, HERMIONE)
    response = raw_get(api_uri, key, f"/protected/json/verify/{code}/{authy_id}", action="pay-1", force="true")
    assert response.status_code == 200
    assert '"token":"is valid"' in response.text and ": " not in response.text


def test_onetouch_create_and_status(sandbox: RunningSandbox, client: AuthyApiClient, people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    created = client.one_touch.send_request(
        authy_id, "Send $20.00 to Neville?", seconds_to_expire=120,
        details={"Sending to": "Neville", "Amount": "$20.00"},
        hidden_details={"payment_id": "pay-42", "channel": "telegram"},
        logos=[{"res": "default", "url": LOGO}])
    assert created.ok() and created.status() is True
    uuid = created.get_uuid()
    approval = sandbox.world.approvals[uuid]
    assert approval.provider == "authy" and approval.phone == HERMIONE
    assert approval.message == "Send $20.00 to Neville?"
    assert list(approval.details.items()) == [("Sending to", "Neville"), ("Amount", "$20.00")]
    assert approval.hidden_details == {"payment_id": "pay-42", "channel": "telegram"}
    assert approval.logos == [{"res": "default", "url": LOGO}]
    assert approval.expires_at == pytest.approx(approval.created_at + 120)

    status = client.one_touch.get_approval_status(uuid)
    assert status.ok() and status.content["approval_request"]["status"] == "pending"
    assert status.content["approval_request"]["uuid"] == uuid
    assert status.content["approval_request"]["_authy_id"] == str(authy_id)


def test_onetouch_expiry_is_lazy_and_zero_means_never(sandbox: RunningSandbox, client: AuthyApiClient,
                                                      people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    never = client.one_touch.send_request(authy_id, "Never expires", seconds_to_expire=0).get_uuid()
    default = client.one_touch.send_request(authy_id, "Default expiry").get_uuid()  # null on the wire
    soon = client.one_touch.send_request(authy_id, "Expires", seconds_to_expire=60).get_uuid()
    world = sandbox.world
    assert world.approvals[never].expires_at is None
    assert world.approvals[default].expires_at == pytest.approx(world.approvals[default].created_at + 86400)
    with world.lock:
        world.approvals[soon].expires_at = world.clock() - 1  # as if 60 s had passed
        assert world.approvals[soon].status == "pending"
    status = client.one_touch.get_approval_status(soon).content["approval_request"]["status"]
    assert status == "expired"
    assert client.one_touch.get_approval_status(never).content["approval_request"]["status"] == "pending"


def test_onetouch_rejects_what_the_real_api_rejects(client: AuthyApiClient, api_uri: str, key: str,
                                                    people: None) -> None:
    authy_id = client.users.create("h@example.com", "4155550123", 1).id
    url = f"{api_uri}/onetouch/json/users/{authy_id}/approval_requests"
    headers = {"X-Authy-API-Key": key}
    for body in ({"message": ""}, {"message": "m", "details": {"Amount": 20}},
                 {"message": "m", "details": {"A key longer than twenty": "x"}},
                 {"message": "m", "logos": [{"res": "huge", "url": LOGO}]},
                 {"message": "m", "seconds_to_expire": -1}):
        response = requests.post(url, json=body, headers=headers, timeout=HTTP)
        assert response.status_code == 400, body
        assert response.json()["errors"]["message"] and response.json()["error_code"] == "60002"
    missing = client.one_touch.get_approval_status("00000000-0000-0000-0000-000000000000")
    assert missing.response.status_code == 404 and not missing.status()


def test_phone_verification_start_and_check(sandbox: RunningSandbox, client: AuthyApiClient) -> None:
    started = client.phones.verification_start("415-555-0123", "1", via="sms", code_length=6)
    assert started.ok() and started.content["seconds_to_expire"] == 599 and started.content["uuid"]
    code = last_code(sandbox, HERMIONE)
    assert len(code) == 6
    wrong = client.phones.verification_check("4155550123", 1, "000000" if code != "000000" else "111111")
    assert wrong.response.status_code == 401 and wrong.content["error_code"] == "60022"
    assert client.phones.verification_check("4155550123", 1, code).ok()
    again = client.phones.verification_check("4155550123", 1, code)
    assert again.response.status_code == 404 and again.content["error_code"] == "60023"


def test_phone_verification_rejects_a_bad_number(client: AuthyApiClient) -> None:
    started = client.phones.verification_start("12", "1")
    assert started.response.status_code == 400 and started.errors()["message"] == "Phone number is invalid"


@pytest.mark.parametrize("call", [
    lambda c: c.users.create("h@example.com", "4155550123", 1),
    lambda c: c.users.status(1),
    lambda c: c.users.request_sms(1, {"force": True}),
    lambda c: c.tokens.verify(1, "1234567", {"force": True}),
    lambda c: c.one_touch.send_request(1, "m", seconds_to_expire=60),
    lambda c: c.one_touch.get_approval_status("00000000-0000-0000-0000-000000000000"),
    lambda c: c.phones.verification_start("4155550123", 1),
    lambda c: c.phones.verification_check("4155550123", 1, "1234"),
])
def test_a_wrong_api_key_gets_401_60001_everywhere(api_uri: str, call) -> None:
    result = call(AuthyApiClient("not-the-key", api_uri=api_uri))
    assert result.response.status_code == 401
    assert result.content["error_code"] == "60001" and result.errors()["message"] == "Invalid API key"


# ----------------------------------------------------------------------------- the adapter


def test_adapter_phone_verification(sandbox: RunningSandbox, authy: AuthyAuthenticator) -> None:
    authy.start_phone_verification(NEVILLE)
    code = last_code(sandbox, NEVILLE)
    assert len(code) == PHONE_CODE_LENGTH == 7  # as long as Authy's payment codes: one kind of code
    assert authy.check_phone_verification(NEVILLE, "12") is False  # malformed: no request needed
    assert authy.check_phone_verification(NEVILLE, "0000000" if code != "0000000" else "1111111") is False
    assert authy.check_phone_verification(NEVILLE, f" {code} ") is True
    assert authy.check_phone_verification(NEVILLE, code) is False  # used up: none pending


def test_adapter_register_splits_e164(client: AuthyApiClient, authy: AuthyAuthenticator) -> None:
    authy_id = authy.register("neville@example.com", NEVILLE)
    assert authy_id.isdigit()
    status = client.users.status(int(authy_id)).content["status"]
    assert status["country_code"] == 44 and status["phone_number"].endswith("0123")
    with pytest.raises(ValueError):
        authy.register("neville@example.com", "07700 900123")  # not E.164


def test_adapter_push_shows_payee_and_amount_and_reports_status(
        sandbox: RunningSandbox, authy: AuthyAuthenticator, people: None, receiver: CallbackReceiver) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    uuid = authy.send_push(authy_id, push_request("pay-42"))
    approval = sandbox.world.approvals[uuid]
    assert approval.details == {"Sending to": "Neville", "Amount": "$20.00"}
    assert approval.hidden_details == {"payment_id": "pay-42", "channel": "telegram"}
    assert approval.logos == [{"res": "default", "url": LOGO}]
    assert approval.expires_at == pytest.approx(approval.created_at + 600)
    assert authy.push_status(uuid) == "pending"
    decide(sandbox, uuid, "approve")
    assert authy.push_status(uuid) == "approved"
    assert authy.read_push(uuid) == PushState("approved", PushBinding(str(authy_id), None))  # no hidden details
    with pytest.raises(ValueError):
        authy.push_status("../users/1/status")


def test_adapter_codes_are_bound_to_the_payment(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                people: None) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    authy.send_code(authy_id, HERMIONE, binding("pay-X"))
    assert "Pay Neville $20.00" in inbox(sandbox, HERMIONE)[-1]
    code = last_code(sandbox, HERMIONE)
    assert authy.check_code(authy_id, HERMIONE, binding("pay-Y"), code) is False
    assert authy.check_code(authy_id, HERMIONE, binding("pay-X"), code) is True


@pytest.mark.parametrize("code", ["", "12345", "1234567890123", "12a456", "１２３４５６", "123 456", None, 123456])
def test_adapter_malformed_codes_are_false_not_errors(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                      people: None, code) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    sandbox.world.set_fault("authy", "down")  # proves no request is made for a malformed code
    assert authy.check_code(authy_id, HERMIONE, binding("pay-X"), code) is False


def test_adapter_sends_a_fresh_options_dict(authy: AuthyAuthenticator, sandbox: RunningSandbox,
                                            people: None) -> None:
    from authy.api.resources import Tokens

    before = Tokens.verify.__defaults__
    authy_id = authy.register("hermione@example.com", HERMIONE)
    for _ in range(2):
        authy.send_code(authy_id, HERMIONE, binding("pay-X"))
        assert authy.check_code(authy_id, HERMIONE, binding("pay-X"), last_code(sandbox, HERMIONE))
    assert Tokens.verify.__defaults__ == before


def test_adapter_wrong_api_key_is_unavailable_and_never_logged(api_uri: str, caplog) -> None:
    secret = "wrong-key-0123456789abcdef"
    adapter = AuthyAuthenticator(secret, api_uri=api_uri, timeout=2.0)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticatorUnavailable) as err:
        adapter.register("h@example.com", HERMIONE)
    assert "60001" in str(err.value)
    assert secret not in str(err.value) and secret not in repr(adapter) and secret not in caplog.text


def test_adapter_sends_the_same_bytes_as_the_plain_library() -> None:
    """The deadline transport changes nothing on the wire: same path, query, headers and body."""
    answer = {"success": True, "message": "SMS token was sent", "approval_request": {"uuid": "u-1"}}
    with recording_server(answer) as (url, recorded):
        plain = AuthyApiClient("k-123", api_uri=url)
        plain.users.request_sms(1635, {"force": True, "action": "pay-42", "action_message": "Pay Neville $20.00"})
        plain.one_touch.send_request(1635, "Send $20.00 to Neville?", seconds_to_expire=600,
                                     details={"Sending to": "Neville", "Amount": "$20.00"},
                                     hidden_details={"payment_id": "pay-42", "channel": "telegram"},
                                     logos=[{"res": "default", "url": LOGO}])
        adapter = AuthyAuthenticator("k-123", api_uri=url, timeout=2.0, logo_url=LOGO)
        adapter.send_code("1635", HERMIONE, binding("pay-42"))
        adapter.send_push("1635", push_request("pay-42"))
        adapter.close()
    library_sms, library_push, adapter_sms, adapter_push = recorded
    assert adapter_sms.path == library_sms.path == (
        "/protected/json/sms/1635?force=True&action=pay-42&action_message=Pay+Neville+%2420.00")
    assert adapter_push.path == library_push.path == "/onetouch/json/users/1635/approval_requests"
    assert adapter_push.body == library_push.body
    for mine, theirs in ((adapter_sms, library_sms), (adapter_push, library_push)):
        assert mine.method == theirs.method
        for name in ("X-Authy-API-Key", "User-Agent", "Content-Type"):
            assert mine.headers.get(name) == theirs.headers.get(name), name
    assert adapter_sms.headers["X-Authy-API-Key"] == "k-123"
    assert adapter_push.headers["User-Agent"].startswith("AuthyPython/2.2.6")
    assert json.loads(adapter_push.body)["seconds_to_expire"] == 600


# ----------------------------------------------------------------------------- faults


def test_nobody_listening_is_unavailable() -> None:
    with recording_server({}) as (url, _):
        pass  # the port is free again once the server has stopped
    adapter = AuthyAuthenticator("k", api_uri=url, timeout=1.0)
    with pytest.raises(AuthenticatorUnavailable):
        adapter.register("h@example.com", HERMIONE)


def _every_call(authy: AuthyAuthenticator, authy_id: str) -> dict[str, object]:
    return {
        "start_phone_verification": lambda: authy.start_phone_verification(HERMIONE),
        "check_phone_verification": lambda: authy.check_phone_verification(HERMIONE, "123456"),
        "register": lambda: authy.register("h@example.com", HERMIONE),
        "send_push": lambda: authy.send_push(authy_id, push_request()),
        "push_status": lambda: authy.push_status("00000000-0000-0000-0000-000000000000"),
        "send_code": lambda: authy.send_code(authy_id, HERMIONE, binding("pay-1")),
        "check_code": lambda: authy.check_code(authy_id, HERMIONE, binding("pay-1"), "1234567"),
    }


@pytest.mark.parametrize("mode", ["down", "error"])
def test_down_and_error_make_every_call_unavailable(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                    client: AuthyApiClient, people: None, mode: str) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    sandbox.world.set_fault("authy", mode)
    raw = client.users.status(int(authy_id))
    assert raw.response.status_code == (503 if mode == "down" else 500)
    assert raw.errors()["message"] and isinstance(raw.content["error_code"], str)
    for name, call in _every_call(authy, authy_id).items():
        with pytest.raises(AuthenticatorUnavailable):
            call()
            pytest.fail(f"{name} did not raise")


def test_slow_exceeds_the_adapter_deadline_quickly_without_leaking_threads(
        sandbox: RunningSandbox, key: str, api_uri: str, people: None) -> None:
    quick = AuthyAuthenticator(key, api_uri=api_uri, timeout=0.3)
    authy_id = quick.register("hermione@example.com", HERMIONE)
    world = sandbox.world
    with world.lock:
        world.slow_seconds = 5.0
    world.set_fault("authy", "slow")
    before = set(threading.enumerate())
    for name, call in _every_call(quick, authy_id).items():
        started = time.monotonic()
        with pytest.raises(AuthenticatorUnavailable, match="no answer within"):
            call()
        assert time.monotonic() - started < 2.5, f"{name} waited for the stalled server"
    # The deadline runs in the calling thread: nothing new but the sandbox's own request handlers.
    extra = [t for t in set(threading.enumerate()) - before if "process_request" not in t.name]
    assert extra == []
    world.set_fault("authy", "none")
    quick.close()


def test_approve_and_deny_deliver_signed_callbacks(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                   people: None, receiver: CallbackReceiver) -> None:
    key = sandbox.world.keys.authy_api_key
    authy_id = authy.register("hermione@example.com", HERMIONE)
    approve_id = authy.send_push(authy_id, push_request("pay-1"))
    deny_id = authy.send_push(authy_id, push_request("pay-2"))
    decide(sandbox, approve_id, "approve")
    decide(sandbox, deny_id, "deny")
    first, second = receiver.wait_for(2)
    assert first.nonce != second.nonce
    for item, uuid, status, payment in ((first, approve_id, "approved", "pay-1"),
                                        (second, deny_id, "denied", "pay-2")):
        assert item.url == receiver.url and item.method == "POST"
        assert verify_authy_callback(key, item.url, item.method, item.nonce, item.signature, item.json)
        assert parse_authy_callback(item.json) == {"uuid": uuid, "status": status, "payment_id": payment,
                                                  "channel": "telegram", "authy_id": authy_id}
        body = item.json
        assert body["callback_action"] == "approval_request_status" and body["device_uuid"]
        transaction = body["approval_request"]["transaction"]
        assert transaction["details"] == {"Sending to": "Neville", "Amount": "$20.00"}
        assert transaction["status"] == status and transaction["uuid"] != uuid
        assert b'":' in item.raw and b'": ' not in item.raw  # compact JSON on the wire


def test_tampered_or_forged_callbacks_are_rejected(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                   people: None, receiver: CallbackReceiver) -> None:
    key = sandbox.world.keys.authy_api_key
    authy_id = authy.register("hermione@example.com", HERMIONE)
    decide(sandbox, authy.send_push(authy_id, push_request("pay-1")), "deny")
    (item,) = receiver.wait_for(1)
    good = (key, item.url, "POST", item.nonce, item.signature)
    assert verify_authy_callback(*good, item.json)

    tampered = json.loads(item.raw)
    tampered["status"] = "approved"
    tampered["approval_request"]["transaction"]["status"] = "approved"
    assert not verify_authy_callback(*good, tampered)
    moved = json.loads(item.raw)
    moved["approval_request"]["transaction"]["hidden_details"]["payment_id"] = "pay-2"
    assert not verify_authy_callback(*good, moved)
    assert not verify_authy_callback(key, item.url, "POST", item.nonce, "A" * 43 + "=", item.json)
    assert not verify_authy_callback("another-key", item.url, "POST", item.nonce, item.signature, item.json)
    assert not verify_authy_callback(key, item.url.replace("127.0.0.1", "localhost"), "POST", item.nonce,
                                     item.signature, item.json)
    assert not verify_authy_callback(key, item.url, "POST", str(int(float(item.nonce)) + 1), item.signature,
                                     item.json)
    for bad in ((key, item.url, "POST", item.nonce, "", item.json),  # the library raises on these
                (key, item.url, "PUT", item.nonce, item.signature, item.json),
                (key, item.url, "POST", "", item.signature, item.json),
                (key, item.url, "POST", item.nonce, item.signature, {}),
                (key, item.url, "POST", item.nonce, item.signature, ["not", "a", "dict"]),
                (key, item.url, "POST", None, None, None)):
        assert verify_authy_callback(*bad) is False


def test_parse_never_raises_and_blanks_what_is_not_a_decision() -> None:
    for body in (None, [], {}, {"uuid": "u"}, {"uuid": "u", "status": "expired"}, {"uuid": 7, "status": "approved"},
                 {"uuid": "u", "status": {"approved": 1}}):
        decision = parse_authy_callback(body)
        assert decision["uuid"] is None or decision["status"] is None
        assert decision["payment_id"] is None
    odd = parse_authy_callback({"uuid": "u", "status": "approved", "approval_request": "x"})
    assert odd == {"uuid": "u", "status": "approved", "payment_id": None, "channel": None, "authy_id": None}
    console_test = {"uuid": "u", "status": "approved", "authy_id": 1234,
                    "approval_request": {"transaction": {"hidden_details": {}}}}
    assert parse_authy_callback(console_test)["payment_id"] is None


def test_drop_callback_records_the_decision_but_sends_nothing(
        sandbox: RunningSandbox, authy: AuthyAuthenticator, people: None, receiver: CallbackReceiver) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    uuid = authy.send_push(authy_id, push_request())
    sandbox.world.set_fault("authy", "drop-callback")
    decide(sandbox, uuid, "approve")
    assert receiver.wait_for(1, timeout=0.5) == []
    sandbox.world.set_fault("authy", "none")
    assert authy.push_status(uuid) == "approved"  # a lost callback is still visible by polling


def test_duplicate_callback_sends_two_independently_signed_posts(
        sandbox: RunningSandbox, authy: AuthyAuthenticator, people: None, receiver: CallbackReceiver) -> None:
    key = sandbox.world.keys.authy_api_key
    authy_id = authy.register("hermione@example.com", HERMIONE)
    uuid = authy.send_push(authy_id, push_request())
    sandbox.world.set_fault("authy", "duplicate-callback")
    decide(sandbox, uuid, "approve")
    items = receiver.wait_for(2)
    assert len(items) == 2 and items[0].nonce != items[1].nonce
    for item in items:
        assert verify_authy_callback(key, item.url, "POST", item.nonce, item.signature, item.json)
        assert parse_authy_callback(item.json)["uuid"] == uuid


def test_a_stuck_receiver_does_not_hold_the_decision(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                     people: None, receiver: CallbackReceiver) -> None:
    world = sandbox.world
    world.callback_timeout_seconds = 0.3
    receiver.delay = 2.0
    authy_id = authy.register("hermione@example.com", HERMIONE)
    uuid = authy.send_push(authy_id, push_request())
    started = time.monotonic()
    decide(sandbox, uuid, "deny")
    assert time.monotonic() - started < 1.8  # the callback POST gave up at its timeout
    assert authy.push_status(uuid) == "denied"


def test_no_callback_url_configured_is_not_an_error(sandbox: RunningSandbox, authy: AuthyAuthenticator,
                                                    people: None) -> None:
    authy_id = authy.register("hermione@example.com", HERMIONE)
    uuid = authy.send_push(authy_id, push_request())
    decide(sandbox, uuid, "approve")
    assert authy.push_status(uuid) == "approved"

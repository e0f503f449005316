"""The sandbox person's Payfriend app enrols itself in Verify Push from Payfriend's enrolment link.

A tiny stand-in for Payfriend's backend (127.0.0.1, a free port) answers `POST /app/enrol` (`{"token"}`) by
creating a Verify access token through the sandbox's AccessTokens API (HTTP Basic with the account's
keys), as Payfriend does. The bot hands the link over in a Telegram message or an SMS; the person's app
opens it, creates the push factor with the token and verifies it; a challenge on that factor then shows
in the person's authenticator.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from sandbox.push_app import enrolment_link
from sandbox.twilio_verify import install_push_app
from sandbox.server import RunningSandbox, start_sandbox
from sandbox.world import World

PHONE, OTHER = "+15005550100", "+15005550101"
IDENTITY, OTHER_IDENTITY = "user-00000001", "user-00000002"
WAIT = 8.0  # seconds a background enrolment may take here


# ----------------------------------------------------------------------------- Payfriend's side


@dataclass
class Link:
    """One enrolment link Payfriend handed out."""

    identity: str
    friendly_name: str = "Hermione's phone"
    used: bool = False


@dataclass
class FakePayfriend:
    """Payfriend's /app/enrol endpoint, backed by the sandbox's real AccessTokens API."""

    sandbox: RunningSandbox
    links: dict[str, Link] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    issued: list[dict[str, Any]] = field(default_factory=list)  # the AccessTokens answers
    # Hooks to misbehave: change the answer before it goes out; run something after the token was made.
    tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    after_token: Callable[[], None] | None = None
    port: int = 0

    def link(self, identity: str = IDENTITY, friendly_name: str = "Hermione's phone") -> str:
        token = secrets.token_urlsafe(24)
        self.links[token] = Link(identity, friendly_name)
        return f"http://127.0.0.1:{self.port}/app/enrol#{token}"

    def enrol(self, token: str) -> tuple[int, dict[str, Any]]:
        link = self.links.get(token)
        if link is None:
            return 404, {"error": "This set-up link is not known"}
        if link.used:
            return 410, {"error": "This set-up link was already used"}
        keys = self.sandbox.world.keys
        answer = requests.post(f"{self.sandbox.url}/twilio/verify/v2/Services/{keys.verify_service_sid}/AccessTokens",
                               auth=(keys.twilio_account_sid, keys.twilio_auth_token), timeout=5,
                               data={"Identity": link.identity, "FactorType": "push",
                                     "FactorFriendlyName": link.friendly_name, "Ttl": "120"})
        if answer.status_code != 201:
            return 502, {"error": f"Verify answered {answer.status_code}"}
        created = answer.json()
        self.issued.append(created)
        link.used = True
        if self.after_token:
            self.after_token()
        body = {"identity": created["entity_identity"], "service_sid": created["service_sid"],
                "access_token": created["token"], "factor_friendly_name": created["factor_friendly_name"]}
        return 200, self.tamper(body) if self.tamper else body


@pytest.fixture
def payfriend(sandbox) -> Iterator[FakePayfriend]:
    """Payfriend's enrolment endpoint on 127.0.0.1, for the `sandbox` fixture; stopped after the test."""
    yield from _serve(FakePayfriend(sandbox))


def _serve(fake: FakePayfriend) -> Iterator[FakePayfriend]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fake.received.append({"path": self.path, "body": raw.decode(),
                                  "content_type": self.headers.get("Content-Type", "")})
            try:
                token = json.loads(raw or b"{}").get("token")
            except (ValueError, AttributeError):
                token = None
            found = self.path == "/app/enrol" and isinstance(token, str)
            status, body = fake.enrol(token) if found else (404, {"error": "no such page"})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- the person's side


def control(sandbox, method: str, path: str, expect: int = 200, **kwargs) -> Any:
    response = requests.request(method, f"{sandbox.url}/api{path}", timeout=10, **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


def add_person(sandbox, phone: str = PHONE, name: str = "Hermione", start: bool = True) -> dict[str, Any]:
    person = control(sandbox, "POST", "/people", expect=201, json={"phone": phone, "name": name})
    if start:
        control(sandbox, "POST", "/telegram/send", expect=201, json={"phone": phone, "text": "/start"})
    return person


def person_json(sandbox, phone: str = PHONE) -> dict[str, Any]:
    return next(p for p in control(sandbox, "GET", "/people") if p["phone"] == phone)


def bot_sends(sandbox, person: dict[str, Any], text: str, **extra: Any) -> None:
    answer = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/sendMessage",
                           json={"chat_id": person["chat_id"], "text": text, **extra}, timeout=5)
    assert answer.status_code == 200, answer.text


def sms_from_payfriend(sandbox, to: str, text: str) -> None:
    keys = sandbox.world.keys
    answer = requests.post(f"{sandbox.url}/twilio/api/2010-04-01/Accounts/{keys.twilio_account_sid}/Messages.json",
                           auth=(keys.twilio_account_sid, keys.twilio_auth_token), timeout=5,
                           data={"To": to, "From": keys.twilio_phone_number, "Body": text})
    assert answer.status_code == 201, answer.text


def verify(sandbox, method: str, path: str, **kwargs) -> requests.Response:
    """A Verify v2 call on the account's service, as Payfriend makes it."""
    keys = sandbox.world.keys
    return requests.request(method, f"{sandbox.url}/twilio/verify/v2/Services/{keys.verify_service_sid}{path}",
                            auth=(keys.twilio_account_sid, keys.twilio_auth_token), timeout=5, **kwargs)


def factors(sandbox, identity: str = IDENTITY) -> list[dict[str, Any]]:
    """The entity's factors ([] while the entity does not exist)."""
    answer = verify(sandbox, "GET", f"/Entities/{identity}/Factors")
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, answer.text
    return answer.json()["factors"]


def challenge(sandbox, factor_sid: str, identity: str = IDENTITY) -> requests.Response:
    return verify(sandbox, "POST", f"/Entities/{identity}/Challenges",
                  data={"FactorSid": factor_sid, "Details.Message": "Approve $20.00 to Neville?",
                        "Details.Fields": json.dumps({"label": "Amount", "value": "$20.00"})})


def pending(sandbox, phone: str = PHONE) -> list[dict[str, Any]]:
    return control(sandbox, "GET", "/authenticator/pending", params={"phone": phone})


def wait_for_status(sandbox, phone: str = PHONE, not_: tuple[Any, ...] = (None, "linking")) -> str:
    """The person's app status once an attempt has ended."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status = person_json(sandbox, phone)["app_last_link_status"]
        if status not in not_:
            return status
        time.sleep(0.02)
    raise AssertionError(f"the app of {phone} is still {status!r} after {WAIT} s")


def switch(sandbox, installed: bool, phone: str = PHONE, expect: int = 200) -> dict[str, Any]:
    return control(sandbox, "POST", "/verify/app", expect=expect, json={"phone": phone, "installed": installed})


# ----------------------------------------------------------------------------- the whole path


def test_a_bot_message_with_the_link_enrols_the_app_and_its_pushes_reach_the_phone(sandbox, payfriend,
                                                                                   twilio_specs_if_present):
    person = add_person(sandbox)
    assert person["app_installed"] is True and person["app_last_link_status"] is None
    link = payfriend.link()
    bot_sends(sandbox, person, f"Tap to set up the Payfriend app: {link}. It works once.")

    assert wait_for_status(sandbox) == "linked"
    token = link.rsplit("#", 1)[1]
    assert [(r["path"], json.loads(r["body"]), r["content_type"]) for r in payfriend.received] == [
        ("/app/enrol", {"token": token}, "application/json")]  # the token in the body, never in the path
    [factor] = factors(sandbox)
    assert (factor["status"], factor["factor_type"]) == ("verified", "push")
    assert factor["friendly_name"] == "Hermione's phone"
    assert factor["config"]["notification_platform"] == "none" and factor["config"]["app_id"]
    stored = sandbox.world.stand_ins["twilio"].factors[factor["sid"]]
    assert stored["binding"]["alg"] == "ES256" and stored["phone"] == PHONE
    token = verify(sandbox, "GET", f"/AccessTokens/{payfriend.issued[0]['sid']}").json()
    assert token == payfriend.issued[0] and token["entity_identity"] == IDENTITY

    created = challenge(sandbox, factor["sid"])
    assert created.status_code == 201, created.text
    [push] = pending(sandbox)
    assert (push["id"], push["provider"], push["details"]) == (created.json()["sid"], "verify", {"Amount": "$20.00"})
    assert pending(sandbox, OTHER) == []

    if twilio_specs_if_present is not None:  # the AccessTokens calls match Twilio's OpenAPI spec
        logged = requests.get(f"{sandbox.url}/twilio/_sandbox/requests", timeout=5).json()
        calls = [e for e in logged if "/AccessTokens" in e["path"]]
        assert [c["method"] for c in calls] == ["POST", "GET"]
        assert [p for c in calls for p in twilio_specs_if_present.problems(c)] == []


def test_an_sms_from_payfriend_with_the_link_enrols_and_a_new_link_replaces_the_factor(sandbox, payfriend):
    add_person(sandbox, start=False)  # no Telegram chat: the link comes by SMS
    sms_from_payfriend(sandbox, PHONE, f"Payfriend: set up your app with {payfriend.link()}")
    assert wait_for_status(sandbox) == "linked"
    [first] = factors(sandbox)
    assert challenge(sandbox, first["sid"]).status_code == 201
    assert len(pending(sandbox)) == 1

    sms_from_payfriend(sandbox, PHONE, f"Your new set-up link: {payfriend.link(friendly_name='New phone')}")
    deadline = time.monotonic() + WAIT
    while len(payfriend.issued) < 2 or person_json(sandbox)["app_last_link_status"] != "linked":
        assert time.monotonic() < deadline, person_json(sandbox)
        time.sleep(0.02)
    [second] = factors(sandbox)  # one push factor per entity on this phone: the old one is gone
    assert second["sid"] != first["sid"] and second["friendly_name"] == "New phone"
    assert verify(sandbox, "GET", f"/Entities/{IDENTITY}/Factors/{first['sid']}").status_code == 404
    assert pending(sandbox) == []  # the push on the old factor left the authenticator


def test_only_enrolment_links_are_opened(sandbox, payfriend):
    person = add_person(sandbox)
    control(sandbox, "POST", "/telegram/limits", json={"per_chat_per_second": None, "global_per_second": None})
    good = payfriend.link()
    token = good.rsplit("#", 1)[1]
    base = f"http://127.0.0.1:{payfriend.port}"
    for text in (f"{base}/app/enrol#short", f"{base}/app/enrol#{'x' * 129}", f"{base}/app/other#{token}",
                 f"127.0.0.1:{payfriend.port}/app/enrol#{token}", f"ftp://127.0.0.1/app/enrol#{token}",
                 f"{base}/app/enrol/more#{token}", f"{base}/app/enrol/{token}", "Pay Neville $20?"):
        bot_sends(sandbox, person, text)
        sms_from_payfriend(sandbox, PHONE, text)
    assert sandbox.world.people[PHONE].app_link is None
    assert person_json(sandbox)["app_last_link_status"] is None

    assert enrolment_link(f"Open ({good}), then come back.") == good
    assert enrolment_link(f"first {base}/app/enrol#{'a' * 16} then {good}!") == good
    assert enrolment_link(f"HTTPS://payfriend.example/app/enrol?ref=sms#{token}") == \
        f"HTTPS://payfriend.example/app/enrol?ref=sms#{token}"
    bot_sends(sandbox, person, f'<b>Set up</b> <a href="{good}">the app</a>', parse_mode="HTML")
    assert wait_for_status(sandbox) == "linked"
    assert sandbox.world.people[PHONE].app_link == good


def test_a_link_in_an_inline_button_is_opened(sandbox, payfriend):
    person = add_person(sandbox)
    link = payfriend.link()
    bot_sends(sandbox, person, "Set up the Payfriend app:",
              reply_markup={"inline_keyboard": [[{"text": "Set up", "url": link}]]})
    assert wait_for_status(sandbox) == "linked"
    assert len(factors(sandbox)) == 1


# ----------------------------------------------------------------------------- the switch


def test_removing_the_app_drops_its_factors_and_pushes_and_installing_it_opens_the_last_link(sandbox, payfriend):
    person = add_person(sandbox)
    add_person(sandbox, OTHER, "Neville")
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    assert wait_for_status(sandbox) == "linked"
    [factor] = factors(sandbox)
    assert challenge(sandbox, factor["sid"]).status_code == 201
    install_push_app(sandbox.world.stand_ins["twilio"], OTHER, OTHER_IDENTITY)  # Neville's app stays

    assert switch(sandbox, False) == {"phone": PHONE, "installed": False, "last_link_status": None}
    assert person_json(sandbox)["app_installed"] is False
    assert factors(sandbox) == [] and pending(sandbox) == []
    again = challenge(sandbox, factor["sid"])
    assert (again.status_code, again.json()["code"]) == (404, 20404)
    assert len(factors(sandbox, OTHER_IDENTITY)) == 1 and person_json(sandbox, OTHER)["app_installed"] is True

    later = payfriend.link(friendly_name="Reinstalled")
    bot_sends(sandbox, person, f"Set up: {later}")  # no app: nothing opens it, the phone keeps it
    time.sleep(0.3)
    assert len(payfriend.received) == 1 and factors(sandbox) == []
    assert person_json(sandbox)["app_last_link_status"] is None

    answer = switch(sandbox, True)
    assert answer["installed"] is True and answer["last_link_status"] in ("linking", "linked")
    assert wait_for_status(sandbox) == "linked"
    assert json.loads(payfriend.received[-1]["body"]) == {"token": later.rsplit("#", 1)[1]}
    [back] = factors(sandbox)
    assert back["friendly_name"] == "Reinstalled" and back["status"] == "verified"
    assert challenge(sandbox, back["sid"]).status_code == 201 and len(pending(sandbox)) == 1


def test_the_switch_api(sandbox, payfriend):
    add_person(sandbox)
    assert control(sandbox, "GET", "/verify/app", params={"phone": PHONE}) == {
        "phone": PHONE, "installed": True, "last_link_status": None}
    assert switch(sandbox, False)["installed"] is False
    assert switch(sandbox, True) == {"phone": PHONE, "installed": True, "last_link_status": None}  # no link yet
    assert payfriend.received == []
    switch(sandbox, True, phone="+19999999999", expect=404)
    control(sandbox, "GET", "/verify/app", expect=404, params={"phone": "+19999999999"})
    control(sandbox, "POST", "/verify/app", expect=400, json={"phone": PHONE, "installed": "no"})
    control(sandbox, "POST", "/verify/app", expect=400, json={"installed": False})
    assert person_json(sandbox)["app_installed"] is True
    switch(sandbox, False)
    shortcut = requests.post(f"{sandbox.url}/twilio/_sandbox/push-factor", timeout=5,
                             json={"phone": PHONE, "identity": IDENTITY})
    assert shortcut.status_code == 201, shortcut.text
    assert person_json(sandbox)["app_installed"] is True  # the test shortcut installs the app too
    assert [f["status"] for f in factors(sandbox)] == ["verified"]


# ----------------------------------------------------------------------------- what goes wrong


def test_a_used_access_token_is_refused(sandbox, payfriend):
    person = add_person(sandbox)
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    assert wait_for_status(sandbox) == "linked"
    [factor] = factors(sandbox)
    replayed = payfriend.issued[0]["token"]
    payfriend.tamper = lambda body: {**body, "access_token": replayed}
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    status = wait_for_status(sandbox, not_=(None, "linking", "linked"))
    assert status == "Verify refused the enrolment: the access token was already used"
    assert factors(sandbox) == [factor]  # the first factor stays, no second one


def test_an_expired_access_token_is_refused(sandbox_factory):
    now = [time.time()]
    running = sandbox_factory(World(clock=lambda: now[0]))
    for fake in _serve(FakePayfriend(running)):
        fake.after_token = lambda: now.__setitem__(0, now[0] + 121)  # Payfriend took longer than the Ttl
        bot_sends(running, add_person(running), f"Set up: {fake.link()}")
        status = wait_for_status(running, not_=(None, "linking", "linked"))
        assert status == "Verify refused the enrolment: the access token has expired"
        assert factors(running) == []
        fake.after_token = lambda: now.__setitem__(0, now[0] + 119)  # within the Ttl: accepted
        bot_sends(running, person_json(running), f"Set up: {fake.link()}")
        assert wait_for_status(running, not_=(None, "linking") + (status,)) == "linked"


@pytest.mark.parametrize("tamper, expected", [
    (lambda body: {**body, "identity": OTHER_IDENTITY},
     "Verify refused the enrolment: the access token is for another identity"),
    (lambda body: {**body, "service_sid": "VA" + "f" * 32},
     "Verify refused the enrolment: the access token is for another service"),
    (lambda body: {**body, "access_token": "not-a-token"}, "Verify refused the enrolment: unknown access token"),
    (lambda body: {"identity": body["identity"]}, "Payfriend's answer lacks identity, service_sid or access_token"),
])
def test_a_wrong_answer_from_payfriend_enrols_nothing(sandbox, payfriend, tamper, expected):
    person = add_person(sandbox)
    payfriend.tamper = tamper
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    assert wait_for_status(sandbox) == expected
    assert factors(sandbox) == [] and factors(sandbox, OTHER_IDENTITY) == []
    assert verify(sandbox, "GET", f"/AccessTokens/{payfriend.issued[0]['sid']}").status_code == 200


def test_payfriend_refusing_or_unreachable_shows_on_the_phone(sandbox, payfriend):
    person = add_person(sandbox)
    link = payfriend.link()
    bot_sends(sandbox, person, f"Set up: {link}")
    assert wait_for_status(sandbox) == "linked"
    bot_sends(sandbox, person, f"Set up again: {link}")  # Payfriend's link works once
    assert wait_for_status(sandbox, not_=(None, "linking", "linked")) == "This set-up link was already used"
    assert len(factors(sandbox)) == 1  # the working factor is untouched

    with socket_closed() as port:
        bot_sends(sandbox, person, f"Set up: http://127.0.0.1:{port}/app/enrol#{'a' * 32}")
        status = wait_for_status(sandbox, not_=(None, "linking", "This set-up link was already used"))
    assert status.startswith("Could not reach Payfriend")


class socket_closed:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        pass


def test_verify_down_keeps_the_app_from_registering(sandbox, payfriend):
    person = add_person(sandbox)
    payfriend.after_token = lambda: requests.post(f"{sandbox.url}/api/faults", timeout=5,
                                                  json={"service": "verify", "mode": "down"})
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    assert wait_for_status(sandbox) == "Verify is unavailable; the app could not register"
    control(sandbox, "POST", "/faults", json={"service": "verify", "mode": "none"})
    assert factors(sandbox) == []


# ----------------------------------------------------------------------------- the AccessTokens API


def test_access_tokens_create_fetch_and_validation(sandbox, twilio_specs_if_present):
    keys = sandbox.world.keys
    made = verify(sandbox, "POST", "/AccessTokens", data={"Identity": IDENTITY, "FactorType": "push"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"sid", "account_sid", "service_sid", "entity_identity", "factor_type",
                         "factor_friendly_name", "token", "url", "ttl", "date_created"}
    assert re.fullmatch(r"YK[0-9a-f]{32}", body["sid"])
    assert (body["account_sid"], body["service_sid"], body["entity_identity"], body["factor_type"],
            body["factor_friendly_name"], body["ttl"]) == (keys.twilio_account_sid, keys.verify_service_sid,
                                                           IDENTITY, "push", None, 60)
    assert body["url"] == f"https://verify.twilio.com/v2/Services/{keys.verify_service_sid}/AccessTokens/{body['sid']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["date_created"]) and len(body["token"]) >= 32
    longest = verify(sandbox, "POST", "/AccessTokens",
                     data={"Identity": IDENTITY, "FactorType": "push", "Ttl": "300", "FactorFriendlyName": "Phone"})
    assert (longest.status_code, longest.json()["ttl"], longest.json()["factor_friendly_name"]) == (201, 300, "Phone")
    assert longest.json()["token"] != body["token"]
    assert verify(sandbox, "GET", f"/AccessTokens/{body['sid']}").json() == body

    def refused(data: dict[str, str], parameter: str) -> None:
        answer = verify(sandbox, "POST", "/AccessTokens", data=data)
        assert answer.status_code == 400, (data, answer.text)
        assert (answer.json()["code"], answer.json()["message"]) == (60200, f"Invalid parameter: {parameter}")

    refused({"FactorType": "push"}, "Identity")
    refused({"Identity": "short", "FactorType": "push"}, "Identity")
    refused({"Identity": IDENTITY}, "FactorType")
    refused({"Identity": IDENTITY, "FactorType": "totp"}, "FactorType")
    for ttl in ("59", "301", "abc", "60.5"):
        refused({"Identity": IDENTITY, "FactorType": "push", "Ttl": ttl}, "Ttl")
    refused({"Identity": IDENTITY, "FactorType": "push", "FactorFriendlyName": "x" * 65}, "FactorFriendlyName")

    other = "VA" + "e" * 32
    unknown = requests.post(f"{sandbox.url}/twilio/verify/v2/Services/{other}/AccessTokens", timeout=5,
                            auth=(keys.twilio_account_sid, keys.twilio_auth_token),
                            data={"Identity": IDENTITY, "FactorType": "push"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)
    missing = verify(sandbox, "GET", "/AccessTokens/YK" + "0" * 32)
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)
    no_auth = requests.post(f"{sandbox.url}/twilio/verify/v2/Services/{keys.verify_service_sid}/AccessTokens",
                            data={"Identity": IDENTITY, "FactorType": "push"}, timeout=5)
    assert (no_auth.status_code, no_auth.json()["code"]) == (401, 20003)

    if twilio_specs_if_present is not None:  # the good calls and answers match Twilio's OpenAPI spec
        logged = requests.get(f"{sandbox.url}/twilio/_sandbox/requests", timeout=5).json()
        good = [e for e in logged if e["status"] in (200, 201)]
        assert len(good) == 3
        assert [p for e in good for p in twilio_specs_if_present.problems(e)] == []


def test_the_twilio_client_creates_and_fetches_access_tokens(sandbox):
    from bot.adapters.twilio_client import make_twilio_client

    keys = sandbox.world.keys
    service = make_twilio_client(keys.twilio_account_sid, keys.twilio_auth_token,
                                 base_url=sandbox.url).verify.v2.services(keys.verify_service_sid)
    made = service.access_tokens.create(identity=IDENTITY, factor_type="push", factor_friendly_name="Phone", ttl=90)
    assert made.sid.startswith("YK") and made.ttl == 90 and made.entity_identity == IDENTITY and made.token
    assert service.access_tokens(made.sid).fetch().token == made.token


# ----------------------------------------------------------------------------- across runs and resets


def test_the_switch_the_last_link_and_tokens_survive_a_restart(tmp_path):
    path = tmp_path / "sandbox.json"
    with start_sandbox(state_file=path) as first:
        fake = FakePayfriend(first)
        served = _serve(fake)
        next(served)
        person = add_person(first)
        switch(first, False)
        link = fake.link()
        bot_sends(first, person, f"Set up: {link}")
        token = verify(first, "POST", "/AccessTokens", data={"Identity": IDENTITY, "FactorType": "push"}).json()
    try:
        saved = json.loads(path.read_text())
        [saved_person] = saved["people"]
        assert (saved_person["app_installed"], saved_person["app_link"]) == (False, link)
        assert token["sid"] in saved["stand_ins"]["twilio"]["access_tokens"]

        with start_sandbox(state_file=path) as second:
            fake.sandbox = second
            assert person_json(second)["app_installed"] is False
            assert verify(second, "GET", f"/AccessTokens/{token['sid']}").json()["token"] == token["token"]
            assert factors(second) == [] and fake.received == []
            assert switch(second, True)["installed"] is True
            assert wait_for_status(second) == "linked"  # the link seen before the restart
            assert [f["status"] for f in factors(second)] == ["verified"]
    finally:
        served.close()


def test_an_old_state_file_without_the_switch_loads_it_on(tmp_path):
    path = tmp_path / "sandbox.json"
    with start_sandbox(state_file=path) as first:
        add_person(first)
        switch(first, False)
    saved = json.loads(path.read_text())
    for person in saved["people"]:
        for key in ("app_installed", "app_link", "app_link_status"):
            person.pop(key)
    saved["stand_ins"]["twilio"].pop("access_tokens")
    path.write_text(json.dumps(saved))
    with start_sandbox(state_file=path) as second:
        assert person_json(second)["app_installed"] is True
        assert control(second, "GET", "/verify/app", params={"phone": PHONE})["installed"] is True


def test_an_attempt_cut_short_by_a_restart_does_not_stay_linking(sandbox_factory):
    first = sandbox_factory()
    add_person(first)
    with first.world.lock:
        first.world.people[PHONE].app_link_status = "linking"
        snapshot = json.loads(json.dumps(first.world.snapshot()))
    second = sandbox_factory()
    second.world.restore(snapshot)
    assert person_json(second)["app_last_link_status"] == "Interrupted: the sandbox stopped while setting up"


def test_reset_forgets_the_app_and_the_tokens(sandbox, payfriend):
    person = add_person(sandbox)
    bot_sends(sandbox, person, f"Set up: {payfriend.link()}")
    assert wait_for_status(sandbox) == "linked"
    switch(sandbox, False)
    control(sandbox, "POST", "/reset")
    again = add_person(sandbox)
    assert (again["app_installed"], again["app_last_link_status"]) == (True, None)
    assert sandbox.world.people[PHONE].app_link is None
    assert verify(sandbox, "GET", f"/AccessTokens/{payfriend.issued[0]['sid']}").status_code == 404

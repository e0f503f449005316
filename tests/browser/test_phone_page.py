"""The sandbox phone page in headless Chromium (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from sandbox.world import Approval
from tests.browser.chromium import ARTIFACTS, CHROMIUM, expect, sync_api

pytestmark = pytest.mark.browser

PHONE = "+15005550177"


@pytest.fixture
def page(sandbox) -> Iterator["sync_api.Page"]:
    """A fresh headless Chromium page on the sandbox's phone page."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(10_000)
            page.goto(sandbox.url + "/")
            yield page
        finally:
            browser.close()


def bot_send(sandbox, chat_id: int, text: str, reply_markup: dict | None = None) -> dict:
    """The bot writes to a chat over the Bot API."""
    body = {"chat_id": chat_id, "text": text, **({"reply_markup": reply_markup} if reply_markup else {})}
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/sendMessage", json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_write_to_the_bot_and_approve_a_payment(sandbox, page):
    # Add a person through the page; they become the selected one.
    page.get_by_test_id("new-name").fill("Hermione Granger")
    page.get_by_test_id("new-phone").fill(PHONE)
    page.get_by_test_id("add-person").click()
    expect(page.get_by_test_id("person-select")).to_have_value(PHONE)
    person = sandbox.world.people[PHONE]

    # Start the bot and write to it.
    page.get_by_test_id("start-bot").click()
    page.get_by_test_id("chat-input").fill("send $20 to Neville")
    page.get_by_test_id("chat-send").click()
    expect(page.locator("[data-testid=chat-message][data-from=person]")).to_have_count(2)
    with sandbox.world.lock:
        texts = [u["message"]["text"] for u in sandbox.world.telegram.updates if "message" in u]
    assert texts == ["/start", "send $20 to Neville"]

    # The bot answers with a button; it shows up live and pressing it makes a callback query.
    bot_send(sandbox, person.telegram_user_id, "Approve $20.00 to Neville in your authenticator app.",
             {"inline_keyboard": [[{"text": "Cancel payment", "callback_data": "pay:1:cancel"}]]})
    button = page.locator("[data-testid=inline-button][data-callback='pay:1:cancel']")
    expect(button).to_be_visible()
    button.click()
    _wait_for(lambda: any("callback_query" in u for u in sandbox.world.telegram.updates))

    # A pending authenticator request with payee and amount; approve it on the page.
    decisions = []
    sandbox.world.on_decision["authy"] = lambda a: decisions.append((a.id, a.status))
    now = sandbox.world.clock()
    approval = sandbox.world.add_approval(Approval(
        id=uuid.uuid4().hex, provider="authy", phone=PHONE, message="Payfriend: approve your payment",
        details={"Payee": "Neville Longbottom", "Amount": "$20.00"}, hidden_details={"payment_id": "p-1"},
        created_at=now, expires_at=now + 120))
    card = page.locator(f"[data-testid=approval][data-id='{approval.id}']")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("detail-payee")).to_have_text("Neville Longbottom")
    expect(card.get_by_test_id("detail-amount")).to_have_text("$20.00")
    expect(card).not_to_contain_text("p-1")  # hidden details stay hidden
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the card's entrance animation finish
    page.screenshot(path=str(ARTIFACTS / "phone_page_pending.png"), full_page=True)
    card.get_by_test_id("approve").click()

    done = page.locator(f"[data-testid=approval-done][data-id='{approval.id}']")
    expect(done.get_by_test_id("approval-status")).to_have_text("approved")
    expect(card).to_have_count(0)
    assert approval.status == "approved"
    assert decisions == [(approval.id, "approved")]
    page.screenshot(path=str(ARTIFACTS / "phone_page.png"), full_page=True)


def test_reply_keyboard_contact_and_sms(sandbox, page):
    sandbox.world.add_person(PHONE, "Ron Weasley")
    sandbox.world.add_person("+15005550178", "Luna Lovegood")
    select = page.get_by_test_id("person-select")
    expect(select.locator("option")).to_have_count(2)
    select.select_option(PHONE)

    page.get_by_test_id("start-bot").click()
    _wait_for(lambda: sandbox.world.people[PHONE].started_bot)
    bot_send(sandbox, sandbox.world.people[PHONE].telegram_user_id, "Share your number to link SMS",
             {"keyboard": [[{"text": "Share my number", "request_contact": True}]], "one_time_keyboard": True})
    page.get_by_test_id("reply-button").filter(has_text="Share my number").click()
    expect(page.get_by_test_id("reply-button")).to_have_count(0)  # one-time keyboard is gone
    contact = next(u["message"]["contact"] for u in sandbox.world.telegram.updates
                   if "contact" in u.get("message", {}))
    assert contact["user_id"] == sandbox.world.people[PHONE].telegram_user_id

    forwarded = []
    sandbox.world.on_person_sms = forwarded.append
    page.get_by_test_id("sms-input").fill("send $5 to Luna")
    page.get_by_test_id("sms-send").click()
    sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, "Your Payfriend code: 123456")
    expect(page.get_by_test_id("sms-message")).to_have_count(2)
    expect(page.locator("[data-testid=sms-message][data-direction=inbound]")).to_contain_text("123456")
    assert [s.body for s in forwarded] == ["send $5 to Luna"]

    # Another person's phone shows their own (empty) apps.
    select.select_option("+15005550178")
    expect(page.get_by_test_id("sms-message")).to_have_count(0)
    expect(page.get_by_test_id("chat-message")).to_have_count(0)


def _wait_for(predicate, timeout: float = 10.0) -> None:
    """Poll a condition on the in-process world."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)

"""A whole payment on the phone page, clicked through like a person would, with Payfriend running.

Register (/start, share the phone number, type the SMS code, give an email), send money, confirm,
approve the push in the authenticator app and read the result in the chat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.chromium import ARTIFACTS, CHROMIUM, WAIT, expect, sync_api

pytestmark = pytest.mark.browser

PHONE = "+15005550188"


@pytest.fixture
def page(sandbox, start_payfriend) -> Iterator["sync_api.Page"]:
    """The phone page in headless Chromium, with Payfriend running against the same sandbox.

    The push gets a long fallback window: a person on the page has time to open the app.
    """
    start_payfriend(fallback_seconds=60, payment_expiry_seconds=120)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT)
            expect.set_options(timeout=WAIT)
            page.goto(sandbox.url + "/")
            yield page
        finally:
            expect.set_options(timeout=None)  # back to Playwright's default for other tests
            browser.close()


def shot(page, name: str) -> None:
    """Save a screenshot of the whole page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"full_payment_{name}.png"), full_page=True, animations="disabled")


def say(page, text: str) -> None:
    """Type a message into the chat and send it."""
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("chat-input")).to_have_value("")  # the page took it


def last_bot_message(page):
    """The newest message from the bot (re-evaluated on every check)."""
    return page.locator("[data-testid=chat-message][data-from=bot]").last


def test_register_send_approve_and_see_the_result(page):
    # A new person on the phone page.
    page.get_by_test_id("new-name").fill("Hermione")
    page.get_by_test_id("new-phone").fill(PHONE)
    page.get_by_test_id("add-person").click()
    expect(page.get_by_test_id("person-select")).to_have_value(PHONE)

    # Register: /start, share the number, type the code from the SMS inbox, give an email.
    say(page, "/start")
    share = page.get_by_test_id("reply-button").filter(has_text="Share my phone number")
    expect(share).to_be_visible()
    shot(page, "1_welcome")
    share.click()
    expect(last_bot_message(page)).to_contain_text("We sent a code by SMS")
    sms = page.locator("[data-testid=sms-message][data-direction=inbound]").filter(has_text="code").last
    expect(sms).to_contain_text(re.compile(r"\d{4,10}"))
    shot(page, "2_sms_code")
    code = re.search(r"\b\d{4,10}\b", sms.inner_text()).group()
    say(page, code)
    expect(last_bot_message(page)).to_contain_text("What is your email address?")
    say(page, "hermione@example.com")
    expect(last_bot_message(page)).to_contain_text("You're all set")
    shot(page, "3_registered")

    # Send money and confirm it in the chat.
    say(page, "send $20 to Neville")
    question = page.locator("[data-testid=chat-message][data-from=bot]").filter(has_text="Send $20.00 to Neville?")
    expect(question).to_have_count(1)
    question.get_by_test_id("inline-button").filter(has_text="Confirm").click()
    expect(last_bot_message(page)).to_contain_text("Approve $20.00 to Neville in your Authy app")

    # The authenticator app shows who gets how much; approve it there.
    card = page.get_by_test_id("approval")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("approval-payee")).to_have_text("Neville")
    expect(card.get_by_test_id("approval-amount")).to_have_text("$20.00")
    expect(card).not_to_contain_text("pay_")  # the hidden payment id stays hidden
    shot(page, "4_approval")
    card.get_by_test_id("approve").click()

    # The chat tells the result.
    expect(last_bot_message(page)).to_contain_text("Sent: $20.00 to Neville \u2713")
    expect(page.get_by_test_id("approval")).to_have_count(0)
    expect(page.get_by_test_id("approval-done").first.get_by_test_id("approval-status")).to_have_text("approved")
    shot(page, "5_done")

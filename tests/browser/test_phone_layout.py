"""The phone page as a phone (390×844) and on a desktop (1280×800).

Below 700 px the three apps are tabs with unread badges, and a banner says when a push or an SMS
arrives out of sight; wider, they stand side by side. At every width: nothing scrolls sideways, the
bot's typing shows, a pending push counts down in minutes and seconds, so does the wait for the SMS
fallback under the message announcing it, Telegram's Change Number moves the chat to another number,
and axe-core finds no serious or critical accessibility problem.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from sandbox.world import Approval
from tests.browser.chromium import ARTIFACTS, CHROMIUM, WAIT, expect, sync_api

pytestmark = pytest.mark.browser

PHONE = "+15005550199"
PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1280, "height": 800}
SIZES = [pytest.param(PHONE_SIZE, id="390x844"), pytest.param(DESKTOP_SIZE, id="1280x800")]
COUNTDOWN = re.compile(r"^expires in \d{1,2}:[0-5]\d$")
FALLBACK_COUNTDOWN = re.compile(r"^SMS code in 0:\d\d$")
FALLBACK_SECONDS = 50  # Payfriend's wait for a push decision before it texts a code: under a minute
# Payfriend's message when a push goes out: curly quotes on Telegram, straight ones by SMS.
APPROVE = ("Approve $20.00 to Neville in your Authy app. It shows the word \u201cotter\u201d. "
           "No decision within 15 seconds and we'll text you a code instead.")
APPROVE_SMS = APPROVE.replace("\u201c", '"').replace("\u201d", '"')


@pytest.fixture
def chromium() -> Iterator["sync_api.Browser"]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        expect.set_options(timeout=WAIT)
        try:
            yield browser
        finally:
            expect.set_options(timeout=None)  # back to Playwright's default for other tests
            browser.close()


def open_page(chromium, sandbox, size: dict) -> "sync_api.Page":
    page = chromium.new_page(viewport=size)
    page.set_default_timeout(WAIT)
    page.goto(sandbox.url + "/")
    return page


def shot(page, name: str) -> None:
    """Save what the screen shows as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(ARTIFACTS / f"phone_layout_{width}_{name}.png"), animations="disabled")


def assert_no_sideways_scroll(page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"


def say(page, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("chat-input")).to_have_value("")


def last_bot_message(page):
    return page.locator("[data-testid=chat-message][data-from=bot]").last


def open_tab(page, tab: str) -> None:
    page.get_by_test_id("tab-" + tab).click()
    expect(page.get_by_test_id("tab-" + tab)).to_have_attribute("aria-selected", "true")


def bot_api(sandbox, method: str, **body) -> dict:
    r = requests.post(f"{sandbox.url}/bot{sandbox.world.keys.telegram_token}/{method}", json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def set_fault(sandbox, service: str, mode: str, **extra) -> None:
    r = requests.post(f"{sandbox.url}/api/faults", json={"service": service, "mode": mode, **extra}, timeout=5)
    assert r.status_code == 200, r.text


def countdown_seconds(countdown) -> int:
    """"SMS code in 0:42" -> 42."""
    minutes, seconds = re.fullmatch(r"SMS code in (\d+):(\d\d)", countdown.inner_text()).groups()
    return int(minutes) * 60 + int(seconds)


def add_push(sandbox, seconds: float, payee: str = "Neville Longbottom") -> Approval:
    now = sandbox.world.clock()
    return sandbox.world.add_approval(Approval(
        id=uuid.uuid4().hex, provider="authy", phone=PHONE, message="Payfriend: approve your payment",
        details={"Payee": payee, "Amount": "$20.00"}, hidden_details={"payment_id": "p-1"},
        created_at=now, expires_at=now + seconds))


# -- a whole payment, with Payfriend running ----------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
def test_a_whole_payment(sandbox, start_payfriend, chromium, size):
    # Payfriend waits up to 10 s on an HTTP answer: a slow Authy (3 s, below) is slow, not down.
    start_payfriend(fallback_seconds=FALLBACK_SECONDS, payment_expiry_seconds=120, http_timeout_seconds=10)
    page = open_page(chromium, sandbox, size)
    phone = size["width"] < 700
    tabs, banner = page.get_by_test_id("tabs"), page.get_by_test_id("banner")
    assert_no_sideways_scroll(page)
    if phone:
        expect(tabs).to_be_visible()
        expect(page.get_by_test_id("tab-telegram")).to_have_attribute("aria-selected", "true")
    else:
        expect(tabs).to_be_hidden()

    # A new person; nobody is there yet, so the form is open even on a phone.
    page.get_by_test_id("new-name").fill("Hermione")
    page.get_by_test_id("new-phone").fill(PHONE)
    page.get_by_test_id("add-person").click()
    expect(page.get_by_test_id("person-select")).to_have_value(PHONE)
    if phone:
        expect(page.get_by_test_id("new-name")).to_be_hidden()  # folded away behind "+ Person"
    expect(page.get_by_test_id("chat-messages")).to_be_visible()
    for pane in ("sms-list", "approvals"):  # a phone shows one app at a time
        if phone:
            expect(page.get_by_test_id(pane)).to_be_hidden()
        else:
            expect(page.get_by_test_id(pane)).to_be_visible()

    # Register: /start, share the number; the code comes by SMS.
    say(page, "/start")
    share = page.get_by_test_id("reply-button").filter(has_text="Share my phone number")
    expect(share).to_be_visible()
    shot(page, "1_welcome")
    share.click()
    expect(last_bot_message(page)).to_contain_text("We sent a code by SMS")
    sms = page.locator("[data-testid=sms-message][data-direction=inbound]").filter(has_text="code").last
    if phone:  # the SMS arrived in another app: a badge on its tab and a banner; tapping it opens Messages
        expect(page.get_by_test_id("unread-sms")).to_have_text("1")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("SMS from")
        shot(page, "2_sms_banner")
        page.get_by_test_id("banner-open").click()
        expect(page.get_by_test_id("tab-sms")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_test_id("unread-sms")).to_be_hidden()
        expect(banner).to_be_hidden()
        expect(page.get_by_test_id("chat-messages")).to_be_hidden()
    else:
        expect(banner).to_be_hidden()  # every app is in sight
    expect(sms).to_be_visible()
    expect(sms).to_contain_text(re.compile(r"\d{4,10}"))
    assert_no_sideways_scroll(page)
    code = re.search(r"\b\d{4,10}\b", sms.inner_text()).group()
    if phone:
        open_tab(page, "telegram")
    say(page, code)
    expect(last_bot_message(page)).to_contain_text("What is your email address?")
    say(page, "hermione@example.com")
    expect(last_bot_message(page)).to_contain_text("You're all set")

    # Send money and confirm it. Authy is slow for a while, so the chat says "typing…" as long as
    # Payfriend waits on the push being created; then the push arrives in the authenticator app.
    say(page, "send $20 to Neville")
    question = page.locator("[data-testid=chat-message][data-from=bot]").filter(has_text="Send $20.00 to Neville?")
    typing, bubble = page.get_by_test_id("typing"), page.get_by_test_id("typing-bubble")
    set_fault(sandbox, "authy", "slow", slow_seconds=3)
    question.get_by_test_id("inline-button").filter(has_text="Confirm").click()
    expect(typing).to_have_text("typing…")
    expect(bubble).to_be_visible()
    approve = page.locator("[data-testid=chat-message][data-from=bot]").filter(has_text="Approve $20.00 to Neville")
    expect(approve).to_have_count(0)  # not yet: the push is still being created
    shot(page, "3_typing")
    expect(last_bot_message(page)).to_contain_text("Approve $20.00 to Neville in your Authy app")
    set_fault(sandbox, "authy", "none")
    expect(last_bot_message(page)).to_contain_text(f"No decision within {FALLBACK_SECONDS} seconds")
    expect(typing).not_to_have_text("typing…")
    expect(bubble).to_be_hidden()

    # Under that message, a countdown to the SMS code; it ticks, silently for screen readers.
    countdown = last_bot_message(page).get_by_test_id("fallback-countdown")
    expect(countdown).to_be_visible()
    expect(countdown).to_have_text(FALLBACK_COUNTDOWN)
    expect(countdown).to_have_attribute("role", "timer")
    expect(countdown).to_have_attribute("aria-live", "off")
    expect(countdown).to_have_attribute("aria-label", re.compile(r"^SMS code due at \d"))
    first = countdown_seconds(countdown)
    assert 0 < first <= FALLBACK_SECONDS
    expect(countdown).not_to_have_text(countdown.inner_text())
    assert countdown_seconds(countdown) < first  # it counts down
    expect(page.get_by_test_id("fallback-countdown")).to_have_count(1)  # under that message only
    shot(page, "3_countdown")

    card = page.get_by_test_id("approval")
    expect(card).to_have_count(1)
    if phone:  # out of sight while the chat is open: badge and banner
        expect(card).to_be_hidden()
        expect(page.get_by_test_id("unread-auth")).to_have_text("1")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("$20.00 to Neville")
        assert_no_sideways_scroll(page)
        shot(page, "3_push_banner")
        page.get_by_test_id("banner-open").click()
        expect(page.get_by_test_id("tab-auth")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_test_id("unread-auth")).to_be_hidden()
    else:
        expect(banner).to_be_hidden()
    expect(card).to_be_visible()
    expect(card.get_by_test_id("approval-payee")).to_have_text("Neville")
    expect(card.get_by_test_id("approval-amount")).to_have_text("$20.00")
    countdown = card.get_by_test_id("approval-expires")
    expect(countdown).to_have_text(COUNTDOWN)  # "expires in 1:59": minutes and seconds
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it ticks
    assert_no_sideways_scroll(page)
    page.wait_for_timeout(300)  # the card's entrance animation
    shot(page, "4_push")
    card.get_by_test_id("approve").click()
    expect(card).to_have_count(0)

    # The chat tells the result; on a phone it arrives while the authenticator is open. The countdown
    # is over: no code will come.
    if phone:
        expect(page.get_by_test_id("unread-telegram")).to_have_text(re.compile(r"^[1-9]\d*$"))
        open_tab(page, "telegram")
        expect(page.get_by_test_id("unread-telegram")).to_be_hidden()
    expect(last_bot_message(page)).to_contain_text("Sent: $20.00 to Neville \u2713")
    expect(page.get_by_test_id("fallback-countdown")).to_have_count(0)
    assert_no_sideways_scroll(page)
    shot(page, "5_done")


# -- the page on its own, against the sandbox ---------------------------------------------------

@pytest.fixture
def person(sandbox):
    """A person who has started the bot, with a little of everything on their phone."""
    person = sandbox.world.add_person(PHONE, "Hermione Granger")
    requests.post(f"{sandbox.url}/api/telegram/send", json={"phone": PHONE, "text": "/start"}, timeout=5)
    return person


def fill_the_phone(sandbox, person) -> None:
    chat_id = person.telegram_user_id
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text="Welcome! Share your number to link SMS. "
            "https://example.com/a-rather-long-link-that-does-not-break-anywhere-at-all-0123456789",
            reply_markup={"keyboard": [[{"text": "Share my phone number", "request_contact": True}]]})
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text="Send $20.00 to Neville?",
            reply_markup={"inline_keyboard": [[{"text": "Confirm", "callback_data": "c"},
                                               {"text": "Cancel", "callback_data": "x"}]]})
    requests.post(f"{sandbox.url}/api/sms/send", json={"phone": PHONE, "text": "hello"}, timeout=5)
    sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, "Your Payfriend code: 1234567")
    done = add_push(sandbox, 600, payee="Luna")
    done.status = "denied"
    add_push(sandbox, 872, payee="Neville Longbottom With A Name Long Enough To Wrap Somewhere Sensible")
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text=APPROVE)  # a countdown under it


@pytest.mark.parametrize("size", SIZES)
def test_axe_finds_no_serious_or_critical_violation(sandbox, person, chromium, size):
    from axe_playwright_python.sync_playwright import Axe

    fill_the_phone(sandbox, person)
    page = open_page(chromium, sandbox, size)
    expect(page.get_by_test_id("approval")).to_have_count(1)
    bot_api(sandbox, "sendChatAction", chat_id=person.telegram_user_id, action="typing")
    expect(page.get_by_test_id("typing")).to_have_text("typing…")
    expect(page.get_by_test_id("chat-messages").get_by_test_id("fallback-countdown")).to_have_count(1)
    if size["width"] < 700:  # every tab, and a banner on screen
        sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, APPROVE_SMS)
        expect(page.get_by_test_id("banner")).to_be_visible()
        expect(page.get_by_test_id("sms-list").get_by_test_id("fallback-countdown")).to_have_count(1)
        tabs = ["telegram", "sms", "auth"]
    else:
        tabs = [None]
    page.wait_for_timeout(300)  # entrance animations end: axe reads colours as they are drawn
    for tab in tabs:
        if tab:
            page.evaluate("tab => setTab(tab)", tab)  # keeps the banner, unlike a click on a tab
            page.wait_for_timeout(300)  # the app's cards pop in
        results = Axe().run(page)
        violations = results.response["violations"]
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"{tab or 'page'}: " + results.generate_report()
        print(f"axe at {size['width']}x{size['height']} ({tab or 'all apps'}): {len(violations)} violations "
              f"({', '.join(sorted(v['id'] + ':' + v['impact'] for v in violations)) or 'none'})")

    # The Change Number dialog, open with an error from the API.
    page.evaluate("setTab('telegram')")
    page.get_by_test_id("change-number").click()
    page.get_by_test_id("change-number-input").fill("12345")
    page.get_by_test_id("change-number-submit").click()
    expect(page.get_by_test_id("change-number-error")).not_to_be_empty()
    page.wait_for_timeout(300)
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "change number dialog: " + results.generate_report()
    print(f"axe at {size['width']}x{size['height']} (change number dialog): "
          f"{len(results.response['violations'])} violations")


def test_no_sideways_scroll_at_any_width(sandbox, person, chromium):
    fill_the_phone(sandbox, person)
    page = open_page(chromium, sandbox, PHONE_SIZE)
    expect(page.get_by_test_id("approval")).to_have_count(1)
    for width in (320, 360, 390, 414, 600, 699, 700, 768, 1000, 1001, 1280, 1600):
        page.set_viewport_size({"width": width, "height": 800})
        for tab in (["telegram", "sms", "auth"] if width < 700 else [None]):
            if tab:
                open_tab(page, tab)
            assert_no_sideways_scroll(page)
        if width < 700:
            expect(page.get_by_test_id("tabs")).to_be_visible()
        else:
            expect(page.get_by_test_id("tabs")).to_be_hidden()


@pytest.mark.parametrize("size", SIZES)
def test_the_bot_typing_shows(sandbox, person, chromium, size):
    page = open_page(chromium, sandbox, size)
    typing, bubble = page.get_by_test_id("typing"), page.get_by_test_id("typing-bubble")
    expect(page.get_by_test_id("chat-message")).to_have_count(1)
    expect(typing).not_to_have_text("typing…")
    expect(bubble).to_be_hidden()

    # The bot's sendChatAction shows as "typing…" until its message arrives.
    assert bot_api(sandbox, "sendChatAction", chat_id=person.telegram_user_id, action="typing") is True
    expect(typing).to_have_text("typing…")
    expect(bubble).to_be_visible()
    shot(page, "typing")
    bot_api(sandbox, "sendMessage", chat_id=person.telegram_user_id, text="Welcome to Payfriend!")
    expect(last_bot_message(page)).to_have_text(re.compile("Welcome to Payfriend!"))
    expect(typing).not_to_have_text("typing…")
    expect(bubble).to_be_hidden()

    if size["width"] < 700:  # in another app, the Telegram tab shows it
        open_tab(page, "sms")
        bot_api(sandbox, "sendChatAction", chat_id=person.telegram_user_id, action="typing")
        expect(page.get_by_test_id("tab-telegram")).to_have_class(re.compile(r"\btyping\b"))
    else:  # a chat action lasts 5 s when no message follows
        bot_api(sandbox, "sendChatAction", chat_id=person.telegram_user_id, action="typing")
        expect(typing).to_have_text("typing…")
        started = time.monotonic()
        expect(typing).not_to_have_text("typing…", timeout=8_000)
        assert time.monotonic() - started > 3


def test_the_sms_fallback_counts_down_under_its_message(sandbox, person, chromium):
    page = open_page(chromium, sandbox, DESKTOP_SIZE)
    chat, inbox = page.get_by_test_id("chat-messages"), page.get_by_test_id("sms-list")
    expect(chat.get_by_test_id("chat-message")).to_have_count(1)
    expect(page.get_by_test_id("fallback-countdown")).to_have_count(0)

    # In the chat: from the message's date, down to "Code due now", never below zero.
    chat_id = person.telegram_user_id
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text=APPROVE.replace("15 seconds", "3 seconds"))
    countdown = last_bot_message(page).get_by_test_id("fallback-countdown")
    expect(countdown).to_have_text(re.compile(r"^SMS code in 0:0[1-3]$"))
    expect(countdown).to_have_class(re.compile(r"\bsoon\b"))  # red in the last seconds
    expect(countdown).to_have_text("Code due now", timeout=6_000)
    page.wait_for_timeout(1_200)
    expect(countdown).to_have_text("Code due now")
    shot(page, "countdown_due")

    # A later message from the bot ends it; the person's own messages do not.
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text=APPROVE)
    expect(page.get_by_test_id("fallback-countdown")).to_have_count(1)  # only under the latest one
    expect(last_bot_message(page).get_by_test_id("fallback-countdown")).to_have_text(re.compile(r"^SMS code in 0:1[45]$"))
    say(page, "1234567")
    expect(chat.get_by_test_id("fallback-countdown")).to_have_count(1)
    bot_api(sandbox, "sendMessage", chat_id=chat_id, text="No answer from your app yet, so we texted a code to "
            "+1 •••• 99 for $20.00 to Neville. Type the code here to approve.")
    expect(chat.get_by_test_id("fallback-countdown")).to_have_count(0)

    # In the SMS thread, the same under Payfriend's latest text; the code that follows ends it.
    sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, APPROVE_SMS)
    countdown = inbox.get_by_test_id("fallback-countdown")
    expect(countdown).to_have_text(re.compile(r"^SMS code in 0:1[45]$"))
    expect(countdown).to_have_attribute("role", "timer")
    first = countdown_seconds(countdown)
    expect(countdown).not_to_have_text(countdown.inner_text())
    assert countdown_seconds(countdown) < first
    shot(page, "countdown_sms")
    sandbox.world.deliver_sms(PHONE, "Authy", "Your Authy code: 7654321")
    expect(inbox.get_by_test_id("fallback-countdown")).to_have_count(0)


@pytest.mark.parametrize("size", SIZES)
def test_change_telegram_number(sandbox, person, chromium, size):
    new_phone = "+447700900123"
    old_id = person.telegram_user_id
    bot_api(sandbox, "sendMessage", chat_id=old_id, text="Welcome to Payfriend!")
    sandbox.world.deliver_sms(PHONE, sandbox.world.keys.twilio_phone_number, "Your Payfriend code: 1234567")
    page = open_page(chromium, sandbox, size)
    dialog, error = page.get_by_test_id("change-number-dialog"), page.get_by_test_id("change-number-error")
    expect(last_bot_message(page)).to_contain_text("Welcome to Payfriend!")
    expect(dialog).to_be_hidden()

    # The action in the chat's head opens a small form that asks for the new number.
    page.get_by_role("button", name="Change Telegram number…").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(PHONE)
    number = page.get_by_label("New phone number")
    expect(number).to_be_focused()

    # A number that is not E.164: the API's error, in the form, which stays open.
    number.fill("07700 900123")
    page.get_by_test_id("change-number-submit").click()
    expect(error).to_contain_text("E.164")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_be_visible()
    assert_no_sideways_scroll(page)
    shot(page, "change_number_error")
    number.fill(PHONE)  # the account's own number: refused too
    page.get_by_test_id("change-number-submit").click()
    expect(error).not_to_contain_text("E.164")
    expect(error).not_to_be_empty()

    # Escape closes it and changes nothing; a good number moves the account, and the page follows it.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert sandbox.world.people[PHONE].telegram_user_id == old_id
    page.get_by_test_id("change-number").click()
    expect(error).to_be_empty()
    page.get_by_label("New phone number").fill(new_phone)
    page.get_by_test_id("change-number-submit").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("person-select")).to_have_value(new_phone)
    expect(last_bot_message(page)).to_contain_text("Welcome to Payfriend!")  # the chat came along
    expect(page.get_by_test_id("callback-toast")).to_contain_text(f"moved from {PHONE} to {new_phone}")
    assert sandbox.world.people[new_phone].telegram_user_id == old_id
    assert sandbox.world.people[PHONE].telegram_user_id != old_id
    if size["width"] < 700:
        open_tab(page, "sms")
    expect(page.get_by_test_id("sms-message")).to_have_count(0)  # the SMS stayed with the old SIM
    shot(page, "change_number_done")

    # The old number has a fresh Telegram account; its SIM still has its SMS.
    page.get_by_test_id("person-select").select_option(PHONE)
    expect(page.get_by_test_id("sms-message")).to_have_count(1)
    if size["width"] < 700:
        open_tab(page, "telegram")
    expect(page.get_by_test_id("chat-message")).to_have_count(0)
    expect(page.get_by_test_id("start-bot")).to_be_visible()


def test_the_page_has_an_icon(sandbox, chromium):
    page = open_page(chromium, sandbox, PHONE_SIZE)
    href = page.locator("link[rel=icon]").get_attribute("href")
    for path in (href, "/favicon.ico"):
        r = requests.get(sandbox.url + path, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml"), path
        assert r.text.lstrip().startswith("<svg")


def test_push_countdown_reads_minutes_and_seconds(sandbox, person, chromium):
    soon, later = add_push(sandbox, 872), add_push(sandbox, 2 * 3600 + 5)
    page = open_page(chromium, sandbox, DESKTOP_SIZE)
    card = lambda a: page.locator(f"[data-testid=approval][data-id='{a.id}']")  # noqa: E731
    expect(card(soon).get_by_test_id("approval-expires")).to_have_text(re.compile(r"^expires in 14:(2\d|3[0-2])$"))
    expect(card(later).get_by_test_id("approval-expires")).to_have_text(re.compile(r"^expires in 2:00:0[0-5]$"))

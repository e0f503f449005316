"""What the bot says. Every amount shown comes from the frozen payment, formatted by the caller."""

from __future__ import annotations

from bot.core.entities import Payment
from bot.core.payment import FallbackReason, State
from bot.core.text import truncate

EXAMPLE = "send $20 to Neville"

HELP = (
    "Payfriend sends money from a chat.\n"
    f"- {EXAMPLE} (add 'for lunch' to leave a note)\n"
    "- status: the payment waiting for you and your last few\n"
    "- history: all your payments, page by page\n"
    "- cancel: cancel the payment waiting for you\n"
    "Every payment is approved in your authenticator app, or with a code we text you."
)

STATE_WORDS = {
    State.PENDING: "waiting for approval",
    State.APPROVED: "sent",
    State.DENIED: "denied",
    State.EXPIRED: "expired",
    State.CANCELLED: "cancelled",
    State.BLOCKED: "blocked",
    State.FAILED: "failed",
}


LIST_NOTE_LENGTH = 12  # a listing line cuts the note and the payee, so that it stays short on a phone
LIST_PAYEE_LENGTH = 24

SMS_HELP = ("Payfriend: text 'send $20 to Neville', STATUS, HISTORY, or NO to cancel a payment. "
            "Reply STOP to opt out.")


def welcome_telegram() -> str:
    """The first thing a new Telegram user reads."""
    return ("Welcome to Payfriend! To send money we need to know it's you. "
            "Tap 'Share my phone number' below to start.")


def welcome_sms() -> str:
    """The first reply to a number we do not know."""
    return ("Welcome to Payfriend! To prove this number is yours we're texting you a code. "
            "Reply with the code when it arrives.")


def not_own_contact() -> str:
    """A shared contact that is not the sender's own."""
    return "Please share your own phone number with the button below, not someone else's."


def same_phone(masked_phone: str) -> str:
    """A registered person shared the number they registered with: nothing to do."""
    return f"{masked_phone} is already your number with Payfriend; nothing changed."


def phone_change_refused(masked_new: str) -> str:
    """A registered person shared a different number: a change needs approval on the factors they have."""
    return (f"Your Payfriend number was not changed to {masked_new}: a new number must be approved on the "
            "phone and app you registered with, which cannot be done in the chat yet. Contact Payfriend "
            "support to change it.")


def phone_change_notice(masked_new: str) -> str:
    """SMS to the registered number when someone asked, in the chat, to move the account to another number."""
    return (f"Payfriend: someone asked in your Telegram chat to move your account to {masked_new}. Nothing "
            "changed. If this was not you, your Telegram account may be in someone else's hands.")


def phone_code_sent(masked_phone: str, sms: bool = False) -> str:
    """After the phone verification code went out."""
    return f"We sent a code by SMS to {masked_phone}. {_answer_with_code(sms)}."


def phone_codes_used_up(limit: int, next_at: str, sms: bool = False) -> str:
    """The phone code re-send limit is reached."""
    answer = "reply with the last code we sent" if sms else "type the last code we sent"
    return f"We already sent {limit} codes this hour: {answer}, or ask again after {next_at}."


def phone_code_wrong(failure: str, sms: bool = False) -> str:
    """A wrong phone verification code: the failure reply every code gets, and where a new one comes from."""
    again = "reply with it again, or reply START" if sms else "type it again, or send /start"
    return f"{failure} Check the SMS and {again} for a new one."


def ask_email() -> str:
    """Once the phone is verified."""
    return "Your phone is verified. What is your email address?"


def bad_email() -> str:
    """Text that is no email address."""
    return "That doesn't look like an email address. Try again, e.g. neville@example.com"


def registered(authenticator: str) -> str:
    """Registration complete."""
    return (f"You're all set. Payments are approved in your {authenticator} app. "
            f"Try: {EXAMPLE}")


def app_link(url: str, minutes: int) -> str:
    """The link that sets up the authenticator app, to open on the phone that has the app."""
    return (f"Set up approvals: open this link on your phone to link the Payfriend app "
            f"(it works once, for {minutes} minutes): {url}")


def app_already_set_up(authenticator: str) -> str:
    """'app' from someone whose app is enrolled: a second enrolment would be a sensitive action."""
    return (f"Your {authenticator} app is already set up, and payments are approved there. "
            "To move it to a new phone, contact Payfriend support.")


def app_by_phone(authenticator: str) -> str:
    """'app' where the authenticator's own app signs in by phone number (Authy)."""
    return (f"Payments are approved in the {authenticator} app: install it and sign in with "
            "the phone number you gave us.")


def service_unavailable() -> str:
    """An outside service failed during registration."""
    return "We couldn't reach our verification service just now. Please try again in a minute."


def finish_registration(step: str, sms: bool = False) -> str:
    """A registered-only command from someone still registering."""
    new_code = "reply START" if sms else "send /start"
    prompts = {
        "contact": "First share your phone number with the button below.",
        "phone_code": f"First {_answer_with_code(sms).lower()} we texted you (or {new_code} for a new one).",
        "email": "First tell us your email address.",
    }
    return prompts.get(step, "Send /start to register.")


def confirm_payment(payment: Payment, amount_text: str, sms: bool) -> str:
    """Ask the payer to confirm what was understood, rendered from the frozen payment."""
    action = "Reply YES to confirm or NO to cancel." if sms else "Confirm or cancel below."
    return f"Send {amount_text} to {payment.payee}{note_text(payment.note)}? {action}"


def one_open_payment(amount_text: str, payee: str, sms: bool = False, same_payee: bool = False) -> str:
    """A new send while another payment waits (on SMS, CANCEL is a carrier stop word: NO cancels)."""
    if same_payee:
        how = "reply YES to confirm it or NO to cancel it" if sms else "confirm it, or send 'cancel' to start again"
        return f"Your payment of {amount_text} to {payee} is still waiting: {how}."
    how = "reply NO to cancel it" if sms else "send 'cancel' first"
    return f"You already have a payment of {amount_text} to {payee} waiting. Finish it or {how}."


def approve_in_app(authenticator: str, amount_text: str, payee: str, fallback_seconds: float,
                   match_word: str | None = None) -> str:
    """The push went out (with the word the push shows too, so the person can tell it is this one)."""
    match = f" It shows the word \u201c{match_word}\u201d." if match_word else ""
    return (f"Approve {amount_text} to {payee} in your {authenticator} app.{match} "
            f"No decision within {fallback_seconds:g} seconds and we'll text you a code instead.")


def code_sent(amount_text: str, payee: str, masked_phone: str, why: FallbackReason, sms: bool = False,
              push_limit: tuple[int, int] = (3, 10)) -> str:
    """The SMS fallback code went out; says why the push did not do (push_limit: pushes, minutes)."""
    reasons = {
        FallbackReason.TIMEOUT: "No answer from your app yet, so",
        FallbackReason.UNREACHABLE: "We couldn't reach your authenticator app, so",
        FallbackReason.NO_APP: "You have no authenticator app set up yet, so",
        FallbackReason.PUSH_LIMIT: (f"{push_limit[0]} approval requests to your app went unanswered in the last "
                                    f"{push_limit[1]} minutes, so instead of another one"),
    }
    text = (f"{reasons[why]} we texted a code to {masked_phone} for {amount_text} to {payee}. "
            f"{_answer_with_code(sms)} to approve.")
    if why is FallbackReason.NO_APP:
        text += " Reply APP for a link that sets it up." if sms else " Send 'app' for a link that sets it up."
    return text


def attempt_failed(attempts_left: int) -> str:
    """A failed attempt, whatever failed (wrong, expired or used code); attempts are left."""
    plural = "attempt" if attempts_left == 1 else "attempts"
    return f"That code is not right. {attempts_left} {plural} left."


def attempt_failed_last(lock_hours: int) -> str:
    """The 4th failed attempt in a row: the warning before the lock."""
    return f"That code is not right. One more failed attempt locks your account for {lock_hours} hours."


def locked_now(lock_hours: int) -> str:
    """The 5th failed attempt in a row locked the person."""
    return (f"That code is not right. That was 5 failed attempts in a row, so your account is locked for "
            f"{lock_hours} hours: new payments and codes are refused until then.")


def locked(until: str) -> str:
    """A locked person tried to pay or type a code."""
    return (f"Your account is locked after 5 failed attempts in a row, until {until}. Then you can try "
            "again, but one more failed attempt locks it again.")


def waiting_for_app(authenticator: str) -> str:
    """A code typed while the push is still the way to approve."""
    return f"Approve the payment in your {authenticator} app. If it doesn't arrive we'll text you a code."


def nothing_to_confirm() -> str:
    """Confirm with no payment waiting for confirmation."""
    return f"There is no payment to confirm. Try: {EXAMPLE}"


def nothing_to_cancel() -> str:
    """Cancel with nothing pending."""
    return "You have no payment waiting, so there is nothing to cancel."


def no_code_expected() -> str:
    """Digits typed when no code is expected."""
    return f"We're not waiting for a code from you. Try: {EXAMPLE}"


def outcome(payment: Payment, amount_text: str) -> str:
    """How a payment ended, with amount, payee and state."""
    what = f"{amount_text} to {payment.payee}"
    texts = {
        State.APPROVED: f"Sent: {what} \u2713",
        State.DENIED: f"Not sent: {what} was denied in your authenticator app.",
        State.EXPIRED: f"Not sent: {what} was not approved in time.",
        State.CANCELLED: f"Not sent: {what} was cancelled.",
        State.BLOCKED: f"Not sent: {what} was blocked after 5 failed attempts in a row.",
        State.FAILED: f"Not sent: we couldn't reach the approval service for {what}. Please try again later.",
    }
    return texts[payment.state]


def exempt_note(reason: str) -> str:
    """Why no approval was asked for."""
    return f" No approval was needed ({reason})."


def payment_line(payment: Payment, amount_text: str, when: str) -> str:
    """One short line of a status or history listing: date, amount, payee, note, state."""
    return f"{when} {payment_summary(payment, amount_text, listed=True)}: {STATE_WORDS[payment.state]}"


def blocked_on_telegram() -> str:
    """Sent by SMS when the person blocked the bot on Telegram."""
    return "Payfriend can't reach you on Telegram because the bot is blocked. Unblock it to keep getting updates."


def _answer_with_code(sms: bool) -> str:
    """How a person gives us a code on this channel."""
    return "Reply with the code" if sms else "Type the code here"


def note_text(note: str | None, max_length: int | None = None) -> str:
    """' for "pizza"' after a payee, or nothing; cut to max_length characters of note."""
    return f" for \"{truncate(note, max_length)}\"" if note else ""


def payment_summary(payment: Payment, amount_text: str, listed: bool = False) -> str:
    """'$20.00 to Neville for "pizza"': what a payment is, as the payer typed it (cut short in a list)."""
    payee = truncate(payment.payee, LIST_PAYEE_LENGTH) if listed else payment.payee
    return f"{amount_text} to {payee}{note_text(payment.note, LIST_NOTE_LENGTH if listed else None)}"


def status(waiting: str | None, recent: list[str]) -> str:
    """`status`: the payment waiting for the person (if any), then their last few."""
    if waiting is None and not recent:
        return f"Nothing is waiting and you have no payments yet. Try: {EXAMPLE}"
    head = f"Waiting for you: {waiting}" if waiting is not None else "Nothing is waiting for you."
    if not recent:
        return head
    return head + "\nRecent:\n" + "\n".join(recent)


def history_page(lines: list[str], page: int, more: bool) -> str:
    """`history N`: one page of payments, newest first, with a hint only when a next page exists."""
    if not lines:
        if page == 1:
            return f"Your history is empty. Try: {EXAMPLE}"
        return f"Your history has no page {page}. Send 'history' for the newest payments."
    title = "Your payments:" if page == 1 else f"Your payments, page {page}:"
    text = title + "\n" + "\n".join(lines)
    return text + f"\nOlder: history {page + 1}" if more else text


def code_sms_heading(amount_text: str, payee: str) -> str:
    """Payfriend's line at the top of the payment code SMS (the vendor's own wording follows it)."""
    return f"Payfriend code to send {amount_text} to {payee}:"


def sms_resubscribed() -> str:
    """After START."""
    return "Payfriend: you will get our texts again. Text HELP for what you can do."


# ---------------------------------------------------------------------- late taps

LATE_TAPS = {
    State.APPROVED: "Already approved with your code; nothing changed.",
    State.DENIED: "Already denied; nothing changed.",
    State.EXPIRED: "Already expired; nothing changed.",
    State.CANCELLED: "Already cancelled; nothing changed.",
    State.BLOCKED: "Already blocked after too many failed attempts; nothing changed.",
    State.FAILED: "Already failed; nothing changed.",
}


def late_tap(state: State) -> str:
    """A tap in the authenticator app on a payment that had already ended in `state`."""
    return LATE_TAPS[state]


# ---------------------------------------------------------------------- settled buttons

PRESSED = {
    State.PENDING: "✓ Confirmed: waiting for your approval",
    State.APPROVED: "✓ Confirmed",
    State.DENIED: "✗ Denied",
    State.EXPIRED: "✗ Expired",
    State.CANCELLED: "✗ Cancelled",
    State.BLOCKED: "✗ Blocked",
    State.FAILED: "✗ Failed",
}


def pressed(state: State) -> str:
    """The confirm question once Confirm or Cancel was pressed: where that left the payment."""
    return PRESSED[state]

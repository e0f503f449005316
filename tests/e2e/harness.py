"""Play people on the sandbox's phone through its control API, and run Payfriend against it."""

from __future__ import annotations

import re
import time
from typing import Any, Callable
from urllib.parse import quote

import requests

TIMEOUT = 10


def wait_for(predicate: Callable[[], Any], timeout: float = 10, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll every `interval` seconds until predicate() is truthy; return its value or fail the test with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


PAYFRIEND_NUMBER = "+15005550006"  # the sandbox's Twilio number for Payfriend
BUTTON_WORDS = {"Confirm": "YES", "Cancel": "NO"}  # what a person types on SMS, where there are no buttons


class Phone:
    """One simulated person talking to Payfriend on one channel (Telegram or SMS) through the sandbox."""

    def __init__(self, sandbox_url: str, phone: str, name: str, channel: str = "telegram",
                 on_registered: Callable[["Phone"], None] | None = None) -> None:
        assert phone != PAYFRIEND_NUMBER
        self.url, self.phone, self.name, self.channel = sandbox_url, phone, name, channel
        self.on_registered = on_registered
        self.person = self._post("/api/people", phone=phone, name=name)

    def _post(self, path: str, **body: Any) -> Any:
        response = requests.post(self.url + path, json=body, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json() if response.content else None

    def _get(self, path: str) -> Any:
        response = requests.get(f"{self.url}{path}?phone={quote(self.phone)}", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()

    # ---------------------------------------------------------------- acting
    def says(self, text: str) -> None:
        """Write to the bot on this person's channel."""
        if self.channel == "sms":
            self.texts(text)
        else:
            self._post("/api/telegram/send", phone=self.phone, text=text)

    def presses(self, button: str) -> None:
        """Press a button the bot offered (on SMS: type the word that stands for it)."""
        if self.channel == "sms":
            self.texts(BUTTON_WORDS[button])
        else:
            self._post("/api/telegram/press", phone=self.phone, button=button)

    def installs_app(self, installed: bool = True) -> dict[str, Any]:
        """Flip the "authenticator app installed" switch of the phone page (on for every new person)."""
        return self._post("/api/verify/app", phone=self.phone, installed=installed)

    def app_status(self) -> str | None:
        """What the phone's Payfriend app says about its set-up: linked, linking, an error, or None."""
        return self._get("/api/verify/app")["last_link_status"]

    def wait_app_linked(self, timeout: float = 10) -> None:
        """Wait until the app set itself up from the link the bot sent (Verify only)."""
        wait_for(lambda: self.app_status() == "linked", timeout, f"{self.name}'s app to link; it says "
                 f"{self.app_status()!r}")

    def shares_contact(self) -> None:
        """Share their own phone number with the bot."""
        self._post("/api/telegram/share-contact", phone=self.phone)

    def texts(self, text: str) -> None:
        """Send an SMS to Payfriend's number."""
        self._post("/api/sms/send", phone=self.phone, text=text)

    def approve(self, approval_id: str) -> None:
        """Tap Approve in the authenticator app."""
        self._post(f"/api/authenticator/{approval_id}/approve")

    def deny(self, approval_id: str) -> None:
        """Tap Deny in the authenticator app."""
        self._post(f"/api/authenticator/{approval_id}/deny")

    # ---------------------------------------------------------------- seeing
    def chat(self) -> list[str]:
        """What Payfriend wrote to this person on their channel, oldest first."""
        if self.channel == "sms":
            return self.texts_from_payfriend()
        return [m["text"] for m in self._get("/api/telegram/messages")]

    def sms(self) -> list[str]:
        """SMS the authenticator sent this person (codes), oldest first."""
        return [m["body"] for m in self._get("/api/sms/inbox")
                if m["direction"] == "inbound" and m["from"] != PAYFRIEND_NUMBER]

    def texts_from_payfriend(self) -> list[str]:
        """SMS from Payfriend's own number, whatever channel this person uses, oldest first."""
        return [m["body"] for m in self._get("/api/sms/inbox")
                if m["direction"] == "inbound" and m["from"] == PAYFRIEND_NUMBER]

    def pending(self) -> list[dict[str, Any]]:
        """Approvals waiting in the authenticator app."""
        return [a for a in self._get("/api/authenticator/pending") if a["status"] == "pending"]

    def wait_chat(self, pattern: str, timeout: float = 10) -> str:
        """Wait until the bot wrote a message matching `pattern`; return it."""
        rx = re.compile(pattern)
        return wait_for(lambda: next((t for t in reversed(self.chat()) if rx.search(t)), None), timeout,
                        f"a chat message matching {pattern!r}; chat so far: {self.chat()[-3:]}")

    def wait_code(self, after: int = 0, timeout: float = 10) -> str:
        """Wait for a new SMS with a code (beyond the first `after` ones); return the code."""
        def code() -> str | None:
            new = self.sms()[after:]
            found = [re.findall(r"(?:code|token) is:? (\d{4,10})\b", body) for body in new]
            return next((c[0] for c in reversed(found) if c), None)
        return wait_for(code, timeout, f"an SMS code for {self.phone}")

    def wait_pending(self, timeout: float = 10) -> dict[str, Any]:
        """Wait for an approval request in the authenticator app."""
        return wait_for(lambda: next(iter(self.pending()), None), timeout, "a pending approval")

    # ---------------------------------------------------------------- journeys
    def register(self, email: str | None = None) -> None:
        """Register: on Telegram /start and share the contact, on SMS just text; then the code and an email."""
        seen = len(self.sms())
        if self.channel == "sms":
            self.says("hi")
            self.wait_chat("Welcome to Payfriend")
        else:
            self.says("/start")
            self.wait_chat("Share my phone number")
            self.shares_contact()
        code = self.wait_code(after=seen)
        self.says(code)
        self.wait_chat("email address")
        self.says(email or f"{self.name.lower()}@example.com")
        self.wait_chat("You're all set")
        if self.on_registered is not None:
            self.on_registered(self)

    def start_payment_and_wait_for_code(self, text: str = "send $20 to Neville") -> tuple[dict[str, Any], str]:
        """Start a payment, leave the push unanswered; return the approval and the code texted at the fallback."""
        seen = len(self.sms())
        approval = self.start_payment(text)
        self.wait_chat("texted a code")
        return approval, self.wait_code(after=seen)

    def start_payment(self, text: str = "send $20 to Neville") -> dict[str, Any]:
        """Send and confirm a payment; return the push approval shown in the app."""
        self.says(text)
        self.wait_chat(r"^Send .* to ")
        self.presses("Confirm")
        return self.wait_pending()

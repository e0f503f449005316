"""Play people on the sandbox's phone through its control API, and run Payfriend against it."""

from __future__ import annotations

import re
import time
from typing import Any, Callable
from urllib.parse import quote

import requests

TIMEOUT = 10


def wait_for(predicate: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; return its value or fail the test with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Phone:
    """One simulated person: their Telegram chat, SMS inbox and authenticator app in the sandbox."""

    def __init__(self, sandbox_url: str, phone: str, name: str) -> None:
        self.url, self.phone, self.name = sandbox_url, phone, name
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
        """Write to the bot on Telegram."""
        self._post("/api/telegram/send", phone=self.phone, text=text)

    def presses(self, button: str) -> None:
        """Press a button the bot offered."""
        self._post("/api/telegram/press", phone=self.phone, button=button)

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
        """What the bot wrote in Telegram, oldest first."""
        return [m["text"] for m in self._get("/api/telegram/messages")]

    def sms(self) -> list[str]:
        """SMS this person received, oldest first."""
        return [m["body"] for m in self._get("/api/sms/inbox") if m["direction"] == "inbound"]

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
            found = [re.findall(r"\b(\d{4,10})\b", body) for body in new]
            return next((c[0] for c in reversed(found) if c), None)
        return wait_for(code, timeout, f"an SMS code for {self.phone}")

    def wait_pending(self, timeout: float = 10) -> dict[str, Any]:
        """Wait for an approval request in the authenticator app."""
        return wait_for(lambda: next(iter(self.pending()), None), timeout, "a pending approval")

    # ---------------------------------------------------------------- journeys
    def register(self, email: str | None = None) -> None:
        """Register on Telegram: /start, share contact, SMS code, email."""
        self.says("/start")
        self.wait_chat("Share my phone number|share your phone number")
        seen = len(self.sms())
        self.shares_contact()
        code = self.wait_code(after=seen)
        self.says(code)
        self.wait_chat("email address")
        self.says(email or f"{self.name.lower()}@example.com")
        self.wait_chat("You're all set")

    def start_payment(self, text: str = "send $20 to Neville") -> dict[str, Any]:
        """Send and confirm a payment; return the push approval shown in the app."""
        self.says(text)
        self.wait_chat(r"^Send .* to ")
        self.presses("Confirm")
        return self.wait_pending()

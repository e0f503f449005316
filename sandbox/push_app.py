"""Each sandbox person's Payfriend app, with the Verify Push SDK: it enrols itself from Payfriend's link.

Payfriend hands the person a one-time enrolment link (`http(s)://.../app/enrol#<token>`: the token rides
in the fragment, which no request line carries) in a bot message or an SMS. When the person's app is
installed (the switch, on by default), it opens the link: a POST of `{"token": <token>}` to the link
without its fragment, in a background thread and never under the world's lock. Payfriend answers 200
`{"identity", "service_sid", "access_token", "factor_friendly_name"}` (or 4xx `{"error"}`), and the app
then does what the SDK does with the access token: create the push factor on this phone and verify it
(`twilio_verify.enrol_with_access_token`). The person remembers the last link and how it went.

Removing the app deletes the factors bound to the phone; installing it again opens the last link again.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import requests

from sandbox.twilio_api import TwilioError, TwilioSandbox
from sandbox.twilio_verify import enrol_with_access_token, remove_phone_factors

log = logging.getLogger(__name__)

LINKING, LINKED = "linking", "linked"
OPEN_TIMEOUT = 5.0  # seconds the app waits for Payfriend's answer
_URL = re.compile(r"https?://[^\s<>\"'`()\[\]{}]+", re.IGNORECASE)
_ENROL_PATH = re.compile(r"(?:/[^?#]*)?/app/enrol")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_TRAILING = ".,;:!?*"  # sentence punctuation after a link is not part of it
USER_AGENT = "PayfriendApp/1.0 (sandbox) VerifyPushSDK/2.0.0"


def enrolment_link(text: str) -> str | None:
    """The last enrolment link in a text: an http(s) URL whose path ends in /app/enrol, with a token fragment."""
    found = None
    for match in _URL.finditer(text or ""):
        url = match.group().rstrip(_TRAILING)
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if _ENROL_PATH.fullmatch(parts.path) and _TOKEN.fullmatch(parts.fragment):
            found = url
    return found


def split_link(link: str) -> tuple[str, str]:
    """Where the app posts (the link without its fragment) and the token it posts."""
    address, _, token = link.partition("#")
    return address, token


class PushApp:
    """Every person's Payfriend app: watches Payfriend's messages, opens enrolment links, enrols."""

    def __init__(self, sandbox: TwilioSandbox, timeout: float = OPEN_TIMEOUT) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.timeout = timeout
        self._attempts: dict[str, int] = {}  # phone -> number of the latest attempt; older ones are void

    def register(self) -> None:
        """Take the world's hooks: Payfriend's messages, the install switch, reset."""
        self.world.on_payfriend_message.append(self.noticed)
        self.world.on_app_switch.append(self.switched)
        self.world.on_reset.append(self._forget)

    def _forget(self) -> None:
        with self.world.lock:
            self._attempts.clear()

    # -- hooks ---------------------------------------------------------------------------------

    def noticed(self, phone: str, text: str) -> None:
        """Payfriend's message reached the phone (lock held): remember an enrolment link, open it if installed."""
        link = enrolment_link(text)
        if link is None:
            return
        with self.world.lock:
            person = self.world.people.get(phone)
            if person is None:
                return
            person.app_link = link  # kept even without the app: installing it opens the link
            self.world.touch()
            if person.app_installed:
                self._start(phone, link)

    def switched(self, phone: str, installed: bool) -> None:
        """The app was installed (open the last link again) or removed (its factors go)."""
        with self.world.lock:
            person = self.world.people.get(phone)
            if person is None:
                return
            self._attempts[phone] = self._attempts.get(phone, 0) + 1  # an attempt under way is void
            if not installed:
                remove_phone_factors(self.sandbox, phone)
                return
            if person.app_link and person.app_installed:
                self._start(phone, person.app_link)

    # -- opening a link ------------------------------------------------------------------------

    def _start(self, phone: str, link: str) -> None:
        """Mark the person "linking" and open the link in a background thread (lock held)."""
        attempt = self._attempts.get(phone, 0) + 1
        self._attempts[phone] = attempt
        self._set_status(phone, attempt, LINKING)
        threading.Thread(target=self._open, args=(phone, link, attempt), name=f"push-app:{phone}",
                         daemon=True).start()

    def _set_status(self, phone: str, attempt: int, status: str) -> bool:
        """Record the outcome, unless a later attempt (or a switch) made this one void."""
        with self.world.lock:
            person = self.world.people.get(phone)
            if person is None or self._attempts.get(phone) != attempt or not person.app_installed:
                return False
            person.app_link_status = status
            self.world.touch()
            return True

    def _open(self, phone: str, link: str, attempt: int) -> None:
        try:
            address, token = split_link(link)
            answer = requests.post(address, json={"token": token}, timeout=self.timeout, allow_redirects=False,
                                   headers={"User-Agent": USER_AGENT})
        except requests.RequestException as exc:
            log.info("sandbox app of %s: cannot open %s: %s", phone, address, exc)
            self._set_status(phone, attempt, f"Could not reach Payfriend ({type(exc).__name__})")
            return
        try:
            status = self._enrol(phone, attempt, answer)
        except Exception as exc:  # whatever happens, the phone shows an outcome instead of "linking" forever
            log.exception("sandbox app of %s: enrolment failed", phone)
            status = f"Set-up failed ({type(exc).__name__})"
        if status is not None:
            self._set_status(phone, attempt, status)

    def _enrol(self, phone: str, attempt: int, answer: requests.Response) -> str | None:
        """Enrol from Payfriend's answer; the status to show (None: this attempt is void)."""
        try:
            body: Any = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            return str(error) if isinstance(error, str) and error else f"Payfriend answered {answer.status_code}"
        fields = ("identity", "service_sid", "access_token")
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) and body[f] for f in fields):
            return "Payfriend's answer lacks identity, service_sid or access_token"
        friendly = body.get("factor_friendly_name")
        with self.world.lock:  # no HTTP from here on
            person = self.world.people.get(phone)
            if person is None or self._attempts.get(phone) != attempt or not person.app_installed:
                return None
            if self.world.fault("verify") in ("down", "error"):
                return "Verify is unavailable; the app could not register"
            try:
                enrol_with_access_token(self.sandbox, body["access_token"], body["service_sid"], body["identity"],
                                        phone, friendly if isinstance(friendly, str) and friendly
                                        else f"{person.name}'s phone")
            except TwilioError as exc:
                return f"Verify refused the enrolment: {exc.message}"
            return LINKED

"""Authenticator port on the Authy API, through the `authy` client library.

Deadlines: the library sends every call with a bare `requests.request(...)` and no timeout. The
client built here keeps the library's resources (validation, URLs, response parsing) but swaps
their one transport method for a `requests.Session` whose mounted HTTPAdapter puts a fresh
urllib3 `Timeout(total=..., connect=...)` on every request it sends. A call therefore cannot hang:
connecting and waiting for the answer share one budget of `timeout` seconds, and a timeout raises
inside the calling thread, so no helper thread is ever left behind. (A server that keeps trickling
bytes resets the socket's read timer on each byte; Authy's answers are a few hundred bytes.)
Sessions are per thread (requests.Session is not thread-safe) and pool keep-alive connections.

Errors: transport failures, timeouts and non-200 answers raise AuthenticatorUnavailable, except a
wrong code, which is a False from check_code / check_phone_verification. The API key is never
logged and never appears in repr() or in exception messages.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from typing import Any, Callable, TypeVar

import phonenumbers
import requests
from authy import AuthyFormatException
from authy.api import AuthyApiClient
from authy.api.resources import Instance, OneTouch, Phones, Tokens, Users
from requests.adapters import HTTPAdapter
from urllib3.util import Timeout

from bot.ports import AppAccess, AuthenticatorUnavailable, CodeBinding, PushBinding, PushRequest, PushState

log = logging.getLogger(__name__)

DEFAULT_API_URI = "https://api.authy.com"
DEFAULT_TIMEOUT_SECONDS = 5.0
APPROVAL_STATES = ("pending", "approved", "denied", "expired")
PAYMENT_ID_KEY = "payment_id"  # hidden detail read back by authy_callback.parse_authy_callback
_TOKEN = re.compile(r"[0-9]{6,12}")  # what tokens.verify accepts (it raises on anything else)
_PHONE_CODE = re.compile(r"[0-9]{4,10}")  # code_length 4-10
# Authy's SMS payment tokens have the application's token length (7 digits unless changed in the
# console; the API cannot set it). Registration codes are asked for with the same length, so
# every code a person types is as long as the others.
PHONE_CODE_LENGTH = 7
_UUID = re.compile(r"[A-Za-z0-9-]{1,64}")
_WRONG_CODE = {"60020", "60022", "60023"}  # token invalid; verification code incorrect / none pending

T = TypeVar("T")


# ----------------------------------------------------------------------------- transport


class _DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter that gives every request its own deadline, whatever the caller passed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(max_retries=0)
        self._seconds = seconds

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        """Send with a fresh Timeout(total=seconds), whatever timeout the caller asked for."""
        kwargs: dict[str, Any] = {"stream": stream, "verify": verify, "cert": cert, "proxies": proxies,
                                  "timeout": Timeout(total=self._seconds, connect=self._seconds)}
        return super().send(request, **kwargs)


class _Transport:
    """Per-thread requests sessions with the deadline adapter mounted."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """This thread's session."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter(self.seconds)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.add(session)
        return session

    def close(self) -> None:
        """Close every session (their pooled connections)."""
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()


class _SessionResource:
    """Replaces the library's `Resource.request` (a bare requests.request) with the session's."""

    _transport: _Transport
    api_uri: str
    api_key: str
    def_headers: dict[str, str]

    def request(self, method: str, path: str, data: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> requests.Response:
        """Same headers, query and body as the library sends; through a session with a deadline."""
        url = self.api_uri + path
        merged = {**self.def_headers, **(headers or {}), "X-Authy-API-Key": self.api_key}
        session = self._transport.session()
        if method == "GET":
            return session.request(method, url, headers=merged, params=dict(data or {}))
        return session.request(method, url, headers=merged, params={}, data=json.dumps(data or {}))


class _Users(_SessionResource, Users):
    """users.* with deadlines."""


class _Tokens(_SessionResource, Tokens):
    """tokens.* with deadlines."""


class _Phones(_SessionResource, Phones):
    """phones.* with deadlines."""


class _OneTouch(_SessionResource, OneTouch):
    """one_touch.* with deadlines."""


def build_client(api_key: str, api_uri: str = DEFAULT_API_URI,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> tuple[AuthyApiClient, _Transport]:
    """An AuthyApiClient whose users/tokens/phones/one_touch calls each have a deadline."""
    client = AuthyApiClient(api_key, api_uri=api_uri)
    transport = _Transport(timeout)
    for name, cls in (("users", _Users), ("tokens", _Tokens), ("phones", _Phones), ("one_touch", _OneTouch)):
        resource = cls(api_uri, api_key)
        resource._transport = transport
        setattr(client, name, resource)
    return client, transport


# ----------------------------------------------------------------------------- helpers


def split_phone(phone: str) -> tuple[int, str]:
    """An E.164 number as (country code, national significant number); ValueError if it is not one."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not an E.164 phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    if number.country_code is None:
        raise ValueError("not a phone number with a country code")
    return number.country_code, phonenumbers.national_significant_number(number)


def _authy_id(authenticator_id: str) -> int:
    """The stored Authy id as the int the library wants; ValueError if it is not digits."""
    text = str(authenticator_id)
    if not (text.isascii() and text.isdigit()):
        raise ValueError("an Authy id is digits only")
    return int(text)


def _error_code(result: Instance) -> str | None:
    """The error_code of a failed answer, if it has one (never indexes blindly)."""
    content = result.content
    return str(content.get("error_code")) if isinstance(content, dict) and "error_code" in content else None


def _describe(op: str, result: Instance) -> str:
    """One line about a failed answer: operation, HTTP status, error code, message."""
    content = result.content
    message = content.get("message") if isinstance(content, dict) else None
    if not isinstance(message, str):
        errors = result.errors()
        message = errors.get("message") if isinstance(errors, dict) else None
    return (f"authy {op}: HTTP {result.response.status_code}, error_code {_error_code(result)}: "
            f"{str(message or 'no message')[:200]}")


# ----------------------------------------------------------------------------- the adapter


class AuthyAuthenticator:
    """The Authenticator port on Authy: phone verification, users, OneTouch pushes, SMS codes."""

    name = "authy"
    enrols_app = False  # the Authy app finds the person by their phone number

    def __init__(self, api_key: str, *, api_uri: str = DEFAULT_API_URI,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, logo_url: str | None = None,
                 phone_code_length: int = PHONE_CODE_LENGTH) -> None:
        if not api_key:
            raise ValueError("an Authy API key is required")
        if not 4 <= phone_code_length <= 10:
            raise ValueError("phone_code_length must be from 4 to 10")
        self.api_uri = api_uri
        self.timeout = timeout
        self.logo_url = logo_url
        self.phone_code_length = phone_code_length
        self._client, self._transport = build_client(api_key, api_uri, timeout)

    def __repr__(self) -> str:
        return f"AuthyAuthenticator(api_uri={self.api_uri!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    def _call(self, op: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one library call; a transport failure or timeout becomes AuthenticatorUnavailable."""
        try:
            result = fn(*args, **kwargs)
        # `from None`: a requests error's text can hold the query string (a phone number, a code).
        except requests.Timeout:
            log.warning("authy %s: no answer within %.1f s", op, self.timeout)
            raise AuthenticatorUnavailable(f"authy {op}: no answer within {self.timeout} s") from None
        except requests.RequestException as exc:
            log.warning("authy %s: %s", op, exc.__class__.__name__)
            raise AuthenticatorUnavailable(f"authy {op}: {exc.__class__.__name__}") from None
        except (KeyError, TypeError, AttributeError) as exc:  # a 200 whose body is not what Authy sends
            log.warning("authy %s: unexpected answer (%s)", op, exc.__class__.__name__)
            raise AuthenticatorUnavailable(f"authy {op}: unexpected answer") from None
        log.debug("authy %s: HTTP %s", op, getattr(getattr(result, "response", None), "status_code", "?"))
        return result

    def _fail(self, op: str, result: Instance) -> AuthenticatorUnavailable:
        """Log and build the exception for a non-success answer."""
        text = _describe(op, result)
        log.warning("%s", text)
        return AuthenticatorUnavailable(text)

    def start_phone_verification(self, phone: str) -> None:
        """Send a phone verification code by SMS to this E.164 number."""
        country, national = split_phone(phone)
        result = self._call("phone verification start", self._client.phones.verification_start,
                            national, country, via="sms", code_length=self.phone_code_length)
        if not result.ok():
            raise self._fail("phone verification start", result)

    def check_phone_verification(self, phone: str, code: str) -> bool:
        """True if `code` is the phone verification code just sent; False if wrong or expired."""
        text = code.strip() if isinstance(code, str) else ""
        if not _PHONE_CODE.fullmatch(text):
            return False
        country, national = split_phone(phone)
        result = self._call("phone verification check", self._client.phones.verification_check,
                            national, country, text)
        if result.ok():
            return True
        if _error_code(result) in _WRONG_CODE:
            return False
        raise self._fail("phone verification check", result)

    def register(self, email: str, phone: str) -> str:
        """Register the person with Authy; returns their Authy id."""
        country, national = split_phone(phone)
        result = self._call("register", self._client.users.create, email, national, country)
        if not result.ok() or result.id in (None, ""):
            raise self._fail("register", result)
        return str(result.id)

    def send_push(self, authenticator_id: str, request: PushRequest) -> str:
        """Create a OneTouch approval request; returns its uuid."""
        details = {str(k): str(v) for k, v in request.details.items()}
        hidden = {PAYMENT_ID_KEY: request.payment_id, **{str(k): str(v) for k, v in request.hidden.items()}}
        logo = request.logo_url or self.logo_url
        logos = [{"res": "default", "url": logo}] if logo else []
        try:
            result = self._call("push", self._client.one_touch.send_request, _authy_id(authenticator_id),
                                request.message, seconds_to_expire=int(request.expires_in_seconds),
                                details=details, hidden_details=hidden, logos=logos)
        except AuthyFormatException as exc:
            raise ValueError(f"authy push: {exc}") from None
        uuid = result.get_uuid()
        if not result.ok() or not isinstance(uuid, str):
            raise self._fail("push", result)
        return uuid

    def push_status(self, request_id: str) -> str:
        """pending, approved, denied or expired (expiry is only visible here)."""
        return self.read_push(request_id).status

    def read_push(self, request_id: str) -> PushState:
        """The approval request's status and Authy id (Authy's status answer has no hidden details)."""
        if not isinstance(request_id, str) or not _UUID.fullmatch(request_id):
            raise ValueError("not an approval request uuid")
        result = self._call("push status", self._client.one_touch.get_approval_status, request_id)
        content = result.content
        approval = content.get("approval_request") if isinstance(content, dict) else None
        status = approval.get("status") if isinstance(approval, dict) else None
        if not result.ok() or status not in APPROVAL_STATES:
            raise self._fail("push status", result)
        authy_id = approval.get("_authy_id") if isinstance(approval, dict) else None
        return PushState(status, PushBinding(str(authy_id) if authy_id is not None else None, None))

    def send_code(self, authenticator_id: str, phone: str, binding: CodeBinding) -> None:
        """Send an SMS code bound to this payment (action = payment id), naming payee and amount."""
        message = binding.message or f"Pay {binding.payee} {binding.amount_text}"
        options = {"force": True, "action": binding.payment_id, "action_message": message}
        result = self._call("send code", self._client.users.request_sms, _authy_id(authenticator_id), options)
        if not result.ok() or result.ignored():
            raise self._fail("send code", result)

    def check_code(self, authenticator_id: str, phone: str, binding: CodeBinding, code: str) -> bool:
        """True if `code` is the SMS code for this payment; False for a wrong or malformed code."""
        text = code.strip() if isinstance(code, str) else ""
        if not _TOKEN.fullmatch(text):
            return False
        options = {"force": True, "action": binding.payment_id}  # fresh: tokens.verify mutates it
        try:
            result = self._call("check code", self._client.tokens.verify, str(_authy_id(authenticator_id)),
                                text, options)
        except (AuthyFormatException, ValueError):
            return False
        if result.ok():
            return True
        if result.response.status_code == 401 and _error_code(result) == "60020":
            return False
        raise self._fail("check code", result)

    def has_app(self, authenticator_id: str) -> bool:
        """Authy cannot tell whether the person installed its app: OneTouch is always tried."""
        return True

    def app_access(self, authenticator_id: str) -> AppAccess:
        """Authy hands out no enrolment tokens: its app signs in with the phone number."""
        raise AuthenticatorUnavailable("the Authy app enrols itself with the person's phone number")

"""The real twilio.rest.Client with a deadline on every call, optionally pointed at a local base URL.

`twilio` 9.x has no base-URL argument: each product domain hard-codes https://<product>.twilio.com.
The HTTP client built here rewrites those URLs to <base_url>/twilio/<product>/<path> (the sandbox),
always sends a timeout, and keeps one requests.Session per thread (the library shares one).
The client is given a non-empty environment mapping without TWILIO_REGION / TWILIO_EDGE: an empty
mapping would make it fall back to os.environ, and a region or edge would rewrite 127.0.0.1 into
an unreachable host name.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from requests import Session
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT_SECONDS = 5.0
_TWILIO_URL = re.compile(r"^https://([a-z0-9-]+)\.twilio\.com(?::443)?/(.*)$", re.IGNORECASE | re.DOTALL)
_ENVIRONMENT = {"PAYFRIEND_TWILIO_CLIENT": "1"}  # non-empty on purpose: see the module docstring


def rewrite_url(url: str, base_url: str | None) -> str:
    """https://<product>.twilio.com/<path> -> <base_url>/twilio/<product>/<path> (unchanged without base_url)."""
    match = _TWILIO_URL.match(url)
    if not base_url or match is None:
        return url
    return f"{base_url.rstrip('/')}/twilio/{match.group(1).lower()}/{match.group(2)}"


class PayfriendHttpClient(TwilioHttpClient):
    """TwilioHttpClient with a mandatory timeout, per-thread sessions and optional URL rewriting."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS, base_url: str | None = None) -> None:
        if not timeout or timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self._local = threading.local()
        super().__init__(pool_connections=True, timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None

    @property
    def session(self) -> Session:
        """This thread's requests session (created on first use)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = Session()
            session.mount("https://", HTTPAdapter(pool_maxsize=min(32, (os.cpu_count() or 1) + 4)))
            self._local.session = session
        return session

    @session.setter
    def session(self, value: Any) -> None:
        """Ignore the base class's shared session; sessions are per thread."""

    def request(self, method: str, url: str, params: Any = None, data: Any = None, headers: Any = None,
                auth: Any = None, timeout: float | None = None, allow_redirects: bool = False) -> Response:
        """Send one request to the rewritten URL with a timeout."""
        return super().request(method, rewrite_url(url, self.base_url), params=params, data=data,
                               headers=headers, auth=auth, timeout=timeout or self.timeout,
                               allow_redirects=allow_redirects)


def make_twilio_client(account_sid: str, auth_token: str, base_url: str | None = None,
                       timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Client:
    """A twilio Client for these credentials; with base_url every product goes to that sandbox."""
    http_client = PayfriendHttpClient(timeout=timeout, base_url=base_url)
    return Client(account_sid, auth_token, http_client=http_client, environment=dict(_ENVIRONMENT))

"""Helpers every blueprint shares: the container, and the URL a provider signed."""

from __future__ import annotations

from typing import Any, Protocol

from flask import current_app, request

from bot.core.entities import InboundMessage
from bot.services import Services
from bot.settings import Settings


class Application(Protocol):
    """What the views need of the wired application: signature checks, translations, the use cases."""

    settings: Settings
    services: Services

    @property
    def telegram_webhook_secret(self) -> str | None: ...

    def verify_authy_callback(self, url: str, method: str, nonce: str, signature: str, params: dict) -> bool: ...

    def parse_authy_callback(self, body: dict) -> dict | None: ...

    def verify_twilio_signature(self, url: str, params: Any, signature: str) -> bool: ...

    def inbound_sms(self, form: Any) -> InboundMessage | None: ...

    def verify_event(self, form: Any) -> dict | None: ...

    def handle_telegram_update(self, data: dict) -> bool: ...

    def database_ok(self) -> bool: ...


def container() -> Application:
    """The application this Flask app was built around."""
    return current_app.extensions["payfriend"]


def signed_url(with_query: bool) -> str:
    """The URL the provider called: PUBLIC_URL + path when set (behind a proxy), else the request URL."""
    public = container().settings.public_url
    if public:
        url = public.rstrip("/") + request.path
        query = request.query_string.decode("latin-1")
        return url + ("?" + query if with_query and query else "")
    return request.url if with_query else request.base_url

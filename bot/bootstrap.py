"""The one place that builds adapters from settings and wires the services. Nothing runs at import."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from bot.core.entities import Channel, InboundMessage
from bot.currencies import format_money, grammar_context
from bot.core.grammar import parse
from bot.ports import Authenticator, Messenger
from bot import jobs
from bot.scheduler import Dispatcher, PaymentTimers, Ticker
from bot.services import notifications
from bot.services import ServiceConfig, Services
from bot.settings import Settings
from bot.phones import normalize_phone

log = logging.getLogger(__name__)

class StartupError(Exception):
    """This process cannot run as configured; the message says why, in one line."""


SANDBOX_SECRET_KEY = "payfriend-sandbox-only-secret"  # never used with real credentials


class UtcClock:
    """The system clock, timezone-aware UTC."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(timezone.utc)


@dataclass
class Keys:
    """The credentials and addresses the adapters use: real ones, or the sandbox's."""

    telegram_token: str | None
    authy_api_key: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_phone_number: str | None
    verify_service_sid: str | None
    secret_key: str
    sandbox_url: str | None = None
    verify_phone_service_sid: str | None = None  # a plain Verify service: sign-up codes name no payment


@dataclass
class Container:
    """The wired application: every part bootstrap built, nothing started; webhooks translate through it."""

    settings: Settings
    keys: Keys
    services: Services
    authenticator: Authenticator
    messengers: dict[Channel, Messenger]
    timers: PaymentTimers
    sweep: Ticker
    outbox: Dispatcher
    jobs: Dispatcher
    telegram: Any = None  # TelegramGateway, when a Telegram token is configured
    polling: bool = False
    close: Callable[[], None] = lambda: None  # release what build() opened (the database pool)

    @property
    def sandbox_url(self) -> str | None:
        """The sandbox address when this process runs against the sandbox."""
        return self.keys.sandbox_url

    @property
    def telegram_webhook_secret(self) -> str | None:
        """The secret Telegram sends with every webhook update."""
        if self.settings.telegram_webhook_secret is not None:
            return self.settings.telegram_webhook_secret.get_secret_value()
        return hmac.new(self.keys.secret_key.encode(), b"telegram-webhook", hashlib.sha256).hexdigest()[:48]

    def verify_authy_callback(self, url: str, method: str, nonce: str, signature: str, params: dict) -> bool:
        """Check X-Authy-Signature over the callback."""
        from bot.adapters.authy_callback import verify_authy_callback

        if self.keys.authy_api_key is None:
            return False
        return verify_authy_callback(self.keys.authy_api_key, url, method, nonce, signature, params)

    def parse_authy_callback(self, body: dict) -> dict | None:
        """The approval request uuid and status of a callback, or None when it carries no decision."""
        from bot.adapters.authy_callback import parse_authy_callback

        decision = parse_authy_callback(body)
        if not decision.get("uuid") or decision.get("status") not in ("approved", "denied"):
            return None
        return decision

    def verify_twilio_signature(self, url: str, params: Any, signature: str) -> bool:
        """Check X-Twilio-Signature with our auth token."""
        from bot.adapters.twilio_webhooks import verify_twilio_signature

        if not self.keys.twilio_auth_token:
            return False
        return verify_twilio_signature(self.keys.twilio_auth_token, url, params, signature)

    def inbound_sms(self, form: Any) -> InboundMessage | None:
        """Translate Twilio's inbound SMS webhook into an InboundMessage (None: not one)."""
        from bot.adapters.twilio_webhooks import parse_inbound_sms

        try:
            sms = parse_inbound_sms(form)
        except ValueError:
            return None
        return InboundMessage(Channel.SMS, sms["from"], sms["dedupe_key"], text=sms["body"],
                              keyword=sms["opt_out_type"])

    def verify_event(self, form: Any) -> dict | None:
        """The fields of a Verify webhook (None: not one)."""
        from bot.adapters.twilio_webhooks import parse_verify_webhook

        try:
            return parse_verify_webhook(form)
        except ValueError:
            return None

    def handle_telegram_update(self, data: dict) -> bool:
        """Hand a webhook update to the Telegram gateway; False if it is not an update."""
        if self.telegram is None:
            return False
        return self.telegram.handle_webhook(data)

    def database_ok(self) -> bool:
        """Whether the database answers."""
        try:
            with self.services.uow() as uow:
                uow.users.get(0)
            return True
        except Exception:
            return False


def resolve_keys(settings: Settings, sandbox_url: str | None) -> Keys:
    """Real credentials from settings, or the sandbox's well-known ones."""
    if sandbox_url is not None:
        from sandbox.world import Keys as SandboxKeys

        k = SandboxKeys()
        secret = settings.secret_key.get_secret_value() if settings.secret_key else SANDBOX_SECRET_KEY
        return Keys(k.telegram_token, k.authy_api_key, k.twilio_account_sid, k.twilio_auth_token,
                    k.twilio_phone_number, k.verify_service_sid, secret, sandbox_url, k.verify_phone_service_sid)

    def reveal(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return Keys(reveal(settings.telegram_bot_token), reveal(settings.authy_api_key), settings.twilio_account_sid,
                reveal(settings.twilio_auth_token), settings.twilio_phone_number, settings.twilio_verify_service_sid,
                reveal(settings.secret_key) or "", None, settings.twilio_verify_phone_service_sid)


def build_authenticator(settings: Settings, keys: Keys) -> Authenticator:
    """The Authenticator adapter the settings choose."""
    timeout = settings.http_timeout_seconds
    if settings.authenticator == "verify":
        from bot.adapters.twilio_client import make_twilio_client
        from bot.adapters.twilio_verify import VerifyAuthenticator

        if not (keys.twilio_account_sid and keys.twilio_auth_token and keys.verify_service_sid):
            raise StartupError("AUTHENTICATOR=verify needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                               "TWILIO_VERIFY_SERVICE_SID")
        client = make_twilio_client(keys.twilio_account_sid, keys.twilio_auth_token, base_url=keys.sandbox_url,
                                    timeout=timeout)
        if keys.verify_phone_service_sid is None:
            log.warning("TWILIO_VERIFY_PHONE_SERVICE_SID is not set: sign-up codes come from the PSD2 service "
                        "and read like a payment of 0")
        return VerifyAuthenticator(client, keys.verify_service_sid, phone_service_sid=keys.verify_phone_service_sid)
    from bot.adapters.authy import AuthyAuthenticator

    api_uri = keys.sandbox_url + "/authy" if keys.sandbox_url else "https://api.authy.com"
    return AuthyAuthenticator(keys.authy_api_key or "", api_uri=api_uri, timeout=timeout)


def build_messengers(settings: Settings, keys: Keys, telegram: Any) -> dict[Channel, Messenger]:
    """One Messenger per channel that has credentials."""
    messengers: dict[Channel, Messenger] = {}
    if telegram is not None:
        messengers[Channel.TELEGRAM] = telegram
    if keys.twilio_account_sid and keys.twilio_auth_token and keys.twilio_phone_number:
        from bot.adapters.twilio_client import make_twilio_client
        from bot.adapters.twilio_sms import TwilioSmsMessenger

        client = make_twilio_client(keys.twilio_account_sid, keys.twilio_auth_token, base_url=keys.sandbox_url,
                                    timeout=settings.http_timeout_seconds)
        messengers[Channel.SMS] = TwilioSmsMessenger(client, keys.twilio_phone_number)
    return messengers


def _authenticator_label(settings: Settings) -> str:
    return "Payfriend" if settings.authenticator == "verify" else "Authy"  # Verify Push lives in our own app


def build(settings: Settings, *, sandbox_url: str | None = None, **overrides: Any) -> Container:
    """Build every part of the application from settings, starting nothing.

    `overrides` replace built parts by name (authenticator, clock, messengers): tests pass fakes.
    """
    from models.engine import make_engine
    from models.uow import SqlUnitOfWorkFactory

    keys = resolve_keys(settings, sandbox_url)
    engine = make_engine(settings.database_url, one_writer=True)
    uow_factory = SqlUnitOfWorkFactory(engine)
    authenticator = overrides.get("authenticator") or build_authenticator(settings, keys)
    timers = PaymentTimers()

    def parse_text(text: str, default_currency: str):
        return parse(text, grammar_context(default_currency, settings.max_payment_amount))

    config = ServiceConfig(
        fallback_seconds=settings.fallback_seconds,
        expiry_seconds=settings.payment_expiry_seconds,
        fingerprint_key=hashlib.sha256(("fingerprint:" + keys.secret_key).encode()).digest(),
        authenticator_label=_authenticator_label(settings),
        default_currency=settings.default_currency,
        low_value_exemption=settings.sca_low_value_exemption,
        rates_to_eur=settings.rates_to_eur(),
        call_timeout_seconds=settings.http_timeout_seconds,
        push_limit=settings.push_limit,
        push_window_seconds=settings.push_limit_minutes * 60,
        lock_seconds=settings.lock_hours * 3600,
        phone_code_limit=settings.phone_codes_per_hour,
    )
    services = Services(uow=uow_factory, authenticator=authenticator, clock=overrides.get("clock") or UtcClock(), config=config,
                        parse=parse_text, format_money=format_money, normalize_phone=normalize_phone,
                        new_payment_id=lambda: "pay_" + secrets.token_hex(12), timers=timers)
    telegram = None
    if keys.telegram_token:
        from bot.adapters.telegram import TelegramGateway

        telegram = TelegramGateway(keys.telegram_token, keys.sandbox_url, settings.http_timeout_seconds,
                                   services.handle_inbound, polling=settings.telegram_mode == "polling")
    messengers = overrides.get("messengers") or build_messengers(settings, keys, telegram)
    outbox = Dispatcher("outbox", lambda limit: notifications.claim_outbox(services, limit),
                        lambda message: message.id if notifications.send(services, messengers, message) else None,
                        threads=8, flush=lambda sent: notifications.mark_delivered(services, sent))
    job_workers = Dispatcher("jobs", lambda limit: jobs.claim(services, limit), lambda job: jobs.run(services, job))
    services.settler = telegram
    services.typing = telegram

    def wake() -> None:
        outbox.kick()
        job_workers.kick()

    services.wake = wake
    sweep = Ticker("sweep", services.sweep)
    timers.bind(due=sweep.kick)
    container = Container(settings=settings, keys=keys, services=services, authenticator=authenticator,
                          messengers=messengers, timers=timers, sweep=sweep, outbox=outbox, jobs=job_workers, telegram=telegram,
                          polling=telegram is not None and settings.telegram_mode == "polling",
                          close=engine.dispose)
    return container

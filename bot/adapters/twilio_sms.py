"""Messenger port for the SMS channel, on Twilio's Messages API."""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.core.entities import Channel, OutboxMessage
from bot.ports import DeliveryError

log = logging.getLogger(__name__)

UNSUBSCRIBED = 21610  # the person texted STOP: Twilio refuses until they text START
MAX_BODY = 1600


def delivery_error(exc: Exception) -> DeliveryError:
    """Classify a failed send: 4xx permanent (21610 blocked), 429/5xx/transport worth a retry."""
    if isinstance(exc, TwilioRestException):
        detail = f"twilio {exc.status} code {exc.code}"  # Twilio's text may quote the full phone number
        if exc.code == UNSUBSCRIBED:
            return DeliveryError(detail, permanent=True, blocked=True)
        if exc.status == 429 or exc.status >= 500:
            return DeliveryError(detail)
        return DeliveryError(detail, permanent=True)
    if isinstance(exc, requests.Timeout):
        return DeliveryError(f"twilio timeout: {exc.__class__.__name__}")
    return DeliveryError(f"twilio unreachable: {exc.__class__.__name__}: {exc}")


class TwilioSmsMessenger:
    """Sends outbox messages of Channel.SMS with client.messages.create; raises DeliveryError."""

    def __init__(self, client: Client, from_number: str) -> None:
        self._client = client
        self.from_number = from_number

    def deliver(self, message: OutboxMessage) -> None:
        """Send one SMS (text only: SMS has no buttons)."""
        if message.channel != Channel.SMS:
            raise DeliveryError(f"not an SMS message: {message.channel}", permanent=True)
        body = message.text if len(message.text) <= MAX_BODY else message.text[: MAX_BODY - 1] + "…"
        try:
            sent = self._client.messages.create(to=message.recipient, from_=self.from_number, body=body)
        except (TwilioRestException, requests.RequestException) as exc:
            raise delivery_error(exc) from exc
        except TwilioException as exc:
            raise DeliveryError(f"twilio: {exc}") from exc
        log.info("sms %s to %s: %s", sent.sid, message.recipient[-4:], sent.status)

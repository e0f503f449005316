"""Twilio Messaging stand-in: Messages create/fetch and the signed inbound SMS webhook."""

from __future__ import annotations

import math
import re
from typing import Any

import phonenumbers
from flask import Blueprint, jsonify, request

from sandbox.twilio_api import TwilioError, TwilioSandbox, api_route, not_found, rfc2822
from sandbox.world import Sms

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
STOP_REPLY = ("You have successfully been unsubscribed. You will not receive any more messages from this "
              "number. Reply START to resubscribe.")
START_REPLY = ("You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
               "Reply STOP to unsubscribe. Msg&Data Rates May Apply.")
# Twilio's magic test numbers (To): each fails the way the real one does.
MAGIC_TO = {
    "+15005550001": (21211, "Invalid 'To' Phone Number"),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS"),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€\f")


def segments(body: str) -> int:
    """SMS segments: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67 per part)."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units = sum(2 if c in _GSM7_EXT else 1 for c in body)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
    return 1 if units <= 70 else math.ceil(units / 67)


def _geo(number: str) -> str:
    """The ISO country of a number, or "" (Twilio's FromCountry/ToCountry)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def message_json(sandbox: TwilioSandbox, m: dict[str, Any]) -> dict[str, Any]:
    """The api.v2010.account.message resource."""
    uri = f"/2010-04-01/Accounts/{m['account_sid']}/Messages/{m['sid']}.json"
    return {"account_sid": m["account_sid"], "api_version": "2010-04-01", "body": m["body"],
            "date_created": rfc2822(m["created"]), "date_sent": rfc2822(m["created"]),
            "date_updated": rfc2822(m["created"]), "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": m["from"], "messaging_service_sid": m["messaging_service_sid"],
            "num_media": "0", "num_segments": str(segments(m["body"])), "price": None, "price_unit": "USD",
            "sid": m["sid"], "status": m["status"], "to": m["to"],
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")}, "uri": uri}


def create_message(sandbox: TwilioSandbox, account_sid: str, form: Any) -> dict[str, Any]:
    """Validate like Twilio, then put the SMS into the person's inbox."""
    to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
    service_sid = form.get("MessagingServiceSid") or None
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not from_ and not service_sid:
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
        raise TwilioError(400, 21602, "Message body is required.")
    if len(body) > 1600:
        raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if from_ and from_ != sandbox.keys.twilio_phone_number:
        raise TwilioError(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound "
                                      "phone number or short code for your account.")
    if not E164.match(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if to in MAGIC_TO:
        raise TwilioError(400, *MAGIC_TO[to])
    with sandbox.world.lock:
        if to in sandbox.opted_out:
            raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = sandbox.new_sid("SM")
        sender = from_ or sandbox.keys.twilio_phone_number
        sandbox.world.deliver_sms(to, sender, body, sid=sid)
        record = {"sid": sid, "account_sid": account_sid, "to": to, "from": sender, "body": body,
                  "messaging_service_sid": service_sid, "status": "queued", "created": sandbox.now()}
        sandbox.messages[sid] = record
        sandbox.world.payfriend_wrote(to, body)  # the person's apps see it (an enrolment link ...)
        return message_json(sandbox, record)


def inbound_params(sandbox: TwilioSandbox, sms: Sms) -> list[tuple[str, str]]:
    """The form fields of Twilio's inbound SMS webhook (§1.2), in Twilio's order."""
    to = sms.to if E164.match(sms.to or "") else sandbox.keys.twilio_phone_number
    fields = [("ToCountry", _geo(to)), ("ToState", ""), ("SmsMessageSid", sms.sid), ("NumMedia", "0"),
              ("ToCity", ""), ("FromZip", ""), ("SmsSid", sms.sid), ("FromState", ""),
              ("SmsStatus", "received"), ("FromCity", ""), ("Body", sms.body), ("FromCountry", _geo(sms.from_)),
              ("To", to), ("ToZip", ""), ("NumSegments", str(segments(sms.body))), ("ReferralNumMedia", "0"),
              ("MessageSid", sms.sid), ("AccountSid", sandbox.keys.twilio_account_sid), ("From", sms.from_),
              ("ApiVersion", "2010-04-01")]
    word = sms.body.strip().upper()
    for words, kind in ((STOP_WORDS, "STOP"), (START_WORDS, "START"), (HELP_WORDS, "HELP")):
        if word in words:
            fields.append(("OptOutType", kind))
    return fields


def person_sms(sandbox: TwilioSandbox, sms: Sms) -> int:
    """A person texted the Payfriend number: apply opt-out keywords, then POST the signed webhook."""
    word = sms.body.strip().upper()
    number = sandbox.keys.twilio_phone_number
    reply = None
    with sandbox.world.lock:
        if word in STOP_WORDS:
            sandbox.opted_out.add(sms.from_)
            reply = STOP_REPLY
        elif word in START_WORDS and sms.from_ in sandbox.opted_out:
            sandbox.opted_out.discard(sms.from_)
            reply = START_REPLY
    if reply:
        sandbox.world.deliver_sms(sms.from_, number, reply)
    return sandbox.deliver("messaging", sandbox.world.callbacks.get("messaging"), inbound_params(sandbox, sms))


def register(bp: Blueprint, sandbox: TwilioSandbox) -> None:
    """Mount the Messages routes and take the world's person-SMS hook."""
    prefix = "/2010-04-01/Accounts/<account_sid>"

    def account(account_sid: str) -> None:
        if account_sid != sandbox.keys.twilio_account_sid:
            raise not_found(f"/2010-04-01/Accounts/{account_sid}")

    @api_route(bp, sandbox, "api", prefix + "/Messages.json", ["POST"])
    def create_message_view(account_sid: str):
        account(account_sid)
        return jsonify(create_message(sandbox, account_sid, request.form)), 201

    @api_route(bp, sandbox, "api", prefix + "/Messages/<sid>.json", ["GET"])
    def fetch_message(account_sid: str, sid: str):
        account(account_sid)
        with sandbox.world.lock:
            record = sandbox.messages.get(sid)
            if record is None:
                raise not_found(f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")
            return jsonify(message_json(sandbox, {**record, "status": "delivered"}))

    sandbox.world.on_person_sms = lambda sms: person_sms(sandbox, sms)

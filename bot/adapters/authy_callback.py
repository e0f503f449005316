"""Check and read Authy OneTouch callbacks; the Flask webhook calls these before it acts.

The signature check is the `authy` library's own `validate_one_touch_signature`. The library
compares with `==`; we hand it the received signature as a string whose equality is
`hmac.compare_digest`, so the comparison runs in constant time without re-implementing the
canonicalisation.
"""

from __future__ import annotations

import hmac
from typing import Any

from authy import AuthyFormatException
from authy.api.resources import OneTouch

DECISIONS = ("approved", "denied")
PAYMENT_ID_KEY = "payment_id"  # the hidden detail that carries our payment id
CHANNEL_KEY = "channel"  # the hidden detail that carries the channel the payment came from


class _ConstantTimeStr(str):
    """A str whose == is a constant-time comparison (it wins as the right operand: it is a subclass)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self.encode("utf-8"), other.encode("utf-8"))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = str.__hash__


def verify_authy_callback(api_key: str, url: str, method: str, nonce: Any, signature: Any,
                          params: Any) -> bool:
    """True only if the X-Authy-Signature matches this URL, method, nonce and parsed JSON body."""
    if not all(isinstance(v, str) and v for v in (api_key, url, method, nonce, signature)):
        return False
    if not isinstance(params, dict) or not params:
        return False
    validator = OneTouch("https://api.authy.com", api_key)  # only its api_key is used: no network
    try:
        return bool(validator.validate_one_touch_signature(_ConstantTimeStr(signature), nonce, method,
                                                           url, params))
    except (AuthyFormatException, TypeError, ValueError, UnicodeError):
        return False


def _text_or_none(value: Any) -> str | None:
    """A non-empty string or number as text; anything else as None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value)
        return text or None
    return None


def parse_authy_callback(body: Any) -> dict[str, str | None]:
    """The decision in a (verified) callback body: uuid, status, payment_id, channel, authy_id.

    Never raises: a field that is missing or malformed is None, and status is None unless it is
    approved or denied (Authy sends no other; expiry is only visible by polling). payment_id is None
    when the request carried none, as in the console's test callback.
    """
    body = body if isinstance(body, dict) else {}
    uuid = body.get("uuid")
    status = body.get("status")
    request = body.get("approval_request")
    transaction = request.get("transaction") if isinstance(request, dict) else None
    hidden = transaction.get("hidden_details") if isinstance(transaction, dict) else None
    hidden = hidden if isinstance(hidden, dict) else {}
    return {
        "uuid": uuid if isinstance(uuid, str) and uuid else None,
        "status": status if status in DECISIONS else None,
        "payment_id": _text_or_none(hidden.get(PAYMENT_ID_KEY)),
        "channel": _text_or_none(hidden.get(CHANNEL_KEY)),
        "authy_id": _text_or_none(body.get("authy_id")),
    }

"""X-Twilio-Signature against independent test vectors: the sandbox's signer and the adapter's validator.

Vector: twilio/twilio-python tests/unit/test_request_validator.py (as quoted in reference/twilio-api.md
§1.3); the SHA-256 value is the one twilio 9.13.0's compute_signature gives for the same inputs.
"""

from __future__ import annotations

import hashlib

import pytest
from werkzeug.datastructures import MultiDict

from bot.adapters.twilio_webhooks import verify_twilio_signature
from sandbox.twilio_signing import compute_signature, signing_string

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309", "To": "+18005551212",
          "Caller": "+14158675309"}
SHA1 = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SHA256 = "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s="


def test_signing_string_sorts_keys_and_values() -> None:
    assert signing_string(URL, PARAMS) == (
        URL + "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212")
    assert signing_string("u", MultiDict([("b", "2"), ("a", "9"), ("a", "1"), ("a", "1")])) == "ua1a9b2"


def test_sandbox_signer_matches_the_vectors() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == SHA1
    assert compute_signature(TOKEN, URL, list(PARAMS.items())) == SHA1
    assert compute_signature(TOKEN, URL, MultiDict(PARAMS)) == SHA1
    assert compute_signature(TOKEN, URL, PARAMS, algorithm="HMAC_SHA256") == SHA256


@pytest.mark.parametrize("params", [PARAMS, MultiDict(PARAMS), list(PARAMS.items())],
                         ids=["dict", "multidict", "pairs"])
def test_adapter_validator_accepts_the_vectors(params: object) -> None:
    assert verify_twilio_signature(TOKEN, URL, params, SHA1)
    assert verify_twilio_signature(TOKEN, URL, params, SHA256, algorithm="HMAC_SHA256")


def test_adapter_validator_accepts_the_url_with_or_without_its_port() -> None:
    assert verify_twilio_signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS, SHA1)
    with_port = compute_signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS)
    assert verify_twilio_signature(TOKEN, URL, PARAMS, with_port)


@pytest.mark.parametrize("url, params, signature, token", [
    (URL, {**PARAMS, "Digits": "1235"}, SHA1, TOKEN),  # a changed value
    (URL, {**PARAMS, "Extra": ""}, SHA1, TOKEN),  # an added parameter
    (URL.replace("foo=1", "foo=2"), PARAMS, SHA1, TOKEN),  # another query string
    ("http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, SHA1, TOKEN),  # another scheme
    (URL, PARAMS, SHA1, "54321"),  # another token
    (URL, PARAMS, SHA1[:-2] + "A=", TOKEN),  # another signature
    (URL, PARAMS, "", TOKEN),
    (URL, PARAMS, None, TOKEN),
])
def test_adapter_validator_rejects_tampering(url: str, params: dict, signature: str | None, token: str) -> None:
    assert not verify_twilio_signature(token, url, params, signature)


def test_both_sides_agree_on_sandbox_deliveries() -> None:
    form = MultiDict([("Body", "send $20 to Neville"), ("From", "+15551230001"), ("MessageSid", "SM" + "a" * 32),
                      ("Body", "a second Body value")])
    url = "http://127.0.0.1:5000/webhooks/twilio/sms"
    assert verify_twilio_signature("sandbox-token", url, form, compute_signature("sandbox-token", url, form))


def test_json_webhook_body_hash() -> None:
    body = '{"type": "challenge.approved"}'
    url = f"https://example.com/hook?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    signature = compute_signature(TOKEN, url)
    assert verify_twilio_signature(TOKEN, url, body, signature)
    assert not verify_twilio_signature(TOKEN, url, body.replace("approved", "denied"), signature)

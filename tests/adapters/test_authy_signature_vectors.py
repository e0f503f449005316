"""The two published Authy callback signature vectors, checked against both implementations.

sandbox/authy_signing.py (our own, used to sign the sandbox's callbacks) and
bot/adapters/authy_callback.py (the `authy` library's validator, used by the webhook) are checked
independently against the same vectors, then against each other on generated bodies.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.authy_callback import verify_authy_callback
from sandbox import authy_signing

# Known-good vector: a real-looking Authy callback (uphold-forks/authy-client README and tests).
KEY = "1DS9YIwGquvvIdx8GdcdqZGLAewZZyhd"
NONCE = "1455825429"
URL = "https://foo.bar/"
DEVICE_SIGNATURE = (
    "BObhJgZwgU7O9r4Uo9VT6j6shAOe7y/IRGpW/N0Uq34/XHZU9E+aHOI5rcQzW1ZgNCECzVrqrsnjhYEK4Zq1naKWu0YNkuvILmMz"
    "8IxJEQH+c+6x186fjIjxvP4nu4p/pfUDomo/za24s1XOjtNlVsrDTDXClHUh5MjFQbyBjhFd8gOtmGVatN7K2Lx71I8YR2JDLbRX"
    "4DlJEMu++PLBn1nqQH9tbNYzX5jjX87CXPBtDfRwfWSs/imnfZ9zkDq4ZKuBcuwzQNsxKlby6782X0o78rYhCHrcDnHgRtyMGvX9"
    "ovK3XTt6M7p6i9SKaRgBWIOFVPygxv15iJesqt9cng=="
)
BODY = {
    "authy_id": 1234567,
    "callback_action": "approval_request_status",
    "device_uuid": "4d89c320-a9bb-0133-7c02-0e67b818e6fb",
    "status": "approved",
    "uuid": "996221c0-b7a7-0133-7c06-0e67b818e6fb",
    "signature": DEVICE_SIGNATURE,
    "approval_request": {
        "expiration_timestamp": 1455911778,
        "logos": None,
        "transaction": {
            "created_at_time": 1455825378,
            "customer_uuid": "2ccf0040-ed25-0132-5987-0e67b818e6fb",
            "details": {},
            "device_details": None,
            "device_geolocation": None,
            "device_signing_time": 0,
            "encrypted": False,
            "flagged": False,
            "hidden_details": {},
            "message": ".",
            "reason": None,
            "requester_details": None,
            "status": "approved",
            "uuid": "996201c0-b7a7-0133-7c06-0e67b818e6fb",
        },
    },
}
EXPECTED = "hqB6las54sMBA83GKs0U1QQi9ocJ2tH20SXHZNzfqqQ="

# Docs example (twilio.com/docs/authy/validation).
DOCS_KEY = "foobar123"
DOCS_NONCE = "1427849783.886085"
DOCS_URL = "https://api.authy.com/dashboard/json/application/webhooks"
DOCS_PARAMS = {"b": "val|ue&2", "a": "value1"}
DOCS_CANONICAL = "a=value1&b=val%7Cue%262"
DOCS_EXPECTED = "4f9676D/+BzsEq8NzF0fXpv7qETnzJUW/4YGe7p0EPM="


# ----------------------------------------------------------------------------- sandbox/authy_signing.py


def test_sandbox_canonical_params_of_the_known_good_vector() -> None:
    canonical = authy_signing.canonical_params(BODY)
    assert len(canonical.split("&")) == 20 and len(canonical) == 1356
    assert canonical.startswith(
        "approval_request%5Bexpiration_timestamp%5D=1455911778&approval_request%5Blogos%5D=&")
    assert canonical.endswith("&status=approved&uuid=996221c0-b7a7-0133-7c06-0e67b818e6fb")
    assert "%5Bdetails%5D" not in canonical and "hidden_details" not in canonical  # empty dicts vanish
    assert "signature=BObhJgZwgU7O9r4Uo9VT6j6shAOe7y%2FIRGpW%2FN0Uq34%2FXHZU9E%2BaHOI5" in canonical
    assert canonical.count("%3D%3D") == 1  # the device signature's padding


def test_sandbox_signs_the_known_good_vector() -> None:
    assert authy_signing.sign(KEY, NONCE, "POST", URL, BODY) == EXPECTED
    assert authy_signing.verify(KEY, NONCE, "POST", URL, BODY, EXPECTED)


def test_sandbox_signs_the_docs_example() -> None:
    assert authy_signing.canonical_params(DOCS_PARAMS) == DOCS_CANONICAL
    assert authy_signing.string_to_sign(DOCS_NONCE, "POST", DOCS_URL, DOCS_PARAMS) == (
        f"{DOCS_NONCE}|POST|{DOCS_URL}|{DOCS_CANONICAL}")
    assert authy_signing.sign(DOCS_KEY, DOCS_NONCE, "POST", DOCS_URL, DOCS_PARAMS) == DOCS_EXPECTED


def test_sandbox_signature_depends_on_every_input() -> None:
    assert authy_signing.sign(KEY, NONCE, "post", URL, BODY) != EXPECTED  # method used as given
    assert authy_signing.sign(KEY, "1455825430", "POST", URL, BODY) != EXPECTED
    assert authy_signing.sign(KEY, NONCE, "POST", "https://foo.bar/x", BODY) != EXPECTED
    assert authy_signing.sign("another-key", NONCE, "POST", URL, BODY) != EXPECTED
    changed = copy.deepcopy(BODY)
    changed["status"] = "denied"
    assert authy_signing.sign(KEY, NONCE, "POST", URL, changed) != EXPECTED
    assert not authy_signing.verify(KEY, NONCE, "POST", URL, changed, EXPECTED)


def test_sandbox_canonical_quirks() -> None:
    params = {"k": {"list": [{"a": "1"}, "x y", True], "none": None, "nonesuch": "Nonetheless", "b": False,
                    "empty": {}, "path": "a/b"}}
    assert authy_signing.canonical_params(params) == "&".join([
        "k%5Bb%5D=false",
        "k%5Blist%5D%5B%5D%5Ba%5D=1",
        "k%5Blist%5D%5B%5D=x+y",  # sorted while the indices were still there ([1] before [2]) ...
        "k%5Blist%5D%5B%5D=True",  # ... and list items are str()'d: booleans keep their capital
        "k%5Bnone%5D=",
        "k%5Bnonesuch%5D=theless",  # every "=None" goes, even at the start of a value
        "k%5Bpath%5D=a%2Fb",
    ])


# ----------------------------------------------------------------------------- the library, through the adapter helper


def test_library_accepts_the_known_good_vector() -> None:
    assert verify_authy_callback(KEY, URL, "POST", NONCE, EXPECTED, copy.deepcopy(BODY)) is True


def test_library_accepts_the_docs_example() -> None:
    assert verify_authy_callback(DOCS_KEY, DOCS_URL, "POST", DOCS_NONCE, DOCS_EXPECTED, dict(DOCS_PARAMS)) is True


def test_library_accepts_the_vector_after_a_json_round_trip() -> None:
    body = json.loads(json.dumps(BODY, separators=(",", ":")))  # what a webhook parses
    assert verify_authy_callback(KEY, URL, "POST", NONCE, EXPECTED, body) is True


@pytest.mark.parametrize("change", [
    lambda a: a.update(signature=a["signature"][:-2] + "A="),
    lambda a: a.update(method="post"),
    lambda a: a.update(nonce="1455825430"),
    lambda a: a.update(url="http://foo.bar/"),
    lambda a: a.update(key="1DS9YIwGquvvIdx8GdcdqZGLAewZZyhD"),
    lambda a: a["params"].update(status="denied"),
    lambda a: a["params"]["approval_request"]["transaction"]["hidden_details"].update(payment_id="pay-1"),
])
def test_library_rejects_any_change_to_the_vector(change) -> None:
    args = {"key": KEY, "url": URL, "method": "POST", "nonce": NONCE, "signature": EXPECTED,
            "params": copy.deepcopy(BODY)}
    change(args)
    assert verify_authy_callback(args["key"], args["url"], args["method"], args["nonce"], args["signature"],
                                 args["params"]) is False


# ----------------------------------------------------------------------------- the two against each other

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                  st.floats(allow_nan=False, allow_infinity=False),
                  st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
_key = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_json = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(_key, inner, max_size=3)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(params=st.dictionaries(_key, _json, min_size=1, max_size=5), nonce=st.from_regex(r"\A[0-9]{1,12}\Z"))
def test_sandbox_signatures_are_accepted_by_the_library(params: dict, nonce: str) -> None:
    body = json.loads(json.dumps(params))
    signature = authy_signing.sign("a-key", nonce, "POST", "http://127.0.0.1:5000/webhooks/authy", body)
    assert verify_authy_callback("a-key", "http://127.0.0.1:5000/webhooks/authy", "POST", nonce, signature, body)

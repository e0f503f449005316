"""POST /webhooks/authy: only a callback Authy signed for this URL decides a payment, and only once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.entities import Payment, User
from bot.core.payment import State, Step
from sandbox.world import Keys
from tests.webhooks.support import AUTHY_PATH, LOCAL, WebApp, authy_headers

KEY = Keys().authy_api_key  # what the sandbox's Authy signs with, and Payfriend checks with


def approved_callback(app: WebApp, user: User | None = None) -> tuple[Payment, dict[str, Any]]:
    """A payment waiting for its push, approved in the app; returns it and the callback Authy would send."""
    payment = app.pushed_payment(user or app.ready_user())
    app.decide_in_app(payment.push_request_id, "approve")
    return payment, app.authy_callback(payment.push_request_id)


def as_denied(body: dict[str, Any]) -> dict[str, Any]:
    """The same callback, saying denied."""
    denied = copy.deepcopy(body)
    denied["status"] = denied["approval_request"]["transaction"]["status"] = "denied"
    return denied


def unsigned(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """No signature headers at all."""
    return body, {}


def wrong_key(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """Signed with a key that is not ours."""
    return body, authy_headers("someone-elses-key", body)


def garbled_signature(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A signature with one character changed."""
    headers = authy_headers(KEY, body)
    return body, {**headers, "X-Authy-Signature": "A" + headers["X-Authy-Signature"][1:]}


def no_nonce(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """The right signature without its nonce header."""
    return body, {"X-Authy-Signature": authy_headers(KEY, body)["X-Authy-Signature"]}


def other_nonce(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """The right signature sent with another nonce."""
    return body, {**authy_headers(KEY, body), "X-Authy-Signature-Nonce": "1700000099.000001"}


def for_another_url(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """Signed for another URL (a callback meant for someone else, replayed here)."""
    return body, authy_headers(KEY, body, url="https://elsewhere.example" + AUTHY_PATH)


def denied_then_rewritten(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """Signed as a denial, sent as an approval."""
    return body, authy_headers(KEY, as_denied(body))  # signed as denied, sent as approved


def payment_id_swapped(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """Signed, then the hidden payment id rewritten."""
    headers = authy_headers(KEY, body)
    tampered = copy.deepcopy(body)
    tampered["approval_request"]["transaction"]["hidden_details"]["payment_id"] = "pay_someone_else"
    return tampered, headers


def malformed_json(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A body that is not JSON."""
    return '{"uuid": "' + body["uuid"] + '", "status": "approved"', authy_headers(KEY, body)


def json_list(body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """JSON, but not an object."""
    return f'["{body["uuid"]}", "approved"]', authy_headers(KEY, body)


@pytest.mark.parametrize("forge", [unsigned, wrong_key, garbled_signature, no_nonce, other_nonce, for_another_url,
                                   denied_then_rewritten, payment_id_swapped, malformed_json, json_list],
                         ids=lambda f: f.__name__)
def test_a_callback_authy_did_not_sign_is_refused_and_changes_nothing(
        app: WebApp, forge: Callable[[dict[str, Any]], tuple[Any, dict[str, str]]]) -> None:
    payment, body = approved_callback(app)
    messages = len(app.outbox())
    sent_body, headers = forge(body)

    response = app.post_authy(sent_body, headers)

    assert response.status_code == 403
    after = app.payment(payment.id)
    assert (after.state, after.step, after.decided_at) == (State.PENDING, Step.PUSH, None)
    assert len(app.outbox()) == messages


def test_a_signed_approval_approves_the_payment_once(app: WebApp) -> None:
    user = app.ready_user()
    payment, body = approved_callback(app, user)
    before = app.outbox()

    headers = authy_headers(KEY, body)
    first = app.post_authy(body, headers)

    assert (first.status_code, first.get_json()) == (200, {"result": "applied"})
    approved = app.payment(payment.id)
    assert (approved.state, approved.step, approved.decided_by) == (State.APPROVED, Step.DONE, "push")
    new = app.outbox()[len(before):]
    assert [(m.recipient, m.text) for m in new] == [(user.phone, "Sent: $20.00 to Neville.")]

    replay = app.post_authy(body, headers)  # the same request again
    resent = app.post_authy(body, authy_headers(KEY, body, nonce="1700000001.000001"))  # Authy's retry

    assert [(r.status_code, r.get_json()) for r in (replay, resent)] == [(200, {"result": "duplicate"})] * 2
    assert app.payment(payment.id).decided_at == approved.decided_at
    assert len(app.outbox()) == len(before) + 1


def test_a_later_denial_does_not_undo_an_approval(app: WebApp) -> None:
    payment, body = approved_callback(app)
    assert app.post_authy(body, authy_headers(KEY, body)).get_json() == {"result": "applied"}
    messages = len(app.outbox())
    denied = as_denied(body)

    response = app.post_authy(denied, authy_headers(KEY, denied))

    assert (response.status_code, response.get_json()) == (200, {"result": "ignored"})
    assert app.payment(payment.id).state is State.APPROVED
    assert len(app.outbox()) == messages


def test_a_signed_denial_denies_the_payment(app: WebApp) -> None:
    payment = app.pushed_payment(app.ready_user())
    app.decide_in_app(payment.push_request_id, "deny")
    body = app.authy_callback(payment.push_request_id)

    response = app.post_authy(body, authy_headers(KEY, body))

    assert (response.status_code, response.get_json()) == (200, {"result": "applied"})
    assert app.payment(payment.id).state is State.DENIED
    assert app.outbox()[-1].text == "Not sent: $20.00 to Neville was denied in your authenticator app."


def test_a_signed_callback_for_an_unknown_request_is_answered_and_ignored(app: WebApp) -> None:
    payment, body = approved_callback(app)
    stranger = copy.deepcopy(body)
    stranger["uuid"] = "00000000-0000-4000-8000-000000000000"
    messages = len(app.outbox())

    response = app.post_authy(stranger, authy_headers(KEY, stranger))

    assert (response.status_code, response.get_json()) == (200, {"result": "unknown"})
    assert app.payment(payment.id).state is State.PENDING
    assert len(app.outbox()) == messages


def test_a_signed_callback_without_a_decision_is_ignored(app: WebApp) -> None:
    payment, body = approved_callback(app)
    pending = copy.deepcopy(body)
    pending["status"] = "pending"

    response = app.post_authy(pending, authy_headers(KEY, pending))

    assert (response.status_code, response.get_json()) == (200, {"result": "ignored"})
    assert app.payment(payment.id).state is State.PENDING


def test_behind_a_proxy_the_signature_covers_public_url(start_app) -> None:
    app = start_app(public_url="https://pay.example.com")
    payment, body = approved_callback(app)

    local = app.post_authy(body, authy_headers(KEY, body, url=LOCAL + AUTHY_PATH))
    public = app.post_authy(body, authy_headers(KEY, body, url="https://pay.example.com" + AUTHY_PATH))

    assert local.status_code == 403
    assert (public.status_code, public.get_json()) == (200, {"result": "applied"})
    assert app.payment(payment.id).state is State.APPROVED


def signed_as(body: dict[str, Any], authy_id: Any = None, payment_id: str | None = None) -> dict[str, Any]:
    """The callback with another Authy id and/or hidden payment id, as a validly signed body would carry."""
    changed = copy.deepcopy(body)
    if authy_id is not None:
        changed["authy_id"] = authy_id
    if payment_id is not None:
        changed["approval_request"]["transaction"]["hidden_details"]["payment_id"] = payment_id
    return changed


@pytest.mark.parametrize("claim", ["another person's authy id", "another person's payment", "no payment id"])
def test_a_signed_callback_bound_to_someone_elses_push_is_refused_and_changes_nothing(app: WebApp, claim: str) -> None:
    payment, body = approved_callback(app)
    other = app.ready_user()
    other_payment = app.pushed_payment(other)
    if claim == "another person's authy id":
        forged = signed_as(body, authy_id=int(other.authenticator_id))
    elif claim == "another person's payment":
        forged = signed_as(body, payment_id=other_payment.id)
    else:
        forged = copy.deepcopy(body)
        del forged["approval_request"]["transaction"]["hidden_details"]["payment_id"]
    messages = len(app.outbox())

    response = app.post_authy(forged, authy_headers(KEY, forged))  # validly signed

    assert response.status_code == 403
    for stored in (app.payment(payment.id), app.payment(other_payment.id)):
        assert (stored.state, stored.step, stored.decided_at) == (State.PENDING, Step.PUSH, None)
    assert len(app.outbox()) == messages
    assert app.post_authy(body, authy_headers(KEY, body)).get_json() == {"result": "applied"}  # the true one still counts

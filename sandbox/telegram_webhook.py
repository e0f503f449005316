"""Webhook delivery: POST each pending Update to the bot's webhook, in order, retrying failures."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests

from sandbox.world import World

log = logging.getLogger(__name__)

ATTEMPTS = 3  # per update; then it is dropped and reported in getWebhookInfo.last_error_message
TIMEOUT = 5.0  # seconds per delivery
BACKOFF = 0.25  # seconds, doubled after each failed attempt


def ensure_worker(world: World) -> None:
    """Start this world's delivery thread unless it is already running."""
    st = world.telegram
    with world.lock:
        if st.webhook_thread is not None and st.webhook_thread.is_alive():
            return
        st.webhook_thread = threading.Thread(target=_run, args=(world,), name="sandbox-telegram-webhook",
                                             daemon=True)
        st.webhook_thread.start()


def _next(world: World) -> tuple[str, str | None, dict[str, Any]] | None:
    """The webhook and the next update to deliver, waiting up to a second for one (lock held)."""
    st = world.telegram
    hook = st.webhook
    pending = st.deliverable(1) if hook and world.faults["telegram"] != "down" else []
    if hook is None or not pending:
        world.changed.wait(1.0)
        return None
    return hook.url, hook.secret_token, pending[0]


def _post(url: str, secret: str | None, update: dict[str, Any]) -> str | None:
    """Deliver one update; None on a 2xx answer, else what went wrong."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    try:
        response = requests.post(url, json=update, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return f"Connection failed: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"Wrong response from the webhook: {response.status_code} {response.reason}"


def _run(world: World) -> None:
    st = world.telegram
    while not st.stopping.is_set():
        with world.lock:
            job = _next(world)
            mode = world.faults["telegram"]
        if job is None:
            continue
        url, secret, update = job
        if mode == "slow":
            world.stall()
        if mode == "drop-callback":
            error = None  # Telegram "loses" this update
        else:
            error = _post(url, secret, update)
            if error is None and mode == "duplicate-callback":
                _post(url, secret, update)
        with world.lock:
            attempts = st.delivery_attempts.get(update["update_id"], 0) + 1
            st.delivery_attempts[update["update_id"]] = attempts
            if error is not None and st.webhook is not None:
                st.webhook.last_error_date = int(world.clock())
                st.webhook.last_error_message = error
            if error is None or attempts >= ATTEMPTS:
                if error is not None:
                    log.warning("sandbox telegram: update %s dropped after %d attempts: %s",
                                update["update_id"], attempts, error)
                st.remove_update(update["update_id"])
                world.touch()
                continue
        st.stopping.wait(BACKOFF * 2 ** (attempts - 1))

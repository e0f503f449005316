"""Process assembly: what `payfriend run`, `web` and `worker` (and gunicorn) start, and the order they stop in.

bootstrap builds the application; this module starts its parts: the sandbox, the database
migration check, the webhook server, Telegram, the timers and the workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.bootstrap import Container, StartupError, build
from bot.currencies import grammar_context
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CHATTY_LOGGERS = ("httpx", "apscheduler", "alembic", "twilio.http_client")  # a line per request (or header) is noise
START_ATTEMPTS = 5  # a Telegram call at start-up is tried this often, with backoff, before giving up


def configure_logging(settings: Settings) -> None:
    """Log at LOG_LEVEL to stderr, once per process, whatever started it (the command or gunicorn)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    root.setLevel(settings.log_level)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


@dataclass
class Process:
    """One running Payfriend process: the wired application and what this process started for it."""

    app: Container
    sandbox: Any = None  # RunningSandbox, when this process started one
    web_url: str | None = None
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def services(self) -> Services:
        """The use cases."""
        return self.app.services

    @property
    def settings(self) -> Settings:
        """The settings this process runs with."""
        return self.app.settings

    @property
    def sandbox_url(self) -> str | None:
        """The sandbox address when this process runs against the sandbox."""
        return self.app.sandbox_url

    @property
    def polling(self) -> bool:
        """Whether Telegram updates are polled (not pushed to the webhook)."""
        return self.app.polling

    def on_stop(self, stopper: Callable[[], None]) -> None:
        """Run `stopper` when the process stops (newest first)."""
        self._stoppers.append(stopper)

    def stop(self) -> None:
        """Stop everything this process started, newest first."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception:
                log.exception("error while stopping")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


@contextmanager
def listening_on(variable: str, port: int) -> Iterator[None]:
    """Turn a server's failure to listen (werkzeug exits) into one line naming the setting to change."""
    try:
        yield
    except SystemExit:
        raise StartupError(f"{variable}: cannot listen on port {port} (in use by another program, or not "
                           f"allowed); set {variable} to a free port, or 0 to pick one") from None


def start_web(process: Process, host: str = "127.0.0.1") -> None:
    """Serve the webhooks with a threaded WSGI server in a background thread."""
    from webhooks.app import create_app

    with listening_on("PORT", process.settings.port):
        server = make_server(host, process.settings.port, create_app(process.app), threaded=True,
                             request_handler=_QuietHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # threaded=True: a ThreadingMixIn server
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    process.web_url = f"http://{host}:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    process.on_stop(stop)


def public_url(process: Process) -> str | None:
    """The address the outside services call back: PUBLIC_URL; on the sandbox, our own (or PORT's) address."""
    settings = process.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if process.sandbox_url is None:
        return None
    if process.web_url is not None:
        return process.web_url
    return f"http://127.0.0.1:{settings.port}" if settings.port else None  # gunicorn serves PORT


def point_sandbox_at_us(process: Process) -> None:
    """Set the sandbox consoles' callback URLs to the webhook server (as one would in Twilio's console)."""
    base = public_url(process)
    if process.sandbox_url is None or base is None:
        return
    urls = {"authy": base + "/webhooks/authy", "verify": base + "/webhooks/twilio/verify",
            "messaging": base + "/webhooks/twilio/sms"}
    response = requests.post(process.sandbox_url + "/api/config", json=urls,
                             timeout=process.settings.http_timeout_seconds)
    response.raise_for_status()


def start_worker(process: Process) -> None:
    """Start the timers (re-armed from the database), the sweep, the job workers and the outbox."""
    app = process.app
    app.timers.start()
    process.on_stop(app.timers.stop)
    app.sweep.start()
    process.on_stop(app.sweep.stop)
    rearmed = app.services.rearm_timers()
    log.info("re-armed the timers of %d pending payments", rearmed)
    app.jobs.start()
    process.on_stop(app.jobs.stop)
    app.outbox.start()
    process.on_stop(app.outbox.stop)
    if process.settings.database_url.startswith(("postgres://", "postgresql")):
        from models.notify import WorkListener

        listener = WorkListener(process.settings.database_url, app.services.wake)
        listener.start()
        process.on_stop(listener.stop)


def with_retries(what: str, call: Callable[[], Any], attempts: int = START_ATTEMPTS) -> Any:
    """Make a start-up call, retrying transient failures with backoff; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts:
                raise
            delay = min(8.0, 0.5 * 2 ** (attempt - 1))
            log.warning("%s failed (%s); trying again in %.1f s", what, exc, delay)
            time.sleep(delay)
    return None


def start_telegram(process: Process) -> None:
    """Connect to Telegram in the worker: poll, or register the webhook; publish the command menu.

    The web role needs no Telegram connection: it only translates the updates Telegram posts. A
    command menu that cannot be published is cosmetic: logged in one line, never fatal.
    """
    app = process.app
    if app.telegram is None:
        return
    with_retries("connecting to Telegram", app.telegram.start)
    process.on_stop(app.telegram.stop)
    try:
        with_retries("publishing the command menu", app.telegram.set_commands, attempts=3)
    except Exception as exc:
        log.warning("the command menu could not be published: %s", exc)
    if not app.polling:
        base = public_url(process)
        if base is None:
            raise StartupError("TELEGRAM_MODE=webhook needs PUBLIC_URL (the address Telegram posts updates to)")
        secret = app.telegram_webhook_secret or ""
        with_retries("registering the Telegram webhook",
                     lambda: app.telegram.set_webhook(base + "/webhooks/telegram", secret))


def check_authenticator(app: Container) -> None:
    """Refuse to run with a Verify service that cannot bind codes to amount and payee (PSD2 mode)."""
    check = getattr(app.authenticator, "is_psd2_enabled", None)
    if check is not None and not check():
        raise StartupError("TWILIO_VERIFY_SERVICE_SID: the Verify service is not PSD2-enabled; enable PSD2 "
                           "(Psd2Enabled) on it, or use AUTHENTICATOR=authy")


def prepare_database(settings: Settings, migrate: bool) -> None:
    """Migrate (`payfriend run`, or when asked), or refuse with one line when the schema is not current."""
    from models.migrate import current, head, upgrade

    if migrate:
        upgrade(settings.database_url)
        return
    if current(settings.database_url) != head():
        raise StartupError("DATABASE_URL: the database is not migrated to the current schema; "
                           "run `payfriend db upgrade` first")


def start_sandbox_here(settings: Settings) -> Any:
    """The sandbox of a process with no credentials, its world kept beside the database."""
    from models.reset import empty_database
    from sandbox.persistence import state_file_beside
    from sandbox.server import start_sandbox

    # The sandbox's world lives beside the database, so a restart finds both as they were ...
    with listening_on("SANDBOX_PORT", settings.sandbox_port):
        sandbox = start_sandbox(port=settings.sandbox_port, state_file=state_file_beside(settings.database_url))
    # ... and its reset (POST /api/reset, the page's button) empties both.
    sandbox.world.on_reset.append(lambda: empty_database(settings.database_url))
    return sandbox


def banner(process: Process) -> list[str]:
    """What `payfriend run` says it started: authenticator, channels, database, phone page, webhooks."""
    from models.engine import normalize_url

    settings, app = process.settings, process.app
    channels = [f"Telegram ({'polling' if app.polling else 'webhook'})"] if app.telegram is not None else []
    channels += ["SMS"] if any(c.value == "sms" for c in app.messengers) else []
    vendor = "Twilio Verify (push in the Payfriend app" if settings.authenticator == "verify" else "Authy (OneTouch push"
    lines = [f"authenticator: {vendor}, SMS code fallback)",
             f"channels:      {', '.join(channels) or 'none'}",
             f"database:      {normalize_url(settings.database_url).render_as_string(hide_password=True)}"]
    if process.sandbox_url:
        lines.append(f"phone page:    {process.sandbox_url}/  (the sandbox: simulated people, nothing real)")
    return lines


def start(settings: Settings, *, web: bool, worker: bool, migrate: bool = False, serve_http: bool = True) -> Process:
    """Build and start the parts of one process; with no credentials, on a sandbox of its own.

    web: this process takes webhooks (served here unless serve_http is False: gunicorn serves them);
    worker: it runs the timers, the sweep, the jobs, the outbox and the Telegram connection.
    Stop order is the reverse of start: Telegram and the workers, the web server, the sandbox.
    """
    configure_logging(settings)
    sandbox = None
    sandbox_url = settings.sandbox_url
    if settings.uses_sandbox and sandbox_url is None:
        sandbox = start_sandbox_here(settings)
        sandbox_url = sandbox.url
    process: Process | None = None
    try:
        prepare_database(settings, migrate or sandbox is not None)
        app = build(settings, sandbox_url=sandbox_url if settings.uses_sandbox else None)
        process = Process(app=app, sandbox=sandbox)
        if sandbox is not None:
            process.on_stop(sandbox.stop)
        process.on_stop(app.close)
        grammar_context(settings.default_currency, settings.max_payment_amount)  # read now, not on a message
        check_authenticator(app)
        if web and serve_http:
            start_web(process)
        if web:
            point_sandbox_at_us(process)
        base = public_url(process)
        if base is not None:
            app.services.config = replace(app.services.config, logo_url=base + "/static/logo.png")
            app.services.public_url = lambda: base
        if worker:
            start_telegram(process)  # connected before the outbox sends its first message
            start_worker(process)
    except Exception:
        if process is not None:
            process.stop()
        elif sandbox is not None:
            sandbox.stop()
        raise
    return process

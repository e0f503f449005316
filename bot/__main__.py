"""The `payfriend` command: run, web, worker, sandbox, db upgrade, parse."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Callable

from bot.settings import Settings, SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"payfriend: {exc}", file=sys.stderr)
        return 2
    from bot.bootstrap import StartupError
    from bot.runtime import configure_logging

    configure_logging(settings)

    try:
        return args.handler(settings, args)
    except StartupError as exc:
        print(f"payfriend: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payfriend", description="Payfriend, the payments chat-bot.")
    sub = parser.add_subparsers(title="commands")

    run = sub.add_parser("run", help="everything in one process (with the sandbox when no credentials are set)",
                         description="Start the web server, Telegram, the timers and the outbox in one process. "
                                     "With no credentials configured, start the local sandbox too and point "
                                     "every adapter at it.")
    run.set_defaults(handler=_run)

    web = sub.add_parser("web", help="the webhook server only (production: gunicorn runs bot.wsgi)",
                         description="Serve the Flask webhooks on PORT with a threaded WSGI server.")
    web.set_defaults(handler=_web)

    worker = sub.add_parser("worker", help="timers, outbox and Telegram polling, no web server",
                            description="Run the scheduler, the outbox workers and, unless TELEGRAM_MODE=webhook, "
                                        "Telegram polling.")
    worker.set_defaults(handler=_worker)

    sandbox = sub.add_parser("sandbox", help="the local stand-ins for Telegram, Twilio and Authy, alone",
                             description="Start the sandbox on SANDBOX_PORT and print the phone page's address.")
    sandbox.set_defaults(handler=_sandbox)

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(title="database commands")
    upgrade = db_sub.add_parser("upgrade", help="apply every migration to DATABASE_URL",
                                description="Bring the database at DATABASE_URL to the newest schema.")
    upgrade.set_defaults(handler=_db_upgrade)

    parse = sub.add_parser("parse", help="print how the bot understands one message, as JSON",
                           description="Print how the bot understands TEXT as one JSON object; "
                                       "exit status 0 whether or not the text can be used.")
    parse.add_argument("text", nargs="+", help="the message, as a person would type it")
    parse.set_defaults(handler=_parse)
    return parser


def _parse(settings: Settings, args: argparse.Namespace) -> int:
    from bot.parsing import parse_text

    print(json.dumps(parse_text(" ".join(args.text), settings), ensure_ascii=False))
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from models.migrate import upgrade

    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.server import start_sandbox

    running = start_sandbox(port=settings.sandbox_port)
    print(f"Sandbox running. Phone page: {running.url}/", flush=True)
    _wait_for_signal(running.stop)
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import banner, start

    process = start(settings, web=True, worker=True, migrate=True)
    print("Payfriend is running" + (" on the sandbox. Open the phone page to try it." if process.sandbox_url else "."))
    for line in banner(process):
        print("  " + line)
    print(f"Webhooks listening on {process.web_url}", flush=True)
    _wait_for_signal(process.stop)
    return 0


def _web(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import start

    process = start(settings, web=True, worker=False)
    print(f"Webhooks listening on {process.web_url}", flush=True)
    _wait_for_signal(process.stop)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import start

    process = start(settings, web=False, worker=True)
    print("Worker running: timers, jobs, outbox" + (", Telegram polling" if process.polling else ""), flush=True)
    _wait_for_signal(process.stop)
    return 0


def _wait_for_signal(stop: Callable[[], None]) -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()


if __name__ == "__main__":
    sys.exit(main())

"""Run Payfriend as the Procfile says: each process type as its own OS process, logs kept per process."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROCFILE = REPO / "Procfile"
PROGRAMS = {"payfriend": [sys.executable, "-m", "bot"], "gunicorn": [sys.executable, "-m", "gunicorn"]}
INHERITED_NOT = ("TELEGRAM_", "AUTHY_", "TWILIO_", "SANDBOX_", "DATABASE_URL", "PUBLIC_URL", "SECRET_KEY",
                 "PORT", "AUTHENTICATOR", "FALLBACK_", "PAYMENT_", "LOG_LEVEL", "HTTP_TIMEOUT")
STOP_SECONDS = 20


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """The process types of a Procfile: name -> command line."""
    types: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and name.strip() and not name.lstrip().startswith("#"):
            types[name.strip()] = command.strip()
    return types


def argv(command: str, env: Mapping[str, str]) -> list[str]:
    """A Procfile command as argv: $VARS from env, listening on loopback only, run by this Python."""
    expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], command)
    words = [w.replace("0.0.0.0:", "127.0.0.1:") for w in shlex.split(expanded)]
    return PROGRAMS.get(words[0], [words[0]]) + words[1:]


def clean_environment(**settings: str) -> dict[str, str]:
    """This environment without any Payfriend setting or credential, plus `settings`; no .env is read."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(INHERITED_NOT)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(settings)
    return env


class Service:
    """One started OS process with its log file."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("ab") as out:
            # its own session: a last-resort kill ends this process and its children, nothing else
            self.popen = subprocess.Popen(command, cwd=folder, env=dict(env), stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        """Everything the process logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        """The last lines of its log, headed by its name and exit status."""
        status = self.popen.poll()
        head = f"--- {self.name} (pid {self.popen.pid}, {'running' if status is None else f'exit {status}'})"
        return "\n".join([head, *self.text().splitlines()[-lines:]])

    def running(self) -> bool:
        """Whether the process has not ended."""
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL it, as a crash would, and reap it."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(STOP_SECONDS)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (with its children) when it does not end in time."""
        if not self.running():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(STOP_SECONDS)


class Deployment:
    """The Procfile's process types started side by side on one database; every one stopped at the end."""

    def __init__(self, folder: Path, env: Mapping[str, str]) -> None:
        self.folder, self.env = folder, dict(env)
        self.commands = procfile()
        self.services: list[Service] = []
        self._counts: dict[str, int] = {}

    def release(self, timeout: float = 120) -> None:
        """Run the release step to its end; fail with its output when it does not succeed."""
        service = self.start("release")
        try:
            status = service.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
        assert status == 0, f"the release step failed\n{service.tail()}"

    def start(self, kind: str) -> Service:
        """Start one process of this Procfile type (web, worker, release)."""
        self._counts[kind] = self._counts.get(kind, 0) + 1
        service = Service(f"{kind}-{self._counts[kind]}", argv(self.commands[kind], self.env), self.env,
                          self.folder)
        self.services.append(service)
        return service

    def of(self, kind: str) -> list[Service]:
        """The running processes of a type."""
        return [s for s in self.services if s.name.startswith(kind + "-") and s.running()]

    def logs(self, lines: int = 30) -> str:
        """The tail of every process's log, for a failure message."""
        return "\n".join(s.tail(lines) for s in self.services)

    def stop(self) -> None:
        """Stop every process, newest first (SIGTERM, then SIGKILL)."""
        for service in reversed(self.services):
            service.stop()

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The `payfriend` command as a person runs it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def payfriend(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run `python -m bot ARGS` the way the console script does."""
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("text, expected", [
    ("send $20 to Neville", {"command": "send", "amount": "20.00", "currency": "USD", "payee": "Neville",
                             "note": None}),
    ("cancel", {"command": "cancel"}),
])
def test_parse_prints_one_json_object(tmp_path, text, expected):
    result = payfriend("parse", text, cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout) == expected


def test_parse_of_unusable_text_prints_the_reply_and_exits_0(tmp_path):
    result = payfriend("parse", "send $0 to Neville", cwd=tmp_path)
    assert result.returncode == 0
    reply = json.loads(result.stdout)["error"]
    assert "Try: send" in reply


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["web", "--help"], ["worker", "--help"],
                                  ["sandbox", "--help"], ["db", "upgrade", "--help"], ["parse", "--help"]])
def test_every_command_has_help(tmp_path, args):
    result = payfriend(*args, cwd=tmp_path)
    assert result.returncode == 0 and "usage: payfriend" in result.stdout


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = payfriend("db", "upgrade", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    from models.migrate import current

    assert current(url) is not None


def test_a_wrong_setting_stops_with_one_line(tmp_path):
    result = payfriend("parse", "help", env={"FALLBACK_SECONDS": "soon"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "payfriend: FALLBACK_SECONDS: expected seconds > 0 and <= 3600"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("variable", ["PORT", "SANDBOX_PORT"])
def test_a_port_in_use_stops_run_with_one_line_naming_its_setting(tmp_path, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PORT": "0", "SANDBOX_PORT": str(free_port()),
               variable: str(port)}
        result = payfriend("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert f"payfriend: {variable}: cannot listen on port {port}" in result.stderr
    assert f"set {variable} to a free port" in result.stderr


def test_run_names_what_it_started(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PORT": "0", "SANDBOX_PORT": str(free_port()),
           "AUTHENTICATOR": "verify"}
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                               env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(6)]  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    banner = "".join(lines)
    assert "authenticator: Twilio Verify" in banner
    assert "channels:      Telegram (polling), SMS" in banner
    assert f"database:      sqlite:///{tmp_path / 'p.db'}" in banner
    assert "phone page:    http://127.0.0.1:" in banner and "Webhooks listening on http://127.0.0.1:" in banner

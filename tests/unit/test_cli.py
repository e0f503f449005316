"""The `payfriend` command as a person runs it."""

from __future__ import annotations

import json
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

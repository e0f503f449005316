"""Keep a sandbox's world in a JSON file: reloaded at start, saved soon after every change and on stop."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from sandbox.world import World

log = logging.getLogger(__name__)

SAVE_INTERVAL = 0.5  # seconds: at most one write per interval, and only when something changed


class StateFile:
    """Loads a World from a JSON file and writes it back (to a temp file, then os.replace) as it changes."""

    def __init__(self, world: World, path: str | os.PathLike[str], interval: float = SAVE_INTERVAL) -> None:
        self.world = world
        self.path = Path(path)
        self.interval = interval
        self._written: str | None = None
        self._failing = False
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> bool:
        """Restore the world from the file; False when there is none or it is unusable (one warning)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("sandbox: cannot read the state file %s (%s); starting empty", self.path, exc)
            return False
        blank = self.world.snapshot()
        try:
            self.world.restore(json.loads(text))
        except Exception as exc:  # whatever is wrong inside the file, the sandbox still starts
            log.warning("sandbox: the state file %s is not usable (%s: %s); starting empty, it will be "
                        "overwritten", self.path, type(exc).__name__, exc)
            self.world.restore(blank)
            return False
        return True

    def save(self) -> bool:
        """Write the world if it changed since the last write; True when written."""
        with self._write_lock:
            with self.world.lock:
                text = json.dumps(self.world.snapshot(), separators=(",", ":"))
            if text == self._written:
                return False
            self._write(text)
            self._written = text
            return True

    def _write(self, text: str) -> None:
        # A crash at any point leaves either the old file or the new one, never half of one.
        temp = self.path.with_name(self.path.name + ".tmp")
        with open(temp, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)

    def _save_logged(self) -> None:
        try:
            self.save()
        except OSError as exc:
            if not self._failing:  # one warning per run of failures, not one every half second
                log.warning("sandbox: cannot write the state file %s: %s", self.path, exc)
            self._failing = True
        else:
            self._failing = False

    def start(self) -> None:
        """Save in a background thread, at most every `interval` seconds."""
        self._thread = threading.Thread(target=self._run, name="sandbox-state", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._save_logged()

    def stop(self) -> None:
        """Stop the background thread and save one last time."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._save_logged()


DEFAULT_STATE_FILE = "payfriend-sandbox.json"


def state_file_beside(database_url: str) -> Path:
    """Where Payfriend keeps its sandbox: `<db stem>.sandbox.json` beside a SQLite file, else in the cwd."""
    scheme, _, rest = database_url.partition("://")
    path = rest.split("?", 1)[0][1:] if scheme.split("+", 1)[0] == "sqlite" else ""
    if path in ("", ":memory:") or path.startswith("file:"):
        return Path(DEFAULT_STATE_FILE)
    database = Path(path)
    return database.with_name(database.stem + ".sandbox.json")

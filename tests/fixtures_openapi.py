"""Twilio's OpenAPI specifications, read in place from ../shared/reference/openapi next to the repository.

Tests validate every request the twilio client sends (and every 2xx answer) against them; where the
folder is absent, what needs them skips and says why.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

SPEC_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "openapi"
SPEC_FILES = {"https://api.twilio.com": "twilio_api_v2010.json",
              "https://verify.twilio.com": "twilio_verify_v2.json"}

def _explain(error: Exception) -> str:
    """An openapi-core error with the schema errors behind it."""
    causes = getattr(error.__cause__, "schema_errors", None) or [error.__cause__]
    return f"{error!r} " + "; ".join(str(c).splitlines()[0] for c in causes if c)


class Specs:
    """Twilio's OpenAPI specs, loaded once per session and per host (they take about a second)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str) -> Any:
        from openapi_core import OpenAPI

        with self._lock:
            if host not in self._loaded:
                with open(self.folder / SPEC_FILES[host], encoding="utf-8") as f:
                    self._loaded[host] = OpenAPI.from_dict(json.load(f))
            return self._loaded[host]

    def problems(self, entry: dict[str, Any]) -> list[str]:
        """Why a recorded request (or its 2xx answer) does not match the spec; [] if it does."""
        from openapi_core.testing import MockRequest, MockResponse

        spec = self.for_host(entry["host"])
        content_type = (entry["content_type"] or "application/x-www-form-urlencoded").split(";")[0]
        req = MockRequest(entry["host"], entry["method"].lower(), entry["path"],
                          args=dict(parse_qsl(entry["query"])), headers=entry["headers"],
                          data=entry["body"].encode() if entry["body"] else None, content_type=content_type)
        found = [f"{entry['method']} {entry['url']}: {_explain(e)}" for e in spec.iter_request_errors(req)]
        if entry["status"] and 200 <= entry["status"] < 300 and entry["response"]:
            resp = MockResponse(entry["response"].encode(), status_code=entry["status"])
            found += [f"answer {entry['status']} to {entry['method']} {entry['url']}: {_explain(e)}"
                      for e in spec.iter_response_errors(req, resp)]
        return found


@pytest.fixture(scope="session")
def twilio_specs_if_present() -> Specs | None:
    """The specs, or None where the folder is absent (for tests whose main point is something else)."""
    if not all((SPEC_DIR / name).is_file() for name in SPEC_FILES.values()):
        return None
    return Specs(SPEC_DIR.resolve())


@pytest.fixture(scope="session")
def twilio_specs() -> Specs:
    """The spec folder next to the repository; the contract tests skip when it is absent."""
    if not all((SPEC_DIR / name).is_file() for name in SPEC_FILES.values()):
        pytest.skip(f"Twilio OpenAPI specs not found in {SPEC_DIR.name}/ next to the repository "
                    "(reference/openapi); contract tests need them to validate requests")
    return Specs(SPEC_DIR.resolve())


def recorded_twilio_requests(sandbox_url: str) -> list[dict[str, Any]]:
    """The requests the twilio client sent to the sandbox's Twilio stand-in, as it recorded them."""
    import requests

    entries = requests.get(f"{sandbox_url}/twilio/_sandbox/requests", timeout=5).json()
    return [e for e in entries if e["headers"].get("User-Agent", "").startswith("twilio-python/")]

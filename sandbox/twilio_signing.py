"""X-Twilio-Signature as Twilio computes it, written from the documented algorithm (no twilio import)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Union

Params = Union[Mapping[str, object], Iterable[tuple[str, object]]]

_DIGESTS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def _pairs(params: Params) -> dict[str, set[str]]:
    """Group the parameters by key; a key may carry several values (repeated form fields)."""
    grouped: dict[str, set[str]] = {}
    items = params.items(multi=True) if hasattr(params, "getlist") else (  # type: ignore[union-attr]
        params.items() if isinstance(params, Mapping) else params)
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        grouped.setdefault(str(key), set()).update(str(v) for v in values)
    return grouped


def signing_string(url: str, params: Params | None = None) -> str:
    """The URL followed by every key+value, keys and each key's distinct values in code-point order."""
    grouped = _pairs(params or {})
    return url + "".join(key + value for key in sorted(grouped) for value in sorted(grouped[key]))


def compute_signature(secret: str, url: str, params: Params | None = None,
                      algorithm: str = "HMAC_SHA1") -> str:
    """base64(HMAC(secret, url + sorted params)) with SHA-1 (the Auth Token) or SHA-256."""
    digest = _DIGESTS[algorithm]
    mac = hmac.new(secret.encode("utf-8"), signing_string(url, params).encode("utf-8"), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def signature_headers(auth_token: str, url: str, params: Params) -> dict[str, str]:
    """The headers of a signed form POST to `url`."""
    return {"X-Twilio-Signature": compute_signature(auth_token, url, params),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1", "Accept": "*/*"}

"""Authy OneTouch callback signatures (X-Authy-Signature), written from the published algorithm.

The sandbox signs its callbacks with this module. It does not use the `authy` library, so that the
contract tests can check the library's validator against an independent implementation.

Algorithm: flatten the JSON body PHP-style (nested keys in percent-encoded brackets, list indices,
booleans as true/false, None as the text None, empty dicts dropped), encode `/` and turn `%20` into
`+`, sort the `k=v` pairs, drop list indices, blank out `None`, then
base64(HMAC-SHA256(api_key, f"{nonce}|{method}|{url}|{params}")).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any, Iterator
from urllib.parse import quote

_LIST_INDEX = re.compile(r"%5B[0-9]*%5D")


def _scalar(value: Any) -> str:
    """A leaf value as text, before percent-encoding (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(params: dict[str, Any], prefix: str | None = None) -> Iterator[str]:
    """`key=value` strings for every leaf of a nested dict, keys in PHP bracket form."""
    for key, value in params.items():
        name = quote(key) if prefix is None else prefix + quote(f"[{key}]")
        if isinstance(value, dict):
            yield from _pairs(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                item_name = name + quote(f"[{index}]")
                if isinstance(item, dict):
                    yield from _pairs(item, item_name)
                else:
                    # List items are stringified as they are: a boolean here stays True/False.
                    yield f"{item_name}={quote(str(item))}"
        else:
            yield f"{name}={quote(_scalar(value))}"


def canonical_params(params: dict[str, Any]) -> str:
    """The sorted, encoded parameter string that goes into the signed text."""
    query = "&".join(_pairs(params))
    query = query.replace("/", "%2F").replace("%20", "+")
    ordered = "&".join(sorted(query.split("&")))
    ordered = _LIST_INDEX.sub("%5B%5D", ordered)
    return ordered.replace("=None", "=")


def string_to_sign(nonce: str, method: str, url: str, params: dict[str, Any]) -> str:
    """`nonce|METHOD|url|params`, with the method exactly as given."""
    return f"{nonce}|{method}|{url}|{canonical_params(params)}"


def sign(api_key: str, nonce: str, method: str, url: str, params: dict[str, Any]) -> str:
    """The X-Authy-Signature value for a callback with this body, URL, method and nonce."""
    text = string_to_sign(nonce, method, url, params)
    digest = hmac.new(api_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(api_key: str, nonce: str, method: str, url: str, params: dict[str, Any], signature: str) -> bool:
    """True if `signature` is the right one (constant-time comparison)."""
    expected = sign(api_key, nonce, method, url, params)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))

"""Helpers every blueprint shares: the container, and the URL a provider signed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, request

if TYPE_CHECKING:
    from bot.bootstrap import Container


def container() -> "Container":
    """What bootstrap built for this app."""
    return current_app.extensions["payfriend"]


def signed_url(with_query: bool) -> str:
    """The URL the provider called: PUBLIC_URL + path when set (behind a proxy), else the request URL."""
    public = container().settings.public_url
    if public:
        url = public.rstrip("/") + request.path
        query = request.query_string.decode("latin-1")
        return url + ("?" + query if with_query and query else "")
    return request.url if with_query else request.base_url

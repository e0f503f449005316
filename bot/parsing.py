"""What `payfriend parse TEXT` prints: the grammar's reading of a message as JSON-ready data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from bot.core.commands import COMMAND_NAMES, Code, History, ParseError, ParseResult, Send
from bot.core.grammar import parse
from bot.currencies import grammar_context


class _GrammarSettings(Protocol):
    default_currency: str
    max_payment_amount: Decimal


def describe(result: ParseResult) -> dict[str, Any]:
    """The JSON-ready form of a parse result: {'command': ...} or {'error': reply}."""
    if isinstance(result, ParseError):
        return {"error": result.message}
    if isinstance(result, Send):
        return {"command": "send", "amount": result.amount.major_str(), "currency": result.amount.currency,
                "payee": result.payee, "note": result.note}
    if isinstance(result, Code):
        return {"command": "code", "code": result.digits}
    if isinstance(result, History) and result.page != 1:
        return {"command": "history", "page": result.page}
    return {"command": COMMAND_NAMES[type(result)]}


def parse_text(text: str, settings: _GrammarSettings) -> dict[str, Any]:
    """Parse text with the settings' default currency and per-payment limit, then describe it."""
    ctx = grammar_context(settings.default_currency, Decimal(settings.max_payment_amount))
    return describe(parse(text, ctx))

"""Cleaning text people type before it is parsed, stored or shown (standard library only)."""

from __future__ import annotations

import unicodedata

PAYEE_MAX_LENGTH = 64
NOTE_MAX_LENGTH = 140
MAX_COMBINING_MARKS = 3
ELLIPSIS = "..."  # not U+2026: NFKC would turn it into three dots, and cleaning must be idempotent

# Categories removed outright: controls, format characters (bidi overrides and isolates,
# zero-width joiners, BOM), surrogates, private use and unassigned code points.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
})
_PAYEE_EDGE = "\"'`,;:"


def _char_out(char: str) -> str:
    """One character as it survives cleaning: dropped, a space, an ASCII digit or itself."""
    category = unicodedata.category(char)
    if char.isspace() or category in _SPACE_CATEGORIES:
        return " "
    if category in _DROPPED_CATEGORIES:
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(char))
    return char


def _cap_combining(text: str) -> str:
    """Keep at most MAX_COMBINING_MARKS combining marks in a row (no 'Zalgo' stacks)."""
    out: list[str] = []
    run = 0
    for char in text:
        run = run + 1 if unicodedata.combining(char) else 0
        if run <= MAX_COMBINING_MARKS:
            out.append(char)
    return "".join(out)


def normalize_message(text: str) -> str:
    """NFKC, plain quotes, ASCII digits, no control/bidi/invisible characters, single spaces."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = "".join(_char_out(char) for char in text)
    text = unicodedata.normalize("NFKC", text)  # again: dropping characters can join new pairs
    return " ".join(_cap_combining(text).split())


def truncate(text: str, max_length: int | None) -> str:
    """Cut text to max_length characters, ending with an ellipsis when something was cut."""
    if max_length is None or len(text) <= max_length:
        return text
    if max_length <= 0:
        return ""
    if max_length <= len(ELLIPSIS):
        return text[:max_length]
    return text[: max_length - len(ELLIPSIS)].rstrip() + ELLIPSIS


def clean_text(text: str, max_length: int | None = None) -> str:
    """Text safe to store and show: normalized, single-spaced, optionally length-capped."""
    return truncate(normalize_message(text), max_length)


def clean_payee(text: str, max_length: int | None = PAYEE_MAX_LENGTH) -> str:
    """A payee name safe to show: no control or bidi characters, no stray edge punctuation."""
    return truncate(normalize_message(text).strip(_PAYEE_EDGE + " "), max_length)


def payee_key(payee: str) -> str:
    """What two spellings of one payee share ('Neville', 'neville ', 'NEVILLE'): compare these, show the typed one."""
    return clean_payee(payee, None).casefold()


def same_payee(first: str, second: str) -> bool:
    """Whether two payee texts name the same payee, whatever their case."""
    return payee_key(first) == payee_key(second)


def clean_note(text: str, max_length: int | None = NOTE_MAX_LENGTH) -> str:
    """A payment note safe to show: cleaned like any text, without wrapping quotes."""
    return truncate(normalize_message(text).strip("\"' "), max_length)

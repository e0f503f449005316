"""SMS specifics: carrier keywords, GSM-7 text and segment counting."""

from __future__ import annotations

import math

# Twilio's default opt-out handling (and the carriers'): these words stop, restart or ask for help.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Typography a phone keyboard or our own texts produce, and its GSM-7 spelling.
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                        "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " "})


def keyword(text: str) -> str | None:
    """'stop', 'start' or 'help' when the whole message is one of the carrier keywords."""
    word = text.strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


CHECK_MARK = "\u2713"


def to_gsm7(text: str) -> str:
    """Replace typographic characters with their GSM-7 spelling, so a reply stays in the 160-character alphabet.

    A check mark after a sentence ('Sent: $20.00 to Neville ✓') becomes its full stop.
    """
    return text.replace(" " + CHECK_MARK, ".").replace(CHECK_MARK, "").translate(_PLAIN)


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 alphabet (or its extension table)."""
    return all(c in GSM7 or c in GSM7_EXTENSION for c in text)


def segments(text: str) -> int:
    """How many SMS segments the text takes: GSM-7 160/153 septets, else UCS-2 70/67 code units."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return 1 if units <= 70 else math.ceil(units / 67)

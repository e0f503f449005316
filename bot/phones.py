"""Phone numbers in E.164, parsed with phonenumbers."""

from __future__ import annotations

import phonenumbers


def normalize_phone(text: str, region: str | None = None) -> str | None:
    """The E.164 form of a phone number, or None if it is not one.

    Telegram sends shared contacts without the leading '+', so a bare international number is accepted.
    """
    candidate = text.strip()
    if candidate and candidate[0].isdigit() and region is None:
        candidate = "+" + candidate
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

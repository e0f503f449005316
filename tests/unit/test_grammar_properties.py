"""Properties of the grammar: it never raises, and a well-formed send reads back as written."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.commands import COMMAND_NAMES, ParseError, Send
from bot.core.grammar import GrammarContext, _parse, currency_word, parse
from bot.core.text import PAYEE_MAX_LENGTH, clean_payee
from bot.currencies import grammar_context
from bot.parsing import describe

LIMIT = Decimal("1000")
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ctx() -> GrammarContext:
    return grammar_context("USD", LIMIT)


# --------------------------------------------------------------------------- never raises

ANY_CHARACTER = st.characters(exclude_categories=())  # controls, bidi, surrogates, unassigned...
VOCABULARY = [
    "send", "pay", "give", "/send", "/pay", "charge", "to", "for", "TO", "$", "€", "£", "¥", "USD", "eur",
    "euros", "XYZ", "20", "-5", "0", "1,000.50", "1.000,5", "1 000", "20$", "$20", "€5", ".5", "1,00,0",
    "Neville", "@neville", "+44", "7700", "900123", "me", '"', '"rent"', "\u202e", "\u200b", "\x00", "\n",
    "cancel", "yes", "123456", "ask", "venmo", "apple", "please", "...", "!", "?", "KSh", "zł", "\u2212",
    "9" * 40, "a" * 70, "1'000", "BOB", "bob", "US", "dollars", "Swiss", "francs", "for", "/start",
]
COMMAND_LIKE = st.lists(st.sampled_from(VOCABULARY) | st.text(ANY_CHARACTER, max_size=4), max_size=14).map(
    " ".join)


def assert_well_formed(text: str, result: object) -> None:
    assert isinstance(result, ParseError) or type(result) in COMMAND_NAMES, result
    json.dumps(describe(result))  # what `payfriend parse` prints is always JSON
    if isinstance(result, ParseError):
        assert result.message and "Try:" in result.message, (text, result)
    if isinstance(result, Send):
        assert 0 < result.amount.minor and result.amount.major <= LIMIT
        assert result.payee == clean_payee(result.payee) and len(result.payee) <= PAYEE_MAX_LENGTH
        shown = result.payee + (result.note or "")
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in shown)


@FUZZ
@given(st.text(ANY_CHARACTER, max_size=300))
@example("")
@example("\ud800")
@example("send $20 to \ud800\udfff")
@example("/")
@example("/@")
@example('"')
@example("send 1e5 to Bob")
@example("send NaN to Bob")
@example("send 20 to " + "\u0301" * 50)
def test_any_text_parses_without_raising(text):
    assert_well_formed(text, _parse(text, ctx()))


@FUZZ
@given(COMMAND_LIKE)
def test_command_like_text_parses_without_raising(text):
    assert_well_formed(text, _parse(text, ctx()))


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_non_text_is_an_error_not_an_exception(value):
    assert isinstance(parse(value, ctx()), ParseError)  # type: ignore[arg-type]


@FUZZ
@given(st.text(ANY_CHARACTER, max_size=200))
def test_clean_payee_is_safe_to_show_and_idempotent(raw):
    shown = clean_payee(raw)
    assert len(shown) <= PAYEE_MAX_LENGTH
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in shown)
    assert "  " not in shown and shown == shown.strip()
    assert clean_payee(shown) == shown


# --------------------------------------------------------------------------- round trip

CURRENCIES = {  # code: (digits, ways to write it)
    None: (2, []),
    "USD": (2, ["$", "USD", "usd", "dollars"]),
    "EUR": (2, ["€", "EUR", "eur", "euros"]),
    "GBP": (2, ["£", "GBP", "pounds"]),
    "JPY": (0, ["¥", "JPY", "yen"]),
    "BHD": (3, ["BHD"]),
    "CHF": (2, ["CHF", "chf"]),
}
FIXED_PAYEES = ["Neville", "Neville Longbottom", "@neville", "+44 7700 900123", "Aga Orlova", "Zoë",
                "ana@example.com", "bob", "O'Brien", "Jean-Luc"]
ONE_WORD_PAYEES = ["Neville", "@neville", "Zoë", "ana@example.com", "bob", "Sally"]
NOT_NAMES = {"to", "for", "me", "myself", "us", "ourselves", "please", "pls", "plz", "thanks", "thank"}
NAME_WORD = st.from_regex(r"[A-Z][a-z]{1,9}", fullmatch=True).filter(
    lambda w: w.casefold() not in NOT_NAMES and currency_word(w, ctx()) is None)
NOTE = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True).filter(lambda w: w not in NOT_NAMES | {"you"}),
                min_size=1, max_size=4).map(" ".join)


@st.composite
def written_amounts(draw):
    """(code, digits, minor, text) for an amount as a person might type it."""
    code = draw(st.sampled_from(list(CURRENCIES)))
    digits, spellings = CURRENCIES[code]
    minor = draw(st.integers(1, int(LIMIT) * 10 ** digits))
    whole, fraction = divmod(minor, 10 ** digits)
    number = f"{whole:,}" if whole >= 1000 and draw(st.booleans()) else str(whole)
    if digits and (fraction or draw(st.booleans())):
        number += "." + str(fraction).zfill(digits)
    if not spellings:
        return "USD", 2, minor, number
    spelling = draw(st.sampled_from(spellings))
    if spelling in ("dollars", "euros", "pounds", "yen"):
        return code, digits, minor, f"{number} {spelling}"
    template = draw(st.sampled_from(["{s}{n}", "{n}{s}", "{s} {n}", "{n} {s}"]))
    return code, digits, minor, template.format(s=spelling, n=number)


PAYEES = st.sampled_from(FIXED_PAYEES) | st.lists(NAME_WORD, min_size=1, max_size=3).map(" ".join)
TEMPLATES = [
    "send {a} to {p}", "pay {p} {a}", "/send {a} {p}", "{a} to {p}", "transfer {a} to {p}",
    "send {a} to {p} for {n}", "pay {p} {a} for {n}", "send {a} for {n} to {p}", 'give {p} {a} "{n}"',
]


@FUZZ
@given(written_amounts(), PAYEES, st.sampled_from(TEMPLATES), NOTE)
def test_a_well_formed_send_reads_back_as_written(amount, payee, template, note):
    code, digits, minor, written = amount
    text = template.format(a=written, p=payee, n=note)
    result = parse(text, ctx())
    assert isinstance(result, Send), (text, result)
    assert (result.amount.minor, result.amount.currency, result.amount.digits) == (minor, code, digits), text
    assert result.payee == payee, text
    assert result.note == (note if "{n}" in template else None), text


@FUZZ
@given(written_amounts(), st.sampled_from(ONE_WORD_PAYEES))
def test_a_one_word_payee_may_come_first_without_a_verb(amount, payee):
    code, _digits, minor, written = amount
    result = parse(f"{payee} {written}", ctx())
    assert isinstance(result, Send) and (result.amount.minor, result.amount.currency, result.payee) == (
        minor, code, payee)


@given(st.integers(1, 10 ** 12))
def test_over_the_limit_is_always_refused(extra_cents):
    amount = LIMIT + Decimal(extra_cents).scaleb(-2)
    result = parse(f"send {amount} to Neville", ctx())
    assert isinstance(result, ParseError) and "over the limit" in result.message

"""The currency catalog read from CLDR, and money formatted for people with Babel."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot import currency_symbols
from bot.core.grammar import GrammarContext, currency_word
from bot.core.money import Money
from bot.currencies import (currency_catalog, currency_digits, format_money, grammar_context,
                            render_symbol_module, scan_symbol_table)

NBSP = "\u00a0"
NNBSP = "\u202f"


@pytest.mark.parametrize(("money", "locale", "shown"), [
    (Money(2000, "USD"), "en_US", "$20.00"),
    (Money(500, "EUR"), "en_US", "€5.00"),
    (Money(2000, "EUR"), "de_DE", f"20,00{NBSP}€"),
    (Money(123457, "EUR"), "fr_FR", f"1{NNBSP}234,57{NBSP}€"),
    (Money(100050, "USD"), "en_US", "$1,000.50"),
    (Money(500, "JPY", 0), "en_US", "¥500"),
    (Money(1250, "GBP"), "en_GB", "£12.50"),
    (Money(12345600, "INR"), "en_IN", "₹1,23,456.00"),
    (Money(125, "BHD", 3), "en_US", f"BHD{NBSP}0.125"),
    (Money(2050, "CHF"), "en_US", f"CHF{NBSP}20.50"),
    (Money(-2000, "USD"), "en_US", "-$20.00"),
])
def test_format_money(money, locale, shown):
    assert format_money(money, locale) == shown


def test_format_money_defaults_to_en_us():
    assert format_money(Money(2000, "USD")) == "$20.00"


@pytest.mark.parametrize("locale", ["xx_YY", "not a locale", "", "en-US-x-private-!!"])
def test_format_money_falls_back_to_en_us_for_unknown_locales(locale):
    assert format_money(Money(2000, "USD"), locale) == "$20.00"


def test_format_money_never_rounds_what_the_money_holds():
    assert format_money(Money(2050, "HUF", 2), "en_US") == f"HUF{NBSP}20.50"
    assert format_money(Money(20, "JPY", 0), "ja_JP").endswith("20")


def test_catalog_knows_symbols_codes_digits_and_names():
    catalog = currency_catalog("USD")
    for symbol, code in {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "zł": "PLN",
                         "Ksh": "KES", "CA$": "CAD", "R$": "BRL", "₽": "RUB"}.items():
        assert catalog.symbols[symbol] == code, symbol
    assert catalog.digits["USD"] == 2 and catalog.digits["JPY"] == 0 and catalog.digits["BHD"] == 3
    assert catalog.names["euros"] == "EUR" and catalog.names["dollars"] == "USD"
    assert "DEM" not in catalog.digits  # only currencies in use today
    assert "kr" not in catalog.symbols  # shared by DKK, NOK and SEK: ambiguous, so left out
    assert {"USD", "EUR", "GBP"} <= catalog.casual_codes and "BOB" not in catalog.casual_codes


def test_currency_words_in_a_context():
    ctx = grammar_context("USD", Decimal("1000"))
    words = ("$", "€", "EUR", "eur", "euros", "ksh", "BOB", "bob", "XYZ")
    assert [currency_word(w, ctx) for w in words] == [
        "USD", "EUR", "EUR", "EUR", "EUR", "KES", "BOB", None, None]


def test_a_dollar_default_takes_the_dollar_sign_and_the_word():
    catalog = currency_catalog("AUD")
    assert catalog.symbols["$"] == "AUD" and catalog.names["bucks"] == "AUD"
    assert catalog.symbols["US$"] == "USD"
    assert currency_catalog("EUR").symbols["$"] == "USD"


def test_grammar_context_is_cached_and_carries_its_inputs():
    ctx = grammar_context("EUR", Decimal("250"))
    assert isinstance(ctx, GrammarContext)
    assert (ctx.default_currency, ctx.max_amount) == ("EUR", Decimal("250"))
    assert grammar_context("EUR", Decimal("250")) is ctx
    assert ctx.catalog is currency_catalog("EUR")


def test_currency_digits():
    assert (currency_digits("USD"), currency_digits("JPY"), currency_digits("KWD")) == (2, 0, 3)


def test_nothing_is_read_from_cldr_at_import_time():
    code = ("import bot.currencies as c, bot.parsing; "
            "assert c._cldr.cache_info().currsize == 0 and c.currency_catalog.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_the_catalog_loads_a_handful_of_locales_not_all_of_cldr():
    code = ("import babel.localedata as data, bot.currencies as c; c.currency_catalog('USD'); "
            "assert len(data._cache) < 10, sorted(data._cache)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_the_stored_symbol_table_is_what_cldr_says_today():
    stored = Path(currency_symbols.__file__).read_text(encoding="utf-8")
    fresh = render_symbol_module(scan_symbol_table())
    assert fresh == stored, "bot/currency_symbols.py is stale: run scripts/gen_currency_symbols.py"

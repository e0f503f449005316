"""Currencies from CLDR through Babel: the grammar's currency catalog, and money formatting.

Nothing is built at import time: the catalog is read from CLDR on first use and cached. The symbol
table comes from bot/currency_symbols.py, generated from CLDR by scripts/gen_currency_symbols.py:
finding the local symbols means loading the locales of every territory, which would keep well over
100 MiB of locale data in memory for the life of the process.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_cldr_version, get_global
from babel.localedata import locale_identifiers
from babel.numbers import get_currency_name, get_currency_precision, get_territory_currencies

from bot.core.grammar import CurrencyCatalog, GrammarContext
from bot.core.money import Money

DEFAULT_LOCALE = "en_US"
NAME_LOCALE = "en"
# Codes people type in lower case too ("20 usd"); rarer codes must be written in capitals,
# so words such as "all", "top", "bob" or "try" stay names.
CASUAL_CODES = frozenset({
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK",
    "HUF", "INR", "CNY", "HKD", "SGD", "MXN", "BRL", "ZAR", "KES", "NGN", "RON", "UAH", "ILS",
})
DOLLAR_WORDS = ("dollar", "dollars", "buck", "bucks")
EXTRA_NAMES = {
    "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "yen": "JPY", "franc": "CHF", "francs": "CHF", "rupee": "INR", "rupees": "INR",
    "shilling": "KES", "shillings": "KES", "naira": "NGN", "rand": "ZAR",
}
_SYMBOL_PUNCTUATION = re.compile(r"[0-9.,'\s]")
_CODE_THEN_DIGIT = re.compile(r"^([^\W\d_]+)(?=[0-9])")
_DIGIT_THEN_CODE = re.compile(r"(?<=[0-9])([^\W\d_]+)$")


@dataclass(frozen=True)
class _Cldr:
    """What CLDR says about the currencies in use today."""

    digits: dict[str, int]
    symbols: dict[str, str]
    dollar_symbol_codes: frozenset[str]
    names: dict[str, str]


def _clean_symbol(symbol: str) -> str:
    """A symbol as the grammar sees typed text: NFKC, without invisible marks."""
    text = unicodedata.normalize("NFKC", symbol)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()


def _usable_symbol(symbol: str, codes: set[str]) -> bool:
    """A symbol the grammar can match safely: not a code, not a lone letter, no digits or dots."""
    if not symbol or symbol.upper() in codes or _SYMBOL_PUNCTUATION.search(symbol):
        return False
    return not (len(symbol) == 1 and symbol.isalpha())


def _active_codes() -> dict[str, list[str]]:
    """Territory -> the currencies legal tender there today."""
    return {territory: get_territory_currencies(territory)
            for territory in get_global("territory_currencies")}


def _local_symbols(active: dict[str, list[str]]) -> dict[str, set[str]]:
    """Symbol -> codes, as each currency is written in the locales of its own territories."""
    known_locales = set(locale_identifiers())
    languages = get_global("territory_languages")
    found: dict[str, set[str]] = defaultdict(set)
    for territory, codes in active.items():
        for language, info in languages.get(territory, {}).items():
            identifier = f"{language}_{territory}"
            if not info.get("official_status"):
                continue
            if codes and identifier in known_locales:
                symbols = Locale.parse(identifier).currency_symbols
                for code in codes:
                    found[_clean_symbol(symbols.get(code, code))].add(code)
    return found


def _symbols(codes: set[str], local: dict[str, set[str]]) -> dict[str, str]:
    """Symbol -> code: English symbols first, then unambiguous local ones ('zł', 'Ksh', '₽')."""
    english = Locale.parse(NAME_LOCALE).currency_symbols
    symbols: dict[str, str] = {}
    for code in sorted(codes):
        symbol = _clean_symbol(english.get(code, code))
        if _usable_symbol(symbol, codes):
            symbols.setdefault(symbol, code)
    for symbol, owners in sorted(local.items()):
        if len(owners) == 1 and _usable_symbol(symbol, codes):
            symbols.setdefault(symbol, next(iter(owners)))
    return symbols


def _names(codes: set[str]) -> dict[str, str]:
    """English names of up to three words -> code ('euros', 'US dollars', 'Swiss francs')."""
    names: dict[str, str] = {}
    for code in sorted(codes):
        for count in (1, 2):
            name = get_currency_name(code, count=count, locale=NAME_LOCALE)
            if name and name != code and len(name.split()) <= 3:
                names.setdefault(name.casefold(), code)
    for word in DOLLAR_WORDS:
        names[word] = "USD"
    return {**names, **{k: v for k, v in EXTRA_NAMES.items() if v in codes}}


@dataclass(frozen=True)
class SymbolTable:
    """The symbols the grammar knows, and the currencies written '$' at home."""

    symbols: dict[str, str]
    dollar_symbol_codes: frozenset[str]


def scan_symbol_table() -> SymbolTable:
    """Read the symbol table from CLDR (slow and memory-hungry: loads hundreds of locales)."""
    active = _active_codes()
    codes = {code for territory_codes in active.values() for code in territory_codes}
    local = _local_symbols(active)
    return SymbolTable(_symbols(codes, local), frozenset(local.get("$", set())))


def render_symbol_module(table: SymbolTable) -> str:
    """The source text of bot/currency_symbols.py for a symbol table."""
    lines = [
        '"""Currency symbols from CLDR, generated by scripts/gen_currency_symbols.py: do not edit."""',
        "",
        f"CLDR_VERSION = {get_cldr_version()!r}",
        "",
        "# Symbol -> ISO 4217 code, in the order the grammar reads them.",
        "SYMBOLS = {",
        *(f"    {symbol!r}: {code!r}," for symbol, code in table.symbols.items()),
        "}",
        "",
        "# Currencies written '$' in the locales of their own territories.",
        "DOLLAR_SYMBOL_CODES = frozenset({",
        *(f"    {code!r}," for code in sorted(table.dollar_symbol_codes)),
        "})",
    ]
    return "\n".join(lines) + "\n"


def _stored_symbol_table() -> SymbolTable:
    """The symbol table generated at build time."""
    from bot import currency_symbols

    return SymbolTable(dict(currency_symbols.SYMBOLS), currency_symbols.DOLLAR_SYMBOL_CODES)


@lru_cache(maxsize=1)
def _cldr() -> _Cldr:
    """Read CLDR once: digits and names of the currencies in use; symbols from the stored table."""
    codes = {code for territory_codes in _active_codes().values() for code in territory_codes}
    table = _stored_symbol_table()
    return _Cldr(
        digits={code: get_currency_precision(code) for code in codes},
        symbols=table.symbols,
        dollar_symbol_codes=table.dollar_symbol_codes,
        names=_names(codes),
    )


def _dollar_name(code: str) -> bool:
    """True for currencies called dollars in English (CAD, AUD, ...)."""
    return get_currency_name(code, locale=NAME_LOCALE).casefold().endswith("dollar")


@lru_cache(maxsize=32)
def currency_catalog(default_currency: str = "USD") -> CurrencyCatalog:
    """The catalog for people whose default is default_currency ('$' means CAD to a CAD user)."""
    cldr = _cldr()
    digits = dict(cldr.digits)
    digits.setdefault(default_currency, get_currency_precision(default_currency))
    symbols = dict(cldr.symbols)
    names = dict(cldr.names)
    if default_currency in cldr.dollar_symbol_codes:
        symbols["$"] = default_currency
    if _dollar_name(default_currency):
        names.update(dict.fromkeys(DOLLAR_WORDS, default_currency))
    return CurrencyCatalog.of(digits, symbols, names, CASUAL_CODES | {default_currency})


@lru_cache(maxsize=64)
def grammar_context(default_currency: str, max_amount: Decimal) -> GrammarContext:
    """The GrammarContext for a default currency and a per-payment limit (major units)."""
    return GrammarContext(default_currency, Decimal(max_amount), currency_catalog(default_currency))


def currency_digits(code: str) -> int:
    """How many decimals (minor-unit digits) a currency has, per CLDR."""
    return get_currency_precision(code)


def _locale(locale: str | Locale) -> Locale:
    """The Babel locale, or en_US when the name is unknown or malformed."""
    try:
        return locale if isinstance(locale, Locale) else Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def format_money(money: Money, locale: str = DEFAULT_LOCALE) -> str:
    """Money for people, in their locale: '$20.00', '20,00 €' (de_DE), '¥500'; never rounded."""
    where = _locale(locale)
    pattern = copy.copy(where.currency_formats["standard"])
    pattern.frac_prec = (money.digits, money.digits)
    text = pattern.apply(money.major, where, currency=money.currency, currency_digits=False)
    return _space_letter_symbol(text)


def _space_letter_symbol(text: str) -> str:
    """CLDR currency spacing: a symbol made of letters gets a no-break space ('CHF 20.00')."""
    text = _CODE_THEN_DIGIT.sub("\\1\u00a0", text)
    return _DIGIT_THEN_CODE.sub("\u00a0\\1", text)

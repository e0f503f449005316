"""The grammar, phrasing by phrasing: what people type and exactly what the bot reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.core.commands import ParseError
from bot.core.grammar import GrammarContext, parse
from bot.core.text import clean_payee
from bot.currencies import grammar_context
from bot.parsing import describe, parse_text


def send(amount: str, payee: str, currency: str = "USD", note: str | None = None) -> dict:
    return {"command": "send", "amount": amount, "currency": currency, "payee": payee, "note": note}


@pytest.fixture(scope="module")
def ctx() -> GrammarContext:
    return grammar_context("USD", Decimal("1000"))


SENDS = [
    # the canonical forms
    ("send $20 to Neville", send("20.00", "Neville")),
    ("pay Neville 20", send("20.00", "Neville")),
    ("Send 20 USD to Neville Longbottom", send("20.00", "Neville Longbottom")),
    ("give neville $7.5 for lunch", send("7.50", "neville", note="lunch")),
    ("transfer 20 to Neville", send("20.00", "Neville")),
    ("wire 20 to Neville", send("20.00", "Neville")),
    ("SEND $20 TO NEVILLE", send("20.00", "NEVILLE")),
    ("Pay neville $20", send("20.00", "neville")),
    ("send 20 Neville", send("20.00", "Neville")),
    ("send 20 Neville for lunch", send("20.00", "Neville", note="lunch")),
    ("send to Neville $20", send("20.00", "Neville")),
    ("send to Neville $20 for lunch", send("20.00", "Neville", note="lunch")),
    ("send Neville Longbottom $20 for lunch", send("20.00", "Neville Longbottom", note="lunch")),
    # slash forms
    ("/send 20 Neville", send("20.00", "Neville")),
    ("/send@PayfriendBot 20 Neville", send("20.00", "Neville")),
    ("/pay 5 bob", send("5.00", "bob")),
    ("/send $20 to Neville for rent", send("20.00", "Neville", note="rent")),
    # without a verb
    ("20$ to bob", send("20.00", "bob")),
    ("$20 to Neville", send("20.00", "Neville")),
    ("20 to Neville", send("20.00", "Neville")),
    ("$20 to Neville for rent", send("20.00", "Neville", note="rent")),
    ("20 euros to Ana", send("20.00", "Ana", "EUR")),
    ("Neville 20", send("20.00", "Neville")),
    ("@neville $5 for coffee", send("5.00", "@neville", note="coffee")),
    # currencies: symbols, codes either side, names
    ("send €5 to Ana", send("5.00", "Ana", "EUR")),
    ("send 5€ to Ana", send("5.00", "Ana", "EUR")),
    ("send 5 € to Ana", send("5.00", "Ana", "EUR")),
    ("send EUR 20 to Ana", send("20.00", "Ana", "EUR")),
    ("send 20 EUR to Ana", send("20.00", "Ana", "EUR")),
    ("send 20 eur to Ana", send("20.00", "Ana", "EUR")),
    ("send 20EUR to Ana", send("20.00", "Ana", "EUR")),
    ("send £10.50 to Jo", send("10.50", "Jo", "GBP")),
    ("send 10 gbp to jo", send("10.00", "jo", "GBP")),
    ("send 10 quid to Jo", send("10.00", "Jo", "GBP")),
    ("send ¥500 to Ken", send("500", "Ken", "JPY")),
    ("send 500 yen to Ken", send("500", "Ken", "JPY")),
    ("send 20 bucks to Bo", send("20.00", "Bo")),
    ("Send 75 dollars to Aga Orlova", send("75.00", "Aga Orlova")),
    ("send 20 US dollars to Bob", send("20.00", "Bob")),
    ("send 20 Swiss francs to Urs", send("20.00", "Urs", "CHF")),
    ("send CA$5 to Bob", send("5.00", "Bob", "CAD")),
    ("send 5 CAD to Bob", send("5.00", "Bob", "CAD")),
    ("send $20 USD to Bob", send("20.00", "Bob")),
    ("send KSh 300 to 0721 234567", send("300.00", "0721 234567", "KES")),
    ("send Ksh300 to 0721 234567", send("300.00", "0721 234567", "KES")),
    ("send 50 zł to Ola", send("50.00", "Ola", "PLN")),
    ("send ₹500 to Raj", send("500.00", "Raj", "INR")),
    ("send 0.250 BHD to Ali", send("0.250", "Ali", "BHD")),
    ("send 20 ALL to Bob", send("20", "Bob", "ALL")),
    ("send ＄２０ to Ana", send("20.00", "Ana")),
    ("send ٢٠ to Ana", send("20.00", "Ana")),
    # numbers: grouping and decimals
    ("send 1,000 to Bob", send("1000.00", "Bob")),
    ("send $1,000.00 to Bob", send("1000.00", "Bob")),
    ("send 1 000 to Bob", send("1000.00", "Bob")),
    ("send 999,50 to Bob", send("999.50", "Bob")),
    ("send 20,5 to Bob", send("20.50", "Bob")),
    ("send 1'000 CHF to Urs", send("1000.00", "Urs", "CHF")),
    ("send .5 to Bob", send("0.50", "Bob")),
    ("send 20. to Bob", send("20.00", "Bob")),
    ("send 0.01 to Bob", send("0.01", "Bob")),
    # payees: handles, phones, odd characters
    ("send €5 to +44 7700 900123", send("5.00", "+44 7700 900123", "EUR")),
    ("Send 5 to 4150001234", send("5.00", "4150001234")),
    ("pay 4150001234 20", send("20.00", "4150001234")),
    ("pay +1 415 555 1234 20", send("20.00", "+1 415 555 1234")),
    ("send 5 to ana@example.com", send("5.00", "ana@example.com")),
    ("send $20 to Nev\u202eille", send("20.00", "Neville")),
    ("send $20 to Nev\u200bille", send("20.00", "Neville")),
    ("send $20 to Neville\u0007", send("20.00", "Neville")),
    ("send $20 to  Neville \t Longbottom", send("20.00", "Neville Longbottom")),
    ("send 20 to Zoë", send("20.00", "Zoë")),
    ("send 20 to \uff2e\uff45\uff56", send("20.00", "Nev")),
    ('send 20 to "Neville Longbottom"', send("20.00", "Neville Longbottom")),
    ("SEND 20 TO BOB", send("20.00", "BOB")),
    ("send 20 bob", send("20.00", "bob")),
    # notes
    ("pay Sally $6 for the yummy burrito", send("6.00", "Sally", note="the yummy burrito")),
    ('venmo pay @user 23.19 "Thanks for the beer"', send("23.19", "@user", note="Thanks for the beer")),
    ("Apple Pay 75 dollars to Aga Orlova for the zipline tour",
     send("75.00", "Aga Orlova", note="the zipline tour")),
    ("send $20 for pizza to Neville", send("20.00", "Neville", note="pizza")),
    ("send $20 for a trip to Paris to Neville", send("20.00", "Neville", note="a trip to Paris")),
    ("send 20 to Neville for bus to work", send("20.00", "Neville", note="bus to work")),
    ('send 20 to Neville "rent"', send("20.00", "Neville", note="rent")),
    ("send 20 to Neville \u201crent\u201d", send("20.00", "Neville", note="rent")),
    ("send 20 to @neville for", send("20.00", "@neville")),
    ("pay Bob $20, for lunch", send("20.00", "Bob", note="lunch")),
    # politeness and punctuation
    ("please send $20 to Neville", send("20.00", "Neville")),
    ("send $20 to Neville please", send("20.00", "Neville")),
    ("send $20 to Neville.", send("20.00", "Neville")),
    ("send $20 to Neville!", send("20.00", "Neville")),
]

OTHER_COMMANDS = [
    ("cancel", {"command": "cancel"}),
    ("Cancel.", {"command": "cancel"}),
    ("/cancel", {"command": "cancel"}),
    ("cancel payment", {"command": "cancel"}),
    ("stop", {"command": "cancel"}),
    ("undo", {"command": "cancel"}),
    ("no", {"command": "cancel"}),
    ("status", {"command": "status"}),
    ("/status", {"command": "status"}),
    ("history", {"command": "history"}),
    ("/history", {"command": "history"}),
    ("my payments", {"command": "history"}),
    ("history 2", {"command": "history", "page": 2}),
    ("History 12", {"command": "history", "page": 12}),
    ("/history 3", {"command": "history", "page": 3}),
    ("history page 2", {"command": "history", "page": 2}),
    ("history 1", {"command": "history"}),
    ("Sen 20", send("20.00", "Sen")),  # a name near a command word is still a payee when only it reads
    ("help", {"command": "help"}),
    ("HELP", {"command": "help"}),
    ("help?", {"command": "help"}),
    ("?", {"command": "help"}),
    ("/help", {"command": "help"}),
    ("/start", {"command": "start"}),
    ("/start invite-42", {"command": "start"}),
    ("start", {"command": "start"}),
    ("hi", {"command": "start"}),
    ("yes", {"command": "confirm"}),
    ("YES!", {"command": "confirm"}),
    ("y", {"command": "confirm"}),
    ("confirm", {"command": "confirm"}),
    ("/confirm", {"command": "confirm"}),
    ("123456", {"command": "code", "code": "123456"}),
    ("1234", {"command": "code", "code": "1234"}),
    ("1234567890", {"command": "code", "code": "1234567890"}),
    ("  123456  ", {"command": "code", "code": "123456"}),
    ("123 456", {"command": "code", "code": "123456"}),
    ("123-456", {"command": "code", "code": "123456"}),
    ("Code: 123456", {"command": "code", "code": "123456"}),
    ("/code 123456", {"command": "code", "code": "123456"}),
    ("\u0661\u0662\u0663\u0664\u0665\u0666", {"command": "code", "code": "123456"}),
]

# (text, words the reply must contain); every reply also carries a correct example.
ERRORS = [
    ("", ["empty"]),
    ("   \n\t ", ["empty"]),
    ("\u200b\u202e", ["didn't understand"]),
    ("hello there", ["didn't understand"]),
    ("what is my balance?", ["didn't understand"]),
    ("Neville Longbottom 20", ["didn't understand"]),
    ("thanks 20", ["didn't understand"]),
    ("send 0 to Neville", ["more than zero"]),
    ("send $0.00 to Neville", ["more than zero"]),
    ("send -5 to Neville", ["negative"]),
    ("send $-5 to Neville", ["negative"]),
    ("send \u22125 to Neville", ["negative"]),
    ("pay Neville -20", ["negative"]),
    ("send $20.123 to Neville", ["USD", "at most 2 decimal"]),
    ("send ¥20.5 to Ken", ["JPY", "no decimal"]),
    ("send 20.00 JPY to Ken", ["JPY", "no decimal"]),
    ("send 1.000 to Bob", ["decimal", "1,000"]),
    ("send 2.500 to Bob", ["decimal", "group thousands"]),
    ("send 1.500 JPY to Ken", ["no decimal", "group thousands"]),
    ("send 20.999 to Neville", ["at most 2 decimal", "20.999"]),
    ("send 20 XYZ to Neville", ["don't know the currency", "XYZ"]),
    ("send 20XYZ to Neville", ["don't know the currency", "XYZ"]),
    ("send $20 EUR to Bob", ["two different currencies"]),
    ("send $5000 to Neville", ["over the limit", "$1,000.00", "$5,000.00"]),
    ("send 1,000.01 to Neville", ["over the limit"]),
    ("send 99999999999999999999999999999999 to Neville", ["over the limit"]),
    ("send 1,00,0 to Bob", ["couldn't read the amount", "1,00,0"]),
    ("send 20.5.3 to Bob", ["couldn't read the amount"]),
    ("send $20", ["who should get", "$20.00"]),
    ("send $20 to", ["who should get"]),
    ("send 20 for rent", ["who should get"]),
    ("send $20 for dinner at Neville's", ["who should get"]),
    ("EUR 20", ["who should get", "€20.00"]),
    ("20 euros", ["who should get", "€20.00"]),
    ("20", ["who should get"]),
    ("send 20 BOB", ["who should get", "BOB"]),
    ("send 20 EUR", ["who should get"]),
    ("send $20 to ###", ["not a name"]),
    ("send $20 to \u00a7\u00a7 \u2020", ["not a name"]),
    ("send $20 to \u0000\u0001\u0002", ["who should get"]),
    ("send 20 to \U0001f600", ["not a name"]),
    ("send 3 to 12", ["not a name or phone number"]),
    ("send 20 to " + "a" * 80, ["too long"]),
    ("send 20 to Neville for " + "x" * 200, ["note is too long"]),
    ("send " + "1" * 600, ["too long"]),
    ("send $20 to Neville and $30 to Bob", ["more than one amount"]),
    ("send $20 to Neville... actually 2000", ["more than one amount"]),
    ("send 5 to Bob 10", ["more than one amount"]),
    ("send me $20", ["someone else"]),
    ("send 20 to me", ["someone else"]),
    ("send", ["how much and to whom"]),
    ("/send", ["how much and to whom"]),
    ("send Neville", ["couldn't find an amount"]),
    ("send twenty dollars to Bob", ["couldn't find an amount"]),
    ("send 20k to Bob", ["couldn't find an amount"]),
    ("charge Neville $20", ["requests", "not supported"]),
    ("request $20 from Neville", ["requests", "not supported"]),
    ("Request 20 EUR", ["requests", "not supported"]),
    ("ask Neville for $20", ["requests", "not supported"]),
    ("venmo charge 19495551234 23.19", ["requests", "not supported"]),
    ("/request 20 Neville", ["requests", "not supported"]),
]


@pytest.mark.parametrize(("text", "expected"), SENDS + OTHER_COMMANDS, ids=lambda v: repr(v)[:60])
def test_phrasing_reads_exactly(ctx, text, expected):
    assert describe(parse(text, ctx)) == expected


@pytest.mark.parametrize(("text", "words"), ERRORS, ids=lambda v: repr(v)[:60])
def test_bad_input_says_what_is_wrong_and_shows_an_example(ctx, text, words):
    result = describe(parse(text, ctx))
    assert set(result) == {"error"}, result
    message = result["error"]
    for word in words:
        assert word.casefold() in message.casefold(), (word, message)
    assert "Try: send " in message or "Try: /send " in message


# A mistyped first word: (text, the reply), exactly; the corrected message is the example when it reads.
NEAR_MISSES = [
    ("sned 20 to bob", "Did you mean \u201csend\u201d? Try: send 20 to bob"),
    ("Sned $20 for pizza to Neville", "Did you mean \u201csend\u201d? Try: send $20 for pizza to Neville"),
    ("pya neville 20", "Did you mean \u201cpay\u201d? Try: pay neville 20"),
    ("tranfser 5 to Ana", "Did you mean \u201ctransfer\u201d? Try: transfer 5 to Ana"),
    ("histroy", "Did you mean \u201chistory\u201d? Try: history"),
    ("histroy 2", "Did you mean \u201chistory\u201d? Try: history 2"),
    ("stauts", "Did you mean \u201cstatus\u201d? Try: status"),
    ("cancle", "Did you mean \u201ccancel\u201d? Try: cancel"),
    ("hepl", "Did you mean \u201chelp\u201d? Try: help"),
    ("confrim", "Did you mean \u201cconfirm\u201d? Try: confirm"),
    ("sned twenty to bob", "Did you mean \u201csend\u201d? Try: send $20 to Neville (or type help)."),
]


@pytest.mark.parametrize(("text", "reply"), NEAR_MISSES, ids=lambda v: repr(v)[:60])
def test_a_near_miss_command_gets_did_you_mean(ctx, text, reply):
    assert describe(parse(text, ctx)) == {"error": reply}


@pytest.mark.parametrize("text", ["hello there", "what is my balance?", "thanks 20", "Neville Longbottom 20"])
def test_text_near_no_command_is_not_guessed_at(ctx, text):
    assert "Did you mean" not in describe(parse(text, ctx))["error"]


def test_an_unknown_slash_command_near_a_known_one_is_named(ctx):
    message = describe(parse("/histroy", ctx))["error"]
    assert "Did you mean /history?" in message and "/help" in message


@pytest.mark.parametrize("text", ["send 20.999 to Neville", "send $20.123 to Neville", "send 20.00 JPY to Ken"])
def test_the_thousands_hint_is_given_only_where_it_applies(ctx, text):
    assert "thousands" not in describe(parse(text, ctx))["error"]


def test_the_table_is_big_enough():
    assert len(SENDS) + len(OTHER_COMMANDS) + len(ERRORS) >= 80


def test_unknown_slash_command_points_to_help(ctx):
    message = describe(parse("/frobnicate", ctx))["error"]
    assert "/frobnicate" in message and "/help" in message and "/send 20 Neville" in message


def test_a_request_is_never_a_debit(ctx):
    for text in ("charge Neville $20", "request $20 from Neville", "ask Neville for $20", "send me $20"):
        assert isinstance(parse(text, ctx), ParseError)


def test_limit_and_default_currency_come_from_the_context():
    euro = grammar_context("EUR", Decimal("5000"))
    assert describe(parse("send 1,000.50 EUR to @neville for rent", euro)) == send(
        "1000.50", "@neville", "EUR", "rent")
    assert describe(parse("send 20 to Ana", euro)) == send("20.00", "Ana", "EUR")
    assert "€20" in describe(parse("send", euro))["error"]
    assert "over the limit" in describe(parse("send 5000.01 to Ana", euro))["error"]


def test_the_default_currency_owns_the_dollar_sign_when_it_uses_one():
    canada = grammar_context("CAD", Decimal("1000"))
    assert describe(parse("send $20 to Ana", canada)) == send("20.00", "Ana", "CAD")
    assert describe(parse("send 20 dollars to Ana", canada)) == send("20.00", "Ana", "CAD")
    assert describe(parse("send US$20 to Ana", canada)) == send("20.00", "Ana", "USD")


def test_parse_text_uses_the_settings():
    class Settings:
        default_currency = "GBP"
        max_payment_amount = Decimal("50")

    assert parse_text("send 20 to Jo", Settings()) == send("20.00", "Jo", "GBP")
    assert "over the limit" in parse_text("send 60 to Jo", Settings())["error"]


@pytest.mark.parametrize(("raw", "shown"), [
    ("Neville", "Neville"),
    ("  Neville \n Longbottom ", "Neville Longbottom"),
    ("Nev\u202eille\u2066", "Neville"),
    ("\u200bNe\u00advil\ufeffle", "Neville"),
    ("Nev\x00ille\x1b[31m", "Neville[31m"),
    ('"Neville",', "Neville"),
    ("\uff2e\uff45\uff56\uff49\uff4c\uff4c\uff45", "Neville"),
    ("Z\u0301\u0301\u0301\u0301\u0301\u0301", "\u0179\u0301\u0301\u0301"),  # NFKC composes the first
    ("x" * 100, "x" * 61 + "..."),
])
def test_clean_payee_examples(raw, shown):
    assert clean_payee(raw) == shown

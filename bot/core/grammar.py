"""The one command grammar for every channel: a person's text in, a Command or a ParseError out.

Standard library only. The currency catalog (symbols, codes, minor digits, names) is passed in
through GrammarContext; bot.currencies builds it from CLDR data.

Understood (verbs: send, pay, give, transfer, wire, apple pay, /send, /pay):
    send $20 to Neville        pay Neville 20            send 1,000.50 EUR to @neville for rent
    send 20 Neville            send $20 for pizza to Neville      send to Neville $20
    20$ to bob                 Neville 20 (one-word payee)        pay @sam 5 "thanks for lunch"
plus cancel, status, history, help, start, yes/confirm, a one-time code (4-10 digits) and the
/slash forms. charge/request/invoice/bill (and "ask ... for $20") are requests: refused for now.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from types import MappingProxyType

from bot.core.commands import (
    Cancel, Code, Command, Confirm, Help, History, ParseError, ParseResult, Send, SetUpApp, Start, Status,
)
from bot.core.money import Money
from bot.core.text import NOTE_MAX_LENGTH, PAYEE_MAX_LENGTH, clean_note, clean_payee, normalize_message

MAX_TEXT_LENGTH = 500
MAX_GROUP_TOKENS = 6
MAX_NAME_WORDS = 3
MIN_PHONE_DIGITS = 5
INTERNAL_ERROR = "Sorry, something went wrong reading that. Try: send $20 to Neville"


# --------------------------------------------------------------------------- context


@dataclass(frozen=True, eq=False)
class CurrencyCatalog:
    """What the grammar knows about currencies: codes and digits, symbols, names."""

    digits: Mapping[str, int]
    symbols: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    casual_codes: frozenset[str] = frozenset()
    folded_symbols: Mapping[str, str] = field(default_factory=dict)
    display_symbols: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, digits: Mapping[str, int], symbols: Mapping[str, str] | None = None,
           names: Mapping[str, str] | None = None,
           casual_codes: frozenset[str] | set[str] = frozenset()) -> "CurrencyCatalog":
        """Build a catalog: ISO code -> minor digits, symbol -> code, name -> code, lowercase-ok codes."""
        known = {code.upper(): min(max(int(n), 0), 4) for code, n in digits.items()}
        syms = {normalize_message(s): c.upper() for s, c in (symbols or {}).items()
                if normalize_message(s) and c.upper() in known}
        return cls(
            digits=MappingProxyType(known),
            symbols=MappingProxyType(syms),
            names=MappingProxyType({normalize_message(n).casefold(): c.upper()
                                    for n, c in (names or {}).items() if c.upper() in known}),
            casual_codes=frozenset(c.upper() for c in casual_codes if c.upper() in known),
            folded_symbols=MappingProxyType(_folded(syms)),
            display_symbols=MappingProxyType(_display(syms)),
        )


def _folded(symbols: Mapping[str, str]) -> dict[str, str]:
    """Symbols with letters and at least three characters, matched case-insensitively (KSh)."""
    return {s.casefold(): c for s, c in symbols.items()
            if len(s) >= 3 and any(ch.isalpha() for ch in s)}


def _display(symbols: Mapping[str, str]) -> dict[str, str]:
    """For each code the shortest symbol without letters ('$' for USD, '€' for EUR)."""
    shown: dict[str, str] = {}
    for symbol, code in symbols.items():
        if any(ch.isalpha() for ch in symbol):
            continue
        if code not in shown or len(symbol) < len(shown[code]):
            shown[code] = symbol
    return shown


@dataclass(frozen=True)
class GrammarContext:
    """Everything parse() needs besides the text: default currency, per-payment limit, catalog."""

    default_currency: str
    max_amount: Decimal
    catalog: CurrencyCatalog


# --------------------------------------------------------------------------- vocabulary

_SEND_VERBS = frozenset({"send", "pay", "give", "transfer", "wire"})
_REQUEST_VERBS = frozenset({"charge", "request", "invoice", "bill", "collect"})
_SELF = frozenset({"me", "myself", "us", "ourselves"})
_SIGNS = "-\u2212\u2013"

_PHRASES: dict[str, type] = {
    **dict.fromkeys(("cancel", "cancel it", "cancel that", "cancel payment", "cancel the payment",
                     "cancel my payment", "stop", "undo", "no", "n", "nope", "abort"), Cancel),
    **dict.fromkeys(("status", "payment status", "check status", "my status"), Status),
    **dict.fromkeys(("history", "payment history", "my payments", "payments", "transactions",
                     "show history", "my history"), History),
    **dict.fromkeys(("help", "?", "menu", "commands", "what can you do"), Help),
    **dict.fromkeys(("app", "set up app", "setup app", "set up my app", "link app", "link my app", "app link"),
                    SetUpApp),
    **dict.fromkeys(("start", "hi", "hello", "hey", "get started"), Start),
    **dict.fromkeys(("yes", "y", "yep", "yeah", "confirm", "confirmed", "yes confirm",
                     "confirm payment", "yes send it"), Confirm),
}
_HISTORY_PAGE = re.compile(r"/?(?:history|my payments|payments)(?:@\S+)?\s+(?:page\s+)?([0-9]{1,4})", re.I)
# What a mistyped first word may have meant ("sned" -> "send"); only asked once nothing else fits.
_NEAR_MISS_WORDS = ("send", "pay", "give", "transfer", "wire", "cancel", "status", "history", "help",
                    "start", "confirm", "yes")
NEAR_MISS_CUTOFF = 0.7
_SLASH: dict[str, type] = {"start": Start, "help": Help, "cancel": Cancel, "status": Status,
                           "history": History, "confirm": Confirm, "yes": Confirm, "app": SetUpApp}
# Words that never start a verb-less send ("thanks 20" is not a payment to "thanks").
_NOT_A_PAYEE = _SEND_VERBS | _REQUEST_VERBS | {word for phrase in _PHRASES for word in phrase.split()} | {
    "thanks", "thank", "ok", "okay", "what", "why", "how", "when", "where", "who", "is", "i",
    "my", "the", "a", "an", "it", "this", "that", "to", "for", "and", "or", "me", "you", "we",
    "please", "ask", "code", "otp", "amount", "balance", "total", "about", "at", "in", "on",
}

_CODE = re.compile(r"(?:/?code\s*:?\s*|otp\s*:?\s*)?([0-9]{2,10}(?:[ -][0-9]{2,10}){0,4})", re.I)
_TOKEN = re.compile(r"(?P<pre>[^0-9]*?)(?P<num>[0-9][0-9.,']*|[.,][0-9][0-9.,']*)(?P<post>[^0-9]*)")
_GROUP = re.compile(r"(?P<digits>[0-9]{3})(?P<frac>[.,][0-9]+)?(?P<post>[^0-9]*)")
_QUOTED_NOTE = re.compile(r'(?P<body>.*?)\s*"(?P<note>[^"]*)"\s*$', re.S)
_NUMBER_FORMS = (
    (re.compile(r"[0-9]+"), "", ""),
    (re.compile(r"[0-9]*\.[0-9]+"), "", "."),
    (re.compile(r"[0-9]+,[0-9]{1,2}"), "", ","),
    (re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?"), ",", "."),
    (re.compile(r"[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3}(?:\.[0-9]+)?"), ",", "."),
    (re.compile(r"[0-9]{1,3}(?:\.[0-9]{3}){2,}(?:,[0-9]+)?"), ".", ","),
    (re.compile(r"[0-9]{1,3}\.[0-9]{3},[0-9]+"), ".", ","),
    (re.compile(r"[0-9]{1,3}(?:'[0-9]{3})+(?:\.[0-9]+)?"), "'", "."),
)


# --------------------------------------------------------------------------- messages


def _symbol(ctx: GrammarContext, code: str) -> str | None:
    """The symbol to show for a code, if it has one without letters."""
    return ctx.catalog.display_symbols.get(code)


def _example(ctx: GrammarContext, code: str | None = None, amount: str = "20") -> str:
    """'Try: send $20 to Neville' in the given (or default) currency."""
    code = code or ctx.default_currency
    symbol = _symbol(ctx, code)
    written = f"{symbol}{amount}" if symbol else f"{amount} {code}"
    return f"Try: send {written} to Neville"


def _show(ctx: GrammarContext, money: Money) -> str:
    """An amount for a reply, grouped and with the currency's decimals: '$1,000.50'."""
    return _show_value(ctx, money.major, money.currency, money.digits)


def _show_value(ctx: GrammarContext, value: Decimal, code: str, digits: int) -> str:
    """A major-unit value for a reply: '$1,000.00', '1,000.00 BOB'."""
    try:
        with localcontext() as exact:
            exact.prec = 120
            number = format(value.quantize(Decimal(1).scaleb(-digits)), ",f")
    except ArithmeticError:
        number = str(value)
    symbol = _symbol(ctx, code)
    return f"{symbol}{number}" if symbol else f"{number} {code}"


def _quote(text: str) -> str:
    """User text echoed in a reply, short and clean."""
    return "\u201c" + clean_payee(text, 30) + "\u201d"


def _error(ctx: GrammarContext, message: str, code: str | None = None, amount: str = "20") -> ParseError:
    """A ParseError whose message ends with a correct example."""
    return ParseError(f"{message} {_example(ctx, code, amount)}")


def _not_understood(ctx: GrammarContext) -> ParseError:
    return ParseError(f"Sorry, I didn't understand that. {_example(ctx)} (or type help).")


# --------------------------------------------------------------------------- entry point


def parse(text: str, ctx: GrammarContext) -> ParseResult:
    """Parse one message into a Command, or a ParseError whose message is the reply; never raises."""
    try:
        return _parse(text, ctx)
    except Exception:  # noqa: BLE001 - the contract is "never raise"; tests fuzz _parse directly
        return ParseError(INTERNAL_ERROR)


def _parse(text: str, ctx: GrammarContext) -> ParseResult:
    """parse() without the safety net."""
    if not isinstance(text, str) or not text.strip():
        return ParseError(f"Your message was empty. {_example(ctx)} (or type help).")
    if len(text) > MAX_TEXT_LENGTH:
        return _error(ctx, f"That message is too long (at most {MAX_TEXT_LENGTH} characters).")
    clean = _strip_politeness(normalize_message(text))
    if not clean:
        return _not_understood(ctx)
    return _simple(clean) or _slash(clean, ctx) or _sentence(clean, ctx)


def _strip_politeness(text: str) -> str:
    """Drop end punctuation and a leading or trailing 'please'."""
    stripped = text.rstrip(".!?").strip()
    stripped = re.sub(r"^(?:please|pls|plz)[,\s]+", "", stripped, flags=re.I)
    stripped = re.sub(r"[,\s]+(?:please|pls|plz|thanks|thank you)$", "", stripped, flags=re.I)
    return stripped.rstrip(".!?").strip() or text


def _simple(text: str) -> Command | None:
    """Keyword commands, a history page and typed one-time codes."""
    kind = _PHRASES.get(text.casefold())
    if kind is not None:
        return kind()
    page = _HISTORY_PAGE.fullmatch(text)
    if page:
        return History(max(1, int(page.group(1))))
    match = _CODE.fullmatch(text)
    if match:
        digits = re.sub(r"[ -]", "", match.group(1))
        if 4 <= len(digits) <= 10:
            return Code(digits)
    return None


def _slash(text: str, ctx: GrammarContext) -> ParseResult | None:
    """/start, /help, ... and /send; None when the text is not a slash command."""
    if not text.startswith("/"):
        return None
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].casefold()
    if name in _SLASH:
        return _SLASH[name]()
    if name in _SEND_VERBS:
        return _send(rest.strip(), ctx)
    if name in _REQUEST_VERBS:
        return _request(ctx)
    meant = near_miss(name)
    if meant is not None and f"/{meant}" in ("/send", "/pay", *(f"/{n}" for n in _SLASH)):
        return ParseError(f"I don't know the command {_quote(head)}. Did you mean /{meant}? "
                          "Try: /send 20 Neville, or /help")
    return ParseError(f"I don't know the command {_quote(head)}. Try: /send 20 Neville, or /help")


def near_miss(word: str) -> str | None:
    """The command word a mistyped one stands for ('sned' -> 'send', 'hepl' -> 'help'), or None."""
    folded = word.casefold()
    if len(folded) < 3 or folded in _NEAR_MISS_WORDS:
        return None
    for known in _NEAR_MISS_WORDS:  # swapped letters first: 'pya' is 'pay' more than anything else
        if len(known) == len(folded) and sorted(known) == sorted(folded):
            return known
    found = difflib.get_close_matches(folded, _NEAR_MISS_WORDS, n=1, cutoff=NEAR_MISS_CUTOFF)
    return found[0] if found else None


def _did_you_mean(meant: str, rest: list[str], ctx: GrammarContext, fallback: ParseResult) -> ParseResult:
    """A near-miss first word: offer the corrected message when it reads, else the word and an example.

    A reading without a verb ('Sen 20': pay Sen) stands, unless the corrected text reads too
    ('sned $20 to Neville', 'histroy 2'): then the person surely meant the command.
    """
    corrected = " ".join([meant, *rest])
    if not isinstance(_parse(corrected, ctx), ParseError) and len(corrected) <= 100:
        return ParseError(f"Did you mean \u201c{meant}\u201d? Try: {corrected}")
    if not isinstance(fallback, ParseError):
        return fallback
    return ParseError(f"Did you mean \u201c{meant}\u201d? {_example(ctx)} (or type help).")


def _request(ctx: GrammarContext) -> ParseError:
    return _error(ctx, "Requests (asking someone for money) are not supported yet: I can only send money.")


def _sentence(text: str, ctx: GrammarContext) -> ParseResult:
    """Free text: a request, a send with a verb, or a send without one."""
    words = text.split()
    if words[0].casefold() in ("venmo", "apple") and len(words) > 1:
        words = words[1:]
    head = words[0].casefold()
    if head in _REQUEST_VERBS or (head == "ask" and any(ch.isdigit() for ch in text)):
        return _request(ctx)
    if head in _SEND_VERBS:
        return _send(" ".join(words[1:]), ctx)
    result = _verbless(text, ctx)
    meant = near_miss(head)
    if meant is None:
        return result
    return _did_you_mean(meant, words[1:], ctx, fallback=result)


# --------------------------------------------------------------------------- sends


@dataclass(frozen=True)
class _Span:
    """An amount found at tokens[start:end]: a Money or the error it has."""

    start: int
    end: int
    result: Money | ParseError
    marked: bool = False


@dataclass(frozen=True)
class _Body:
    """The words of a send after the verb, and a note given in quotes."""

    tokens: list[str]
    note: str | None


def _split_body(text: str) -> _Body:
    """Separate a trailing "quoted note" from the words."""
    match = _QUOTED_NOTE.fullmatch(text) if '"' in text else None
    if match and match.group("body") and not match.group("body").casefold().endswith(" to"):
        return _Body(match.group("body").split(), match.group("note"))
    return _Body(text.split(), None)


def _send(text: str, ctx: GrammarContext) -> ParseResult:
    """The words after a send verb."""
    body = _split_body(text)
    if not body.tokens:
        return _error(ctx, "Say how much and to whom.")
    attempts = _amount_first(body, ctx, verb=True)
    if body.tokens[0].casefold() == "to":
        attempts = _chain(attempts, _payee_first(body, ctx, start=1))
    attempts = _chain(attempts, _payee_first(body, ctx, start=0))
    return _pick(attempts) or _error(ctx, "I couldn't find an amount in that.")


def _verbless(text: str, ctx: GrammarContext) -> ParseResult:
    """'$20 to Neville', '20 euros' (no payee: error) or 'Neville 20' (one-word payee)."""
    body = _split_body(text)
    if not body.tokens:
        return _not_understood(ctx)
    attempts = _amount_first(body, ctx, verb=False)
    if len(body.tokens) >= 2 and _could_be_name(body.tokens[0]):
        attempts = _chain(attempts, _payee_first(body, ctx, start=0, only_at=1))
    return _pick(attempts) or _not_understood(ctx)


def _could_be_name(word: str) -> bool:
    """A single word that may stand for a payee without a verb ('Neville 20', '@sam 5')."""
    if word.casefold() in _NOT_A_PAYEE:
        return False
    return word[:1] in ("@", "+") or any(ch.isalpha() for ch in word)


def _chain(*parts: Iterator[ParseResult]) -> Iterator[ParseResult]:
    for part in parts:
        yield from part


def _pick(attempts: Iterator[ParseResult]) -> ParseResult | None:
    """The first reading that is a Send, else the first error, else None."""
    first_error: ParseResult | None = None
    for result in attempts:
        if isinstance(result, Send):
            return result
        first_error = first_error or result
    return first_error


def _amount_first(body: _Body, ctx: GrammarContext, verb: bool) -> Iterator[ParseResult]:
    """Readings where the amount comes first: 'send $20 to Neville', '20$ to bob'."""
    for span in _amount_spans(body.tokens, 0, ctx):
        if isinstance(span.result, ParseError):
            yield span.result
            continue
        yield _after_amount(body.tokens[span.end:], span.result, body.note, ctx, verb)


def _after_amount(rest: list[str], money: Money, note: str | None, ctx: GrammarContext,
                  verb: bool) -> ParseResult:
    """What follows an amount: 'to PAYEE [for NOTE]', 'for NOTE to PAYEE' or (after a verb) 'PAYEE'."""
    head = rest[0].casefold() if rest else ""
    if head == "to":
        payee, found_note = _until_for(rest[1:])
        return _make_send(money, payee, note or found_note, ctx, explicit=True)
    if head == "for":
        lowered = [w.casefold() for w in rest]
        if "to" not in lowered[1:]:
            return _make_send(money, [], note, ctx)
        last_to = len(lowered) - 1 - lowered[::-1].index("to")
        return _make_send(money, rest[last_to + 1:], note or _join(rest[1:last_to]), ctx, explicit=True)
    if not rest or verb:
        payee, found_note = _until_for(rest)
        return _make_send(money, payee, note or found_note, ctx)
    return _not_understood(ctx)


def _until_for(words: list[str]) -> tuple[list[str], str | None]:
    """Split 'Neville for rent' into the payee words and the note."""
    lowered = [w.casefold() for w in words]
    if "for" not in lowered:
        return words, None
    cut = lowered.index("for")
    return words[:cut], _join(words[cut + 1:])


def _join(words: list[str]) -> str | None:
    return " ".join(words) or None


def _payee_first(body: _Body, ctx: GrammarContext, start: int,
                 only_at: int | None = None) -> Iterator[ParseResult]:
    """Readings 'PAYEE AMOUNT [for NOTE]' with the payee from tokens[start:]."""
    tokens = body.tokens
    positions = [only_at] if only_at is not None else range(start + 1, len(tokens))
    for index in positions:
        for span in _amount_spans(tokens, index, ctx):
            tail = tokens[span.end:]
            if tail and tail[0].casefold() != "for":
                continue
            if isinstance(span.result, ParseError):
                yield span.result
                continue
            note = body.note or _join(tail[1:])
            yield _make_send(span.result, tokens[start:index], note, ctx, explicit=start > 0)


def _make_send(money: Money, payee_words: list[str], note: str | None, ctx: GrammarContext,
               explicit: bool = False) -> ParseResult:
    """A Send once the payee and the note pass their checks ('explicit': the payee followed 'to')."""
    payee = _payee(payee_words, money, ctx, explicit)
    if isinstance(payee, ParseError):
        return payee
    cleaned_note = clean_note(note, None) if note else ""
    if len(cleaned_note) > NOTE_MAX_LENGTH:
        return _error(ctx, f"That note is too long (at most {NOTE_MAX_LENGTH} characters).")
    return Send(money, payee, cleaned_note or None)


def _payee(words: list[str], money: Money, ctx: GrammarContext, explicit: bool) -> str | ParseError:
    """The cleaned payee, or why these words cannot be one."""
    name = clean_payee(" ".join(words), None)
    if not name:
        return _error(ctx, f"Who should get {_show(ctx, money)}? Add a name, @username or phone number.",
                      money.currency)
    if len(name) > PAYEE_MAX_LENGTH:
        return _error(ctx, f"That name is too long (at most {PAYEE_MAX_LENGTH} characters).")
    if _has_second_amount(name, ctx):
        return _error(ctx, "I found more than one amount. Send one payment at a time.")
    lowered = name.casefold().split()
    if "to" in lowered or "for" in lowered:
        return _error(ctx, "I couldn't tell who should get the money.")
    if name.casefold() in _SELF:
        return _error(ctx, "I can only send money to someone else (requests are not supported yet).")
    problem = _payee_problem(name, money, ctx, explicit)
    return _error(ctx, problem, money.currency) if problem else name


def _payee_problem(name: str, money: Money, ctx: GrammarContext, explicit: bool) -> str | None:
    """Why a cleaned payee name is unusable, or None."""
    if not any(ch.isalnum() for ch in name):
        return f"{_quote(name)} is not a name I can send money to."
    if not any(ch.isalpha() for ch in name) and sum(ch.isdigit() for ch in name) < MIN_PHONE_DIGITS:
        return f"{_quote(name)} is not a name or phone number I can send money to."
    if not explicit and isinstance(_marker(name, ctx), str):
        return f"Who should get {_show(ctx, money)}? Add a name, @username or phone number."
    return None


def _has_second_amount(name: str, ctx: GrammarContext) -> bool:
    """True when a payee holds an amount: one with a currency ('$30', '30 EUR'), or a bare
    number beside words ('Neville... actually 2000'); phone numbers alone are fine."""
    words = name.split()
    if any(span.marked for index in range(len(words)) for span in _amount_spans(words, index, ctx)):
        return True
    has_letters = any(ch.isalpha() for ch in name)
    return has_letters and any(_read_number(word.strip(",;:.!?")) for word in words)


# --------------------------------------------------------------------------- amounts


@dataclass(frozen=True)
class _Unknown:
    """Three capital letters that are no currency the catalog knows."""

    text: str


@dataclass(frozen=True)
class _Pieces:
    """An amount as written: its sign, its number and the words it came from."""

    negative: bool
    number: str
    written: str


def currency_word(word: str, ctx: GrammarContext) -> str | None:
    """The ISO code a word stands for in this context ('$' -> 'USD', 'euros' -> 'EUR'), or None."""
    marker = _marker(normalize_message(word), ctx)
    return marker if isinstance(marker, str) else None


def _marker(word: str, ctx: GrammarContext) -> str | _Unknown | None:
    """The ISO code a currency word stands for ('$', 'EUR', 'usd', 'euros', 'KSh')."""
    catalog = ctx.catalog
    if word in catalog.symbols:
        return catalog.symbols[word]
    folded = word.casefold()
    if folded in catalog.folded_symbols:
        return catalog.folded_symbols[folded]
    if len(word) == 3 and word.isascii() and word.isalpha():
        upper = word.upper()
        if upper in catalog.digits and (word.isupper() or upper in catalog.casual_codes):
            return upper
        if word.isupper():
            return _Unknown(word)
    return catalog.names.get(folded)


def _amount_spans(tokens: list[str], index: int, ctx: GrammarContext) -> list[_Span]:
    """Every way an amount can start at tokens[index], longest first."""
    if index >= len(tokens):
        return []
    spans: list[_Span] = []
    before = _marker(tokens[index], ctx)
    starts: list[tuple[int, str | _Unknown | None]] = [(index, None)]
    if before is not None and index + 1 < len(tokens):
        starts.insert(0, (index + 1, before))
    for core, pre_word in starts:
        for end, pre, number, post in _number_runs(tokens, core):
            if pre_word is not None and pre:
                continue
            for stop, post_word in _post_words(tokens, end, post, ctx):
                written = " ".join(tokens[index:stop])
                result = _amount(written, pre_word, pre, number, post, post_word, ctx)
                if result is not None:
                    marked = pre_word is not None or post_word is not None or bool(pre.strip(_SIGNS) or post)
                    spans.append(_Span(index, stop, result, marked))
    return sorted(spans, key=lambda span: span.end, reverse=True)


def _number_runs(tokens: list[str], core: int) -> list[tuple[int, str, str, str]]:
    """The number at tokens[core], alone and joined with '000'-groups that follow ('1 000')."""
    match = _TOKEN.fullmatch(tokens[core])
    if not match:
        return []
    pre, number, post = match.group("pre"), match.group("num"), match.group("post")
    runs = [(core + 1, pre, number, post)]
    if post or not re.fullmatch(r"[0-9]{1,3}", number):
        return runs
    for offset in range(1, MAX_GROUP_TOKENS):
        if core + offset >= len(tokens):
            break
        group = _GROUP.fullmatch(tokens[core + offset])
        if not group:
            break
        number += group.group("digits")
        fraction, post = group.group("frac") or "", group.group("post")
        if fraction or post:
            runs.insert(0, (core + offset + 1, pre, number + fraction, post))
            break
        runs.insert(0, (core + offset + 1, pre, number, ""))
    return runs


def _post_words(tokens: list[str], end: int, post: str,
                ctx: GrammarContext) -> list[tuple[int, str | _Unknown | None]]:
    """Currency words after the number ('EUR', 'euros', 'US dollars'), longest first, then none."""
    found: list[tuple[int, str | _Unknown | None]] = []
    if not post:
        for size in range(MAX_NAME_WORDS, 0, -1):
            if end + size <= len(tokens):
                marker = _marker(" ".join(tokens[end:end + size]).rstrip(",;:"), ctx)
                if marker is not None:
                    found.append((end + size, marker))
    return found + [(end, None)]


def _amount(written: str, pre_word: str | _Unknown | None, pre: str, number: str, post: str,
            post_word: str | _Unknown | None, ctx: GrammarContext) -> Money | ParseError | None:
    """The Money an amount stands for, an error saying why it is wrong, or None if it is no amount."""
    negative = any(ch in _SIGNS for ch in pre)
    pre, post = pre.strip(_SIGNS), post.rstrip(",;:")
    pre_marker = _marker(pre, ctx) if pre else None
    post_marker = _marker(post, ctx) if post else None
    if (pre and pre_marker is None) or (post and post_marker is None):
        return None
    markers = [m for m in (pre_word, pre_marker, post_marker, post_word) if m is not None]
    pieces = _Pieces(negative, number.rstrip(".,'"), written)
    return _checked(pieces, markers, ctx)


def _checked(pieces: _Pieces, markers: list[str | _Unknown], ctx: GrammarContext) -> Money | ParseError:
    """Resolve the currency and check the number against it and the limit."""
    unknown = [m for m in markers if isinstance(m, _Unknown)]
    if unknown:
        return _error(ctx, f"I don't know the currency {_quote(unknown[0].text)}. Use a code like EUR "
                           "or a symbol like \u20ac.", "EUR")
    codes = set(markers)
    if len(codes) > 1:
        return _error(ctx, f"{_quote(pieces.written)} names two different currencies.")
    code = codes.pop() if codes else ctx.default_currency
    return _money(pieces, str(code), ctx)


def _money(pieces: _Pieces, code: str, ctx: GrammarContext) -> Money | ParseError:
    """Money from the written number, or what is wrong with it."""
    parts = _read_number(pieces.number)
    if parts is None:
        return _error(ctx, f"I couldn't read the amount {_quote(pieces.written)}.", amount="1,000.50")
    whole, fraction = parts
    digits = ctx.catalog.digits.get(code, 2)
    value = Decimal(f"{whole}.{fraction or '0'}")
    if pieces.negative and value:
        return _error(ctx, "The amount can't be negative.")
    if not value:
        return _error(ctx, "The amount must be more than zero.")
    if len(fraction) > digits:
        return _decimals_error(pieces, code, digits, ctx)
    if value > ctx.max_amount:
        return _over_limit(value, code, digits, ctx)
    minor = int(whole) * 10 ** digits + int((fraction[:digits] or "0").ljust(digits, "0"))
    return Money(minor, code, digits)


def _decimals_error(pieces: _Pieces, code: str, digits: int, ctx: GrammarContext) -> ParseError:
    """Too many decimals for the currency."""
    allowed = "no decimal places" if digits == 0 else f"at most {digits} decimal places"
    hint = " (to group thousands write 1,000)" if _grouped_thousands(pieces.number, digits) else ""
    example = "20" if digits == 0 else "20." + "5".ljust(digits, "0")
    return _error(ctx, f"{code} amounts have {allowed}: {_quote(pieces.written)} has more{hint}.",
                  code, example)


def _grouped_thousands(number: str, digits: int) -> bool:
    """'1.000' or '2.500' read as a decimal the currency cannot hold: most likely a thousands group.

    '20.999' is not: its last digit means something as a decimal, so it is a decimal with one
    digit too many, and grouping thousands has nothing to do with it.
    """
    if not re.fullmatch(r"[0-9]{1,3}\.[0-9]{3}", number):
        return False
    return digits == 0 or set(number.partition(".")[2][digits:]) == {"0"}


def _over_limit(value: Decimal, code: str, digits: int, ctx: GrammarContext) -> ParseError:
    """Above the per-payment limit."""
    limit = _show_value(ctx, ctx.max_amount, code, digits)
    asked = _show_value(ctx, value, code, digits)
    return _error(ctx, f"That is over the limit: the most you can send in one payment is {limit} "
                       f"(you asked for {asked}).", code)


def _read_number(text: str) -> tuple[str, str] | None:
    """('1000', '50') for '1,000.50', '1.000,50', "1'000.50", '1000,5'...; None if unreadable."""
    if len(text) > 40:
        return None
    for pattern, group_sep, decimal_sep in _NUMBER_FORMS:
        if pattern.fullmatch(text):
            plain = text.replace(group_sep, "") if group_sep else text
            whole, _, fraction = plain.partition(decimal_sep) if decimal_sep else (plain, "", "")
            return whole or "0", fraction
    return None

"""What a person's message means, whatever channel it came from."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.money import Money


@dataclass(frozen=True, slots=True)
class Send:
    """Send money to a payee, with an optional note."""

    amount: Money
    payee: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the pending payment."""


@dataclass(frozen=True, slots=True)
class Status:
    """Show recent payments and their states."""


@dataclass(frozen=True, slots=True)
class History:
    """Show one page of the payment history, newest first (page 1)."""

    page: int = 1


@dataclass(frozen=True, slots=True)
class Help:
    """Explain what the bot understands."""


@dataclass(frozen=True, slots=True)
class SetUpApp:
    """Send a link that sets up the authenticator app (where the app enrols from a link)."""


@dataclass(frozen=True, slots=True)
class Start:
    """Begin (or resume) registration."""


@dataclass(frozen=True, slots=True)
class Confirm:
    """Confirm the payment awaiting confirmation (typed 'yes' on channels without buttons)."""


@dataclass(frozen=True, slots=True)
class Code:
    """A one-time code typed back into the chat."""

    digits: str


@dataclass(frozen=True, slots=True)
class ParseError:
    """Text the bot cannot use; `message` is the reply the person gets."""

    message: str


Command = Send | Cancel | Status | History | Help | SetUpApp | Start | Confirm | Code
ParseResult = Command | ParseError

COMMAND_NAMES: dict[type, str] = {
    Send: "send",
    Cancel: "cancel",
    Status: "status",
    History: "history",
    Help: "help",
    SetUpApp: "app",
    Start: "start",
    Confirm: "confirm",
    Code: "code",
}

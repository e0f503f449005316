"""SCA policy: challenge every payment, or exempt a remote low-value one (RTS Art. 16) with a reason.

Standard library only. The PSD2 remote low-value exemption is optional and off by default. When it
is on, a payment is exempt only if all of these hold (both cumulative limits apply: the
conservative reading of Art. 16):

- the amount, converted to EUR, is at most EUR 30;
- it would be at most the 5th exempt payment since the payer's last successful SCA;
- the exempt amounts since that SCA, this one included, total at most EUR 100.

Amounts in other currencies are converted with a rate table (value of one unit in EUR, Decimal),
rounded up to the cent; a currency without a rate is challenged. The counters live on the User
(exempt_count, exempt_total_eur_minor) and are reset only by a successful SCA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from bot.core.money import Money

CHALLENGE = "challenge"
EXEMPT = "exempt"
SCA_REQUIRED = "sca-required"

SINGLE_LIMIT_EUR_MINOR = 30_00
CUMULATIVE_LIMIT_EUR_MINOR = 100_00
COUNT_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided, the reason to record, and the amount in EUR cents when known."""

    outcome: str  # CHALLENGE or EXEMPT
    reason: str
    eur_minor: int | None = None

    @property
    def exempt(self) -> bool:
        """True when the payment needs no SCA."""
        return self.outcome == EXEMPT


def decide(amount: Money, exempt_count: int, exempt_total_eur_minor: int, *, enabled: bool = False,
           rates_to_eur: Mapping[str, Decimal] | None = None) -> Decision:
    """Challenge the payment ("sca-required"), or exempt it under RTS Art. 16 when `enabled` and within limits."""
    if not enabled:
        return Decision(CHALLENGE, SCA_REQUIRED)
    eur_minor = to_eur_minor(amount, rates_to_eur or {})
    if eur_minor is None:
        return _refuse(f"no EUR rate for {amount.currency}")
    if eur_minor <= 0:
        return _refuse("amount is not positive", eur_minor)
    if eur_minor > SINGLE_LIMIT_EUR_MINOR:
        return _refuse(f"{_eur(eur_minor)} is over the {_eur(SINGLE_LIMIT_EUR_MINOR)} limit", eur_minor)
    count = exempt_count + 1
    if count > COUNT_LIMIT:
        return _refuse(f"payment {count} since the last SCA is over the limit of {COUNT_LIMIT}", eur_minor)
    total = exempt_total_eur_minor + eur_minor
    if total > CUMULATIVE_LIMIT_EUR_MINOR:
        return _refuse(f"{_eur(total)} since the last SCA is over the {_eur(CUMULATIVE_LIMIT_EUR_MINOR)} limit",
                       eur_minor)
    return Decision(EXEMPT, f"low-value exemption (RTS Art. 16): {_eur(eur_minor)}; payment {count} of "
                            f"{COUNT_LIMIT} and {_eur(total)} of {_eur(CUMULATIVE_LIMIT_EUR_MINOR)} since the last SCA",
                    eur_minor)


def to_eur_minor(amount: Money, rates_to_eur: Mapping[str, Decimal]) -> int | None:
    """The amount in EUR cents, rounded up; None when the currency has no usable rate."""
    rate = Decimal(1) if amount.currency == "EUR" else rates_to_eur.get(amount.currency)
    if rate is None:
        return None
    try:
        rate = Decimal(rate)
        if not rate.is_finite() or rate <= 0:
            return None
        cents = (amount.major * rate * 100).to_integral_value(rounding=ROUND_CEILING)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return int(cents)


def after_exemption(exempt_count: int, exempt_total_eur_minor: int, eur_minor: int | None) -> tuple[int, int]:
    """The payer's (exempt_count, exempt_total_eur_minor) after one more exempt payment."""
    if eur_minor is None or eur_minor < 0:
        raise ValueError("an exempt payment has a known, non-negative EUR amount")
    return exempt_count + 1, exempt_total_eur_minor + eur_minor


def after_successful_sca() -> tuple[int, int]:
    """The payer's (exempt_count, exempt_total_eur_minor) after a successful SCA: both reset."""
    return 0, 0


def _refuse(why: str, eur_minor: int | None = None) -> Decision:
    return Decision(CHALLENGE, f"{SCA_REQUIRED}: low-value exemption refused, {why}", eur_minor)


def _eur(minor: int) -> str:
    return f"{Decimal(minor).scaleb(-2):.2f} EUR"

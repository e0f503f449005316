"""SCA policy: challenge by default; the RTS Art. 16 remote low-value exemption when enabled."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import sca
from bot.core.money import Money

RATES = {"EUR": Decimal("1"), "USD": Decimal("0.92"), "GBP": Decimal("1.17"), "JPY": Decimal("0.0061")}


def eur(major: str) -> Money:
    return Money.from_major(Decimal(major), "EUR")


def decide(amount: Money, count: int = 0, total: int = 0) -> sca.Decision:
    return sca.decide(amount, count, total, enabled=True, rates_to_eur=RATES)


def test_every_payment_is_challenged_by_default():
    decision = sca.decide(eur("0.01"), 0, 0)
    assert (decision.outcome, decision.reason, decision.exempt) == ("challenge", "sca-required", False)
    assert sca.decide(eur("0.01"), 0, 0, rates_to_eur=RATES).reason == "sca-required"


def test_low_value_payment_is_exempt_with_a_recorded_reason():
    decision = decide(eur("30.00"))
    assert decision.exempt and decision.outcome == "exempt" and decision.eur_minor == 3000
    assert "RTS Art. 16" in decision.reason and "30.00 EUR" in decision.reason


def test_over_30_eur_is_challenged():
    decision = decide(eur("30.01"))
    assert not decision.exempt
    assert decision.reason.startswith("sca-required") and "30.01 EUR" in decision.reason


def test_the_sixth_consecutive_exempt_payment_needs_sca():
    count, total = 0, 0
    for _ in range(5):
        decision = decide(eur("1.00"), count, total)
        assert decision.exempt
        count, total = sca.after_exemption(count, total, decision.eur_minor)
    assert (count, total) == (5, 500)
    sixth = decide(eur("1.00"), count, total)
    assert not sixth.exempt and "payment 6" in sixth.reason


def test_25_eur_after_80_eur_cumulative_needs_sca():
    count, total = 0, 0
    for major in ("30.00", "30.00", "20.00"):
        decision = decide(eur(major), count, total)
        assert decision.exempt
        count, total = sca.after_exemption(count, total, decision.eur_minor)
    assert (count, total) == (3, 8000)
    decision = decide(eur("25.00"), count, total)
    assert not decision.exempt and "105.00 EUR" in decision.reason
    assert decide(eur("20.00"), count, total).exempt  # exactly 100.00 is still within the limit


def test_counters_reset_only_on_a_successful_sca():
    count, total = 5, 9000
    challenged = decide(eur("1.00"), count, total)
    assert not challenged.exempt
    # A challenge that is denied, expires or fails leaves the counters alone: nothing to call.
    assert not decide(eur("1.00"), count, total).exempt
    count, total = sca.after_successful_sca()
    assert (count, total) == (0, 0)
    assert decide(eur("1.00"), count, total).exempt


def test_twenty_dollars_are_converted_to_eur():
    decision = decide(Money(2000, "USD"))
    assert decision.exempt and decision.eur_minor == 1840  # $20.00 x 0.92
    assert "18.40 EUR" in decision.reason
    # $33 is EUR 30.36: over the limit once converted, though "33" alone says nothing.
    assert not decide(Money(3300, "USD")).exempt
    # $32.60 is EUR 29.992: rounded up to 30.00, still exempt.
    assert decide(Money(3260, "USD")).eur_minor == 3000


def test_zero_digit_currency_is_converted():
    assert decide(Money(4000, "JPY", 0)).eur_minor == 2440  # 4000 x 0.0061 = 24.40


def test_unknown_currency_is_challenged():
    decision = decide(Money(100, "CHF"))
    assert not decision.exempt and decision.eur_minor is None and "CHF" in decision.reason


@pytest.mark.parametrize("rate", [Decimal("0"), Decimal("-1"), Decimal("NaN")])
def test_unusable_rate_is_challenged(rate):
    assert not sca.decide(Money(100, "XTS"), 0, 0, enabled=True, rates_to_eur={"XTS": rate}).exempt


def test_eur_needs_no_rate():
    assert sca.decide(eur("10.00"), 0, 0, enabled=True, rates_to_eur={}).exempt


def test_after_exemption_needs_a_known_amount():
    with pytest.raises(ValueError):
        sca.after_exemption(0, 0, None)


@settings(deadline=None)
@given(amounts=st.lists(st.integers(min_value=1, max_value=5000), max_size=30))
def test_limits_hold_for_any_sequence(amounts):
    count, total = 0, 0
    for minor in amounts:
        decision = decide(Money(minor, "EUR"), count, total)
        if decision.exempt:
            assert minor <= 3000
            count, total = sca.after_exemption(count, total, decision.eur_minor)
        assert count <= 5 and total <= 10000

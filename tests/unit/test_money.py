"""Money: integer minor units plus an ISO code; never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.money import Money


def test_from_major_counts_minor_units():
    assert Money.from_major(Decimal("20.50"), "USD") == Money(2050, "USD", 2)
    assert Money.from_major(Decimal("500"), "JPY", 0) == Money(500, "JPY", 0)
    assert Money.from_major(Decimal("0.125"), "BHD", 3) == Money(125, "BHD", 3)


def test_from_major_refuses_more_decimals_than_the_currency_has():
    with pytest.raises(ValueError, match="2 decimal places"):
        Money.from_major(Decimal("20.123"), "USD")
    with pytest.raises(ValueError, match="0 decimal places"):
        Money.from_major(Decimal("20.5"), "JPY", 0)


def test_major_and_its_string_have_exactly_the_currency_decimals():
    assert Money(2000, "USD").major == Decimal("20.00")
    assert Money(2000, "USD").major_str() == "20.00"
    assert Money(5, "USD").major_str() == "0.05"
    assert Money(500, "JPY", 0).major_str() == "500"
    assert Money(1, "BHD", 3).major_str() == "0.001"
    assert str(Money(2050, "EUR")) == "20.50 EUR"


@pytest.mark.parametrize("minor", [20.0, Decimal("20"), "20", True, None])
def test_minor_units_must_be_an_int(minor):
    with pytest.raises(TypeError):
        Money(minor, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [
    "usd", "US", "USDX", "ÜSD", "",
    "U5D",
])
def test_currency_must_be_an_iso_code(code):
    with pytest.raises(ValueError):
        Money(100, code)


@pytest.mark.parametrize("digits", [-1, 5])
def test_digits_are_between_zero_and_four(digits):
    with pytest.raises(ValueError):
        Money(100, "USD", digits)


def test_money_is_immutable_and_compares_by_value():
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.minor = 200  # type: ignore[misc]
    assert money == Money(100, "USD") and money != Money(100, "EUR")
    assert len({money, Money(100, "USD")}) == 1


@given(st.integers(-10 ** 15, 10 ** 15), st.integers(0, 4))
def test_minor_and_major_round_trip(minor, digits):
    money = Money(minor, "EUR", digits)
    assert Money.from_major(money.major, "EUR", digits) == money
    assert Money.from_major(Decimal(money.major_str()), "EUR", digits) == money

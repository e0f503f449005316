"""Money as an integer count of minor units plus an ISO 4217 currency code."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency; never a float."""

    minor: int
    currency: str
    digits: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int")
        if not (len(self.currency) == 3 and all("A" <= c <= "Z" for c in self.currency)):
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")
        if not 0 <= self.digits <= 4:
            raise ValueError("digits must be between 0 and 4")

    @classmethod
    def from_major(cls, amount: Decimal, currency: str, digits: int = 2) -> "Money":
        """Build from a Decimal in major units; refuses more decimals than the currency has."""
        scaled = amount.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{currency} allows {digits} decimal places")
        return cls(int(scaled), currency, digits)

    @property
    def major(self) -> Decimal:
        """The amount in major units, with exactly the currency's number of decimals."""
        return Decimal(self.minor).scaleb(-self.digits).quantize(Decimal(1).scaleb(-self.digits))

    def major_str(self) -> str:
        """The amount as a plain decimal string in major units, e.g. '20.00'."""
        return format(self.major, "f")

    def __str__(self) -> str:
        return f"{self.major_str()} {self.currency}"

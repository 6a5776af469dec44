"""Money: Decimal euros, rounded half-up to cents at the defined points."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(amount: Decimal) -> Decimal:
    """Round half-up to whole cents (kaufmännisches Runden)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value: str | int | Decimal) -> Decimal:
    """Decimal from a tariff file value; floats are refused (binary fractions are not money)."""
    if isinstance(value, float):
        raise TypeError("tariff values must be strings or integers, not floats")
    return Decimal(value)

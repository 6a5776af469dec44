"""Money in German: our quick format of Decimal and int amounts against Babel's (the reference)."""

from __future__ import annotations

from decimal import Decimal, localcontext

from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from core.formatting import eur

amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-(10**12), max_value=10**12),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000),
    st.integers(min_value=-(10**15), max_value=10**15),
)


@settings(max_examples=500, deadline=None)
@given(amounts)
def test_eur_is_babels_german_currency_format(amount):
    assert eur(amount) == format_currency(amount, "EUR", locale="de_DE")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-100, max_value=100))
def test_eur_rounds_like_babel_under_another_rounding_context(amount):
    from decimal import ROUND_HALF_UP

    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        assert eur(amount) == format_currency(amount, "EUR", locale="de_DE")


def test_eur_examples():
    assert eur(Decimal("1234.5")) == "1.234,50\xa0€"
    assert eur(Decimal("0.015")) == "0,02\xa0€"  # half-even: to the even cent
    assert eur(Decimal("0.025")) == "0,02\xa0€"
    assert eur(-3) == "-3,00\xa0€"
    assert eur(None) == ""
    assert eur(1.5) == "1,50\xa0€"  # a float goes to Babel
    assert eur(Decimal("NaN")) == format_currency(Decimal("NaN"), "EUR", locale="de_DE")

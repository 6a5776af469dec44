"""The pure rules of a running contract: Hauptfälligkeit, insurance year, notice period, pro rata."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import lifecycle


@pytest.mark.parametrize(
    ("product", "start", "due"),
    [
        ("kfz", date(2026, 3, 16), date(2027, 1, 1)),  # Kfz: the next 1 January
        ("kfz", date(2026, 1, 1), date(2027, 1, 1)),
        ("rs", date(2026, 3, 16), date(2027, 3, 16)),  # Rechtsschutz: the anniversary
        ("rs", date(2028, 2, 29), date(2029, 3, 1)),
    ],
)
def test_first_main_due(product, start, due):
    assert lifecycle.first_main_due(product, start) == due


def test_an_imported_contract_s_next_main_due_lies_after_today():
    assert lifecycle.next_main_due("rs", date(2021, 6, 15), date(2026, 11, 25)) == date(2027, 6, 15)
    assert lifecycle.next_main_due("kfz", date(2019, 4, 1), date(2027, 1, 1)) == date(2028, 1, 1)


def test_the_first_insurance_year_begins_with_the_contract():
    assert lifecycle.insurance_year(date(2026, 3, 16), date(2027, 1, 1)) == (date(2026, 3, 16), date(2027, 1, 1))
    assert lifecycle.insurance_year(date(2020, 3, 16), date(2027, 1, 1)) == (date(2026, 1, 1), date(2027, 1, 1))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 1), 3, date(2026, 10, 1)),
        (date(2027, 5, 31), 3, date(2027, 2, 28)),  # the shorter month's last day
        (date(2028, 5, 31), 3, date(2028, 2, 29)),
        (date(2027, 12, 31), 2, date(2027, 10, 31)),
    ],
)
def test_months_before(day, months, expected):
    assert lifecycle.months_before(day, months) == expected


def test_pro_rata_by_the_day_rounded_half_up():
    year = (date(2026, 3, 16), date(2027, 1, 1))  # 291 days
    # 184 days left: 100 € more a year → 63.2302… → 63.23
    assert lifecycle.pro_rata(Decimal("500.00"), Decimal("600.00"), date(2026, 7, 1), year) == Decimal("63.23")
    assert lifecycle.pro_rata(Decimal("600.00"), Decimal("500.00"), date(2026, 7, 1), year) == Decimal("-63.23")
    assert lifecycle.pro_rata(Decimal("500.00"), Decimal("600.00"), date(2026, 3, 16), year) == Decimal("100.00")
    with pytest.raises(ValueError, match="outside"):
        lifecycle.pro_rata(Decimal(1), Decimal(2), date(2027, 1, 1), year)


money = st.decimals(min_value=0, max_value=10_000, places=2)


@given(old=money, new=money, begin=st.dates(date(2020, 1, 1), date(2030, 1, 1)), used=st.integers(0, 364))
def test_pro_rata_never_exceeds_the_yearly_difference_and_keeps_its_sign(old, new, begin, used):
    year = (begin, lifecycle.add_year(begin))
    effective = min(begin + timedelta(days=used), year[1] - timedelta(days=1))
    delta = lifecycle.pro_rata(old, new, effective, year)
    assert abs(delta) <= abs(new - old)
    assert delta == 0 or (delta > 0) == (new > old)
    # a change later in the year costs (or refunds) no more than one made earlier
    if effective > begin:
        assert abs(lifecycle.pro_rata(old, new, effective - timedelta(days=1), year)) >= abs(delta)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 26), date(2026, 12, 1)),
        (date(2026, 12, 31), date(2027, 1, 1)),
        (date(2027, 1, 1), date(2027, 2, 1)),
        (date(2027, 1, 31), date(2027, 2, 1)),
    ],
)
def test_the_antrag_starts_on_the_next_first_of_a_month(today, expected):
    assert lifecycle.next_first_of_month(today) == expected

"""The pure rules of a running contract: Hauptfälligkeit by the tariff's terms, insurance year,
payment periods, and money by the day (pro rata temporis): the shortened first period, a change,
the refund when a contract ends early. Each rule names its source (VVG, AKB, issue #24)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calculator.tariffs import ContractTerms
from contracts import lifecycle
from contracts.cancellation import cancellation_date

KFZ = ContractTerms(main_due=(1, 1), pro_rata="tage/365", notice_months=1)  # AKB: every 1 January
RS = ContractTerms(main_due=None, pro_rata="tage/365", notice_months=3)  # ARB: the anniversary
RS_CALENDAR_YEAR = ContractTerms(main_due=(1, 1), pro_rata="tage/365", notice_months=3)


@pytest.mark.parametrize(
    ("terms", "start", "due"),
    [
        (KFZ, date(2026, 3, 16), date(2027, 1, 1)),  # Kfz: the next 1 January
        (KFZ, date(2026, 1, 1), date(2027, 1, 1)),
        (KFZ, date(2026, 10, 1), date(2027, 1, 1)),  # a shortened first year of 92 days
        (RS, date(2026, 3, 16), date(2027, 3, 16)),  # Rechtsschutz: the anniversary
        (RS, date(2028, 2, 29), date(2029, 3, 1)),
        (RS_CALENDAR_YEAR, date(2026, 4, 1), date(2027, 1, 1)),  # a tariff with a fixed day
        (ContractTerms((7, 1), "tage/365", 1), date(2026, 3, 1), date(2026, 7, 1)),
        (ContractTerms((7, 1), "tage/365", 1), date(2026, 7, 1), date(2027, 7, 1)),
    ],
)
def test_first_main_due_follows_the_tariff_s_terms(terms, start, due):
    assert lifecycle.first_main_due(start, terms) == due


def test_an_imported_contract_s_next_main_due_lies_after_today():
    assert lifecycle.next_main_due(date(2021, 6, 15), date(2026, 11, 25), RS) == date(2027, 6, 15)
    assert lifecycle.next_main_due(date(2019, 4, 1), date(2027, 1, 1), KFZ) == date(2028, 1, 1)


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


def test_pro_rata_of_a_change_divides_by_the_days_of_a_year_not_of_a_shortened_year():
    """Issue #24 item 2: a change on 16.11. of a Kfz contract begun 01.10. (first year 92 days) that
    adds 85,60 € a year costs 85,60 × 46 ÷ 365 = 10,79 € — not 85,60 × 46 ÷ 92 = 42,80 €."""
    year = (date(2026, 10, 1), date(2027, 1, 1))
    assert lifecycle.pro_rata(Decimal("400.00"), Decimal("485.60"), date(2026, 11, 16), year, 365) == Decimal("10.79")
    assert lifecycle.pro_rata(Decimal("485.60"), Decimal("400.00"), date(2026, 11, 16), year, 365) == Decimal("-10.79")


def test_pro_rata_by_the_day_rounded_half_up():
    year = (date(2026, 3, 16), date(2027, 1, 1))
    # 184 days left: 100 € more a year → 100 × 184 ÷ 365 = 50.4109… → 50.41
    assert lifecycle.pro_rata(Decimal("500.00"), Decimal("600.00"), date(2026, 7, 1), year, 365) == Decimal("50.41")
    # a whole year left: the whole difference
    whole = (date(2026, 1, 1), date(2027, 1, 1))
    assert lifecycle.pro_rata(Decimal("500.00"), Decimal("600.00"), date(2026, 1, 1), whole, 365) == Decimal("100.00")
    with pytest.raises(ValueError, match="outside"):
        lifecycle.pro_rata(Decimal(1), Decimal(2), date(2027, 1, 1), year, 365)


money = st.decimals(min_value=0, max_value=10_000, places=2)
due_days = st.one_of(st.none(), st.tuples(st.integers(1, 12), st.integers(1, 28)))


@given(
    old=money,
    new=money,
    start=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    due_day=due_days,
    used=st.integers(0, 400),
)
def test_a_change_never_costs_more_than_the_annual_difference_times_the_days_left_over_365(
    old, new, start, due_day, used
):
    """Issue #24 item 2, property: for any start, change date and Hauptfälligkeit the pro-rata
    amount is at most |annual difference| × days left ÷ 365, keeps the difference's sign, and a
    later change costs no more than an earlier one."""
    terms = ContractTerms(due_day, "tage/365", 1)
    year = lifecycle.insurance_year(start, lifecycle.first_main_due(start, terms))
    effective = min(year[0] + timedelta(days=used), year[1] - timedelta(days=1))
    delta = lifecycle.pro_rata(old, new, effective, year, 365)
    days_left = (year[1] - effective).days
    bound = (abs(new - old) * days_left / Decimal(365)).quantize(Decimal("0.01"))
    assert abs(delta) <= bound
    assert delta == 0 or (delta > 0) == (new > old)
    if effective > year[0]:
        assert abs(lifecycle.pro_rata(old, new, effective - timedelta(days=1), year, 365)) >= abs(delta)


@pytest.mark.parametrize(
    ("day", "main_due", "periods", "expected"),
    [
        (date(2026, 10, 1), date(2027, 1, 1), 1, (date(2026, 1, 1), date(2027, 1, 1))),
        (date(2026, 10, 1), date(2027, 1, 1), 2, (date(2026, 7, 1), date(2027, 1, 1))),
        (date(2026, 10, 1), date(2027, 1, 1), 4, (date(2026, 10, 1), date(2027, 1, 1))),
        (date(2026, 10, 15), date(2027, 1, 1), 12, (date(2026, 10, 1), date(2026, 11, 1))),
        (date(2026, 3, 31), date(2026, 5, 31), 12, (date(2026, 3, 31), date(2026, 4, 30))),
    ],
)
def test_payment_periods_are_counted_back_from_the_hauptfaelligkeit(day, main_due, periods, expected):
    assert lifecycle.payment_period(day, main_due, periods) == expected


@pytest.mark.parametrize(
    ("start", "main_due", "periods", "instalment", "annual", "expected", "shortened"),
    [
        # Issue #24 item 1: Kfz from 01.10. to the Hauptfälligkeit 01.01., yearly: 92 days of 400 €,
        # 400 × 92 ÷ 365 = 100.82 — not the full annual premium
        (date(2026, 10, 1), date(2027, 1, 1), 1, "400.00", "400.00", "100.82", True),
        # half-yearly: the half-year 01.07.–01.01. is entered on 01.10.: 92 days of 412 €
        (date(2026, 10, 1), date(2027, 1, 1), 2, "206.00", "412.00", "103.85", True),
        # quarterly: 01.10. is a due day — the regular instalment
        (date(2026, 10, 1), date(2027, 1, 1), 4, "105.00", "420.00", "105.00", False),
        # monthly from 15.10.: 17 days of 600 € → 27.945… → 27.95
        (date(2026, 10, 15), date(2027, 1, 1), 12, "50.00", "600.00", "27.95", True),
        # Rechtsschutz on its anniversary: a whole first year
        (date(2026, 3, 16), date(2027, 3, 16), 1, "240.00", "240.00", "240.00", False),
        # Rechtsschutz with a tariff Hauptfälligkeit 01.01.: 01.04.–01.01., 275 days of 240 €
        (date(2026, 4, 1), date(2027, 1, 1), 1, "240.00", "240.00", "180.82", True),
    ],
)
def test_the_first_shortened_insurance_year_is_charged_pro_rata_temporis(
    start, main_due, periods, instalment, annual, expected, shortened
):
    first = lifecycle.first_period(start, main_due, periods, Decimal(instalment), Decimal(annual), 365)
    assert (first.amount, first.shortened, first.begin) == (Decimal(expected), shortened, start)


@given(
    start=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    due_day=due_days,
    periods=st.sampled_from([1, 2, 4, 12]),
    annual=st.decimals(min_value=1, max_value=10_000, places=2),
)
def test_a_first_period_never_costs_more_than_a_whole_one(start, due_day, periods, annual):
    terms = ContractTerms(due_day, "tage/365", 1)
    main_due = lifecycle.first_main_due(start, terms)
    instalment = (annual / periods).quantize(Decimal("0.01"))
    first = lifecycle.first_period(start, main_due, periods, instalment, annual, 365)
    assert Decimal(0) <= first.amount <= instalment
    assert first.end <= main_due
    assert first.shortened == (lifecycle.payment_period(start, main_due, periods)[0] != start)


@pytest.mark.parametrize(
    ("main_due", "received", "notice", "ends"),
    [
        # AKB G.1.2, § 11 Abs. 2 VVG: a month before 01.01. means it must arrive by 30.11.
        (date(2027, 1, 1), date(2026, 11, 30), 1, date(2027, 1, 1)),
        (date(2027, 1, 1), date(2026, 12, 1), 1, date(2028, 1, 1)),
        (date(2027, 1, 1), date(2026, 2, 1), 1, date(2027, 1, 1)),
        # ARB: three months before the anniversary 15.06. — by 14.03.
        (date(2027, 6, 15), date(2027, 3, 14), 3, date(2027, 6, 15)),
        (date(2027, 6, 15), date(2027, 3, 15), 3, date(2028, 6, 15)),
        # the shorter month: three months before 31.05. is 28.02. — by 27.02.
        (date(2027, 5, 31), date(2027, 2, 27), 3, date(2027, 5, 31)),
        (date(2027, 5, 31), date(2027, 2, 28), 3, date(2028, 5, 31)),
    ],
)
def test_the_date_of_arrival_decides_the_end_of_an_ordinary_kuendigung(main_due, received, notice, ends):
    assert cancellation_date(main_due, received, notice) == ends


@pytest.mark.parametrize(
    ("annual", "ends", "today", "main_due", "periods", "refund", "paid_until"),
    [
        # § 39 VVG, AKB Veräußerung/Außerbetriebsetzung: yearly premium paid to 01.01.2027, the car
        # sold on 15.03.2026: 292 days come back, 400 × 292 ÷ 365 = 320.00
        ("400.00", date(2026, 3, 15), date(2026, 3, 20), date(2027, 1, 1), 1, "320.00", date(2027, 1, 1)),
        # monthly: March was collected (today 20.03.), sold 10.03.: 22 days of 600 € → 36.16
        ("600.00", date(2026, 3, 10), date(2026, 3, 20), date(2027, 1, 1), 12, "36.16", date(2026, 4, 1)),
        # monthly, the sale announced ahead: April is still collected, 11 days of it come back
        ("600.00", date(2026, 4, 20), date(2026, 3, 10), date(2027, 1, 1), 12, "18.08", date(2026, 5, 1)),
        # quarterly, ends on a due day that is today: the quarter collected today comes back whole
        ("400.00", date(2026, 4, 1), date(2026, 4, 1), date(2027, 1, 1), 4, "99.73", date(2026, 7, 1)),
    ],
)
def test_the_unused_premium_is_refunded_by_the_day_when_a_contract_ends_early(
    annual, ends, today, main_due, periods, refund, paid_until
):
    assert lifecycle.refund_on_end(Decimal(annual), ends, today, main_due, periods, 365) == (
        Decimal(refund),
        paid_until,
    )


@given(
    annual=st.decimals(min_value=0, max_value=10_000, places=2),
    main_due=st.dates(date(2021, 1, 1), date(2030, 1, 1)),
    ends_back=st.integers(1, 365),
    today_back=st.integers(0, 365),
    periods=st.sampled_from([1, 2, 4, 12]),
)
def test_a_refund_never_exceeds_the_premium_of_the_days_left_in_the_year(
    annual, main_due, ends_back, today_back, periods
):
    ends, today = main_due - timedelta(days=ends_back), main_due - timedelta(days=today_back + 1)
    refund, paid_until = lifecycle.refund_on_end(annual, ends, today, main_due, periods, 365)
    assert ends <= paid_until <= main_due
    assert Decimal(0) <= refund <= (annual * ends_back / Decimal(365)).quantize(Decimal("0.01"))


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

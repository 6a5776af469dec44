"""Pure rules of a running contract: its Hauptfälligkeit (renewal date), the insurance year a date
falls in, and the pro-rata premium difference of a change (Nachberechnung or Erstattung)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def add_year(day: date) -> date:
    """The same day a year later (29 February → 1 March)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 3, 1)


def sub_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return date(day.year - 1, 3, 1)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - date(year, month + 1, 1)).days
    return date(year, month + 1, min(day.day, last))


def first_main_due(product: str, start: date) -> date:
    """Kfz: Hauptfälligkeit 1 January (the SF-Klassen move per calendar year, so a contract begun in
    the year runs until the next 1 January); Rechtsschutz: the anniversary of the start."""
    if product == "kfz":
        return date(start.year + 1, 1, 1)
    return add_year(start)


def next_main_due(product: str, start: date, today: date) -> date:
    """The first Hauptfälligkeit after `today` (contracts that come in running, e.g. imported ones)."""
    due = first_main_due(product, start)
    while due <= today:
        due = add_year(due)
    return due


def insurance_year(start: date, main_due: date) -> tuple[date, date]:
    """The running insurance year [begin, end) ending at the next Hauptfälligkeit (the first one may
    be shorter: it begins with the contract)."""
    return max(start, sub_year(main_due)), main_due


def pro_rata(old_annual: Decimal, new_annual: Decimal, effective: date, year: tuple[date, date]) -> Decimal:
    """The premium difference from `effective` to the end of the insurance year, day by day and
    rounded half-up to cents: positive is due (Nachberechnung), negative is refunded (Erstattung)."""
    begin, end = year
    if not begin <= effective < end:
        raise ValueError("the effective date lies outside the insurance year")
    share = Decimal((end - effective).days) / Decimal((end - begin).days)
    return ((new_annual - old_annual) * share).quantize(CENT, rounding=ROUND_HALF_UP)


def next_first_of_month(day: date) -> date:
    """The first of the month after `day` (the usual start of a new contract)."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)

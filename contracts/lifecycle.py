"""Pure rules of a running contract: its Hauptfälligkeit (renewal date, by the tariff's terms), the
insurance year and payment period a date falls in, and money by the day (pro rata temporis): the
shortened first period, the difference of a change (Nachberechnung or Erstattung), the refund when
a contract ends early."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from calculator.tariffs import ContractTerms, Product, TariffCatalog

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


def terms_for(catalog: TariffCatalog, product: str, tariff_version: str, on: date) -> ContractTerms:
    """The contract terms of a contract's own tariff version; an imported contract without tariff
    data ("Bestand") follows its product's tariff valid on `on` (or the oldest one, for a contract
    begun before it)."""
    try:
        return catalog.get(tariff_version).contract_terms
    except KeyError:
        pass
    try:
        return catalog.current(Product(product), on).contract_terms
    except LookupError:  # begun before the first tariff version we know: the oldest one's terms
        oldest = min((t for t in catalog.tariffs.values() if t.product.value == product), key=lambda t: t.valid_from)
        return oldest.contract_terms


def first_main_due(start: date, terms: ContractTerms) -> date:
    """The first Hauptfälligkeit after the start, by the tariff's terms: a fixed day of the year (Kfz:
    1 January — the SF-Klassen move per calendar year, so a contract begun in the year runs until the
    next 1 January, a shortened first insurance year) or the anniversary of the start."""
    if terms.main_due is None:
        return add_year(start)
    month, day = terms.main_due
    due = date(start.year, month, day)
    return due if due > start else date(start.year + 1, month, day)


def next_main_due(start: date, today: date, terms: ContractTerms) -> date:
    """The first Hauptfälligkeit after `today` (contracts that come in running, e.g. imported ones)."""
    due = first_main_due(start, terms)
    while due <= today:
        due = add_year(due)
    return due


def insurance_year(start: date, main_due: date) -> tuple[date, date]:
    """The running insurance year [begin, end) ending at the next Hauptfälligkeit (the first one may
    be shorter: it begins with the contract)."""
    return max(start, sub_year(main_due)), main_due


def part_of_year(annual: Decimal, begin: date, end: date, days_per_year: int) -> Decimal:
    """Pro rata temporis: the annual amount for the days [begin, end) ÷ the tariff's days per year,
    rounded half-up to cents (a shortened first year, a change, a refund)."""
    if end < begin:
        raise ValueError("the period ends before it begins")
    share = min(Decimal((end - begin).days) / Decimal(days_per_year), Decimal(1))  # a year at most
    return (annual * share).quantize(CENT, rounding=ROUND_HALF_UP)


def pro_rata(
    old_annual: Decimal, new_annual: Decimal, effective: date, year: tuple[date, date], days_per_year: int
) -> Decimal:
    """The premium difference from `effective` to the end of the insurance year, by the day: the
    annual difference × the days left ÷ the days of a year (not ÷ the days of a shortened year),
    rounded half-up to cents: positive is due (Nachberechnung), negative is refunded (Erstattung)."""
    begin, end = year
    if not begin <= effective < end:
        raise ValueError("the effective date lies outside the insurance year")
    return part_of_year(new_annual - old_annual, effective, end, days_per_year)


def payment_period(day: date, main_due: date, periods: int) -> tuple[date, date]:
    """The payment period [begin, end) that `day` falls in: the year up to the Hauptfälligkeit cut
    into `periods` parts of 12/periods months each, counted back from the Hauptfälligkeit (the
    instalments fall due on these days). `day` must lie before the Hauptfälligkeit."""
    if periods not in (1, 2, 4, 12):
        raise ValueError("periods must be 1, 2, 4 or 12")
    if day >= main_due:
        raise ValueError("the day lies on or after the Hauptfälligkeit")
    step = 12 // periods
    k = 1
    while months_before(main_due, k * step) > day:
        k += 1
    return months_before(main_due, k * step), months_before(main_due, (k - 1) * step)


@dataclass(frozen=True)
class FirstPeriod:
    """What the first Beitragsrechnung collects: the first payment period [begin, end), its amount,
    and whether it is shortened (the contract began between two due days: charged by the day)."""

    begin: date
    end: date
    amount: Decimal
    shortened: bool


def first_period(
    start: date, main_due: date, periods: int, instalment: Decimal, annual: Decimal, days_per_year: int
) -> FirstPeriod:
    """The first payment period of a contract. A start on a due day pays the regular instalment; a
    start between two due days (a Kfz contract beginning 01.10. runs to its Hauptfälligkeit 01.01.)
    pays the annual premium pro rata temporis for the days up to the next due day."""
    begin, end = payment_period(start, main_due, periods)
    if begin == start:
        return FirstPeriod(start, end, instalment, shortened=False)
    # a shortened period never costs more than a whole one (a half-year of 184 days shortened to
    # 183 would, by days ÷ 365, come to a cent or two more than the instalment)
    return FirstPeriod(start, end, min(part_of_year(annual, start, end, days_per_year), instalment), shortened=True)


def refund_on_end(
    annual: Decimal, ends: date, today: date, main_due: date, periods: int, days_per_year: int
) -> tuple[Decimal, date]:
    """The unused premium when a contract ends early (§ 39 VVG: the insurer keeps the premium for
    the time it bore the risk): every instalment due by `today`, or while the contract still runs,
    is taken as collected; the days from the end to the end of the paid period come back, pro rata
    temporis. Returns the refund and the end of the paid period."""
    if ends >= main_due:
        raise ValueError("the contract ends on or after the Hauptfälligkeit: nothing to refund")
    # collected: every instalment due by today, and those that fall due while the contract still runs
    # (up to the day before it ends) — one due on the end day itself is not collected any more
    reference = min(max(today, ends - timedelta(days=1)), main_due - timedelta(days=1))
    _, paid_until = payment_period(reference, main_due, periods)
    if paid_until <= ends:
        return Decimal("0.00"), ends
    return part_of_year(annual, ends, paid_until, days_per_year), paid_until


def next_first_of_month(day: date) -> date:
    """The first of the month after `day` (the usual start of a new contract)."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)

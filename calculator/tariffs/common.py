"""Types and steps shared by all product lines: factors applied step by step, payment frequency,
instalment surcharge, insurance tax and the final premium with its breakdown."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from calculator.tariffs.money import ZERO, cents


class TariffError(ValueError):
    """The inputs cannot be priced by this tariff; the message is German and meant for the broker."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Product(enum.StrEnum):
    KFZ = "kfz"
    RS = "rs"

    @property
    def label(self) -> str:
        return {"kfz": "Kfz", "rs": "Rechtsschutz"}[self.value]

    @property
    def insurance_label(self) -> str:
        """The product as a customer names it: "Ihr Angebot für Ihre Kfz-Versicherung"."""
        return {"kfz": "Kfz-Versicherung", "rs": "Rechtsschutzversicherung"}[self.value]


class PaymentFrequency(enum.StrEnum):
    YEARLY = "jaehrlich"
    HALF_YEARLY = "halbjaehrlich"
    QUARTERLY = "vierteljaehrlich"
    MONTHLY = "monatlich"

    @property
    def periods(self) -> int:
        return {"jaehrlich": 1, "halbjaehrlich": 2, "vierteljaehrlich": 4, "monatlich": 12}[self.value]

    @property
    def label(self) -> str:
        return {
            "jaehrlich": "jährlich",
            "halbjaehrlich": "halbjährlich",
            "vierteljaehrlich": "vierteljährlich",
            "monatlich": "monatlich",
        }[self.value]


@dataclass(frozen=True)
class Step:
    """One step of a component: the base amount (factor None) or a factor and what it added."""

    label: str
    factor: Decimal | None
    amount: Decimal  # contribution in euros (negative for a discount)


@dataclass(frozen=True)
class Component:
    """An insured component (e.g. Kfz-Haftpflicht): its steps sum exactly to its annual premium."""

    key: str
    label: str
    steps: tuple[Step, ...]
    annual: Decimal  # the chained, rounded result; the steps' amounts add up to it


class ComponentBuilder:
    """Start from a base amount and apply factors in order, rounding to cents after each."""

    def __init__(self, key: str, label: str, base_label: str, base: Decimal) -> None:
        self.key, self.label = key, label
        self.running = cents(base)
        self.steps: list[Step] = [Step(base_label, None, self.running)]

    def add(self, label: str, amount: Decimal) -> ComponentBuilder:
        """Another base amount (e.g. a further module) before the factors."""
        amount = cents(amount)
        self.steps.append(Step(label, None, amount))
        self.running += amount
        return self

    def apply(self, label: str, factor: Decimal) -> ComponentBuilder:
        # every factor is listed, also a neutral one: the broker sees what was taken into account
        new = cents(self.running * factor)
        self.steps.append(Step(label, factor, new - self.running))
        self.running = new
        return self

    def build(self) -> Component:
        return Component(self.key, self.label, tuple(self.steps), self.running)


def surcharge_component(key: str, label: str, step_label: str, base: Decimal, rate: Decimal) -> Component:
    """A component that is a percentage of other components (e.g. Rabattschutz)."""
    amount = cents(base * rate)
    return Component(key, label, (Step(step_label, rate, amount),), amount)


def percent(rate: Decimal) -> str:
    """0.06 -> '6', 0.035 -> '3,5' (German decimal comma)."""
    text = format(rate * 100, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


@dataclass(frozen=True)
class Line:
    """A line of the premium per payment period; all lines sum to the total."""

    kind: str  # "component" | "surcharge" | "tax" | "membership"
    label: str
    amount: Decimal
    taxed: bool


@dataclass(frozen=True)
class Premium:
    product: Product
    tariff_version: str
    tariff_name: str
    frequency: PaymentFrequency
    components: tuple[Component, ...]
    lines: tuple[Line, ...]
    total: Decimal  # Gesamtbeitrag per payment period, tax and membership included
    notes: tuple[str, ...] = field(default=())

    @property
    def annual_total(self) -> Decimal:
        return self.total * self.frequency.periods

    @property
    def tax(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == "tax"), ZERO)

    @property
    def net(self) -> Decimal:
        """Taxed premium before tax (components and instalment surcharge) per period."""
        return sum((line.amount for line in self.lines if line.taxed), ZERO)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly snapshot (amounts as strings) for saved offers."""
        return {
            "product": self.product.value,
            "tariff_version": self.tariff_version,
            "frequency": self.frequency.value,
            "total": str(self.total),
            "annual_total": str(self.annual_total),
            "tax": str(self.tax),
            "lines": [{"kind": ln.kind, "label": ln.label, "amount": str(ln.amount)} for ln in self.lines],
        }


@dataclass(frozen=True)
class PaymentTerms:
    surcharges: dict[PaymentFrequency, Decimal]
    insurance_tax: Decimal


@dataclass(frozen=True)
class Membership:
    annual_fee: Decimal
    label: str


def finish(
    *,
    product: Product,
    version: str,
    name: str,
    frequency: PaymentFrequency,
    components: Sequence[Component],
    terms: PaymentTerms,
    membership: Membership | None = None,
    notes: Sequence[str] = (),
) -> Premium:
    """Per payment period: each component's share, the instalment surcharge, 19 % tax on both, and
    the membership fee without tax — every line rounded half-up to cents."""
    periods = frequency.periods
    lines = [Line("component", c.label, cents(c.annual / periods), True) for c in components]
    net = sum((line.amount for line in lines), ZERO)
    rate = terms.surcharges[frequency]
    surcharge = cents(net * rate)
    if rate:
        lines.append(Line("surcharge", f"Ratenzuschlag {frequency.label} ({percent(rate)} %)", surcharge, True))
    taxable = net + surcharge
    tax = cents(taxable * terms.insurance_tax)
    lines.append(Line("tax", f"Versicherungsteuer {percent(terms.insurance_tax)} %", tax, False))
    fee = ZERO
    if membership is not None:
        fee = cents(membership.annual_fee / periods)
        lines.append(Line("membership", membership.label, fee, False))
    total = taxable + tax + fee
    return Premium(product, version, name, frequency, tuple(components), tuple(lines), total, tuple(notes))

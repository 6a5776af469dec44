"""Rechtsschutz pricing: modules Privat, Beruf, Verkehr, Wohnen/Miete."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from calculator.tariffs.common import (
    ComponentBuilder,
    Membership,
    PaymentFrequency,
    PaymentTerms,
    Premium,
    Product,
    TariffError,
    finish,
)
from calculator.tariffs.terms import ClaimEvent, ContractDocument, ContractTerms


class RsModule(enum.StrEnum):
    PRIVAT = "privat"
    BERUF = "beruf"
    VERKEHR = "verkehr"
    WOHNEN = "wohnen"

    @property
    def label(self) -> str:
        return {"privat": "Privat", "beruf": "Beruf", "verkehr": "Verkehr", "wohnen": "Wohnen/Miete"}[self.value]


class Cover(enum.StrEnum):
    SINGLE = "single"
    PAAR = "paar"
    FAMILIE = "familie"

    @property
    def label(self) -> str:
        return {"single": "Single", "paar": "Paar", "familie": "Familie"}[self.value]

    @property
    def has_partner(self) -> bool:
        return self is not Cover.SINGLE


class Occupation(enum.StrEnum):
    EMPLOYED = "employed"
    SELF_EMPLOYED = "self_employed"
    PUBLIC_SERVICE = "public_service"
    NOT_EMPLOYED = "not_employed"

    @property
    def label(self) -> str:
        return {
            "employed": "nichtselbständig",
            "self_employed": "selbständig/freiberuflich",
            "public_service": "öffentlicher Dienst",
            "not_employed": "nicht berufstätig/Rentner",
        }[self.value]


class RsDeductible(enum.StrEnum):
    NONE = "0"
    EUR150 = "150"
    EUR250 = "250"
    EUR400_FALLING = "400F"

    @property
    def label(self) -> str:
        return {"0": "ohne", "150": "150 €", "250": "250 €", "400F": "400 € fallend"}[self.value]


# module order in the breakdown
MODULE_ORDER = (RsModule.PRIVAT, RsModule.BERUF, RsModule.VERKEHR, RsModule.WOHNEN)


@dataclass(frozen=True)
class RsRisk:
    modules: frozenset[RsModule]
    cover: Cover
    occupation: Occupation
    deductible: RsDeductible
    frequency: PaymentFrequency


@dataclass(frozen=True)
class RsTariff:
    version: str
    name: str
    valid_from: date
    modules: dict[RsModule, Decimal]
    cover: dict[Cover, Decimal]
    occupation: dict[Occupation, Decimal]
    deductible: dict[RsDeductible, Decimal]
    membership: Membership | None
    terms: PaymentTerms
    contract_terms: ContractTerms  # Hauptfälligkeit, pro rata, notice (tariff data)
    documents: tuple[ContractDocument, ...]  # Vertragsinformationen (§ 7 VVG)
    waiting_months: dict[RsModule, int]  # ARB Wartezeit per Baustein (Verkehr: none)
    claim_events: tuple[ClaimEvent, ...] = ()  # "Was ist passiert?" → Leistungsart and Baustein

    product = Product.RS

    @property
    def waiting_text(self) -> str:
        """'3 Monate (Privat, Beruf, Wohnen/Miete); keine Wartezeit: Verkehr, Schadenersatz-Rechtsschutz'."""
        by_months: dict[int, list[str]] = {}
        for module in MODULE_ORDER:
            by_months.setdefault(self.waiting_months[module], []).append(module.label)
        parts = [f"{m} Monate ({', '.join(names)})" for m, names in sorted(by_months.items()) if m]
        free = [*by_months.get(0, []), "Schadenersatz-Rechtsschutz"]
        return "; ".join([*parts, f"keine Wartezeit: {', '.join(free)}"])

    def waiting_months_for(self, modules: frozenset[RsModule] | set[RsModule]) -> int:
        """The longest Wartezeit of the booked modules (0: none)."""
        return max((self.waiting_months[m] for m in modules), default=0)

    @property
    def membership_required(self) -> bool:
        return self.membership is not None

    def price(self, risk: RsRisk) -> Premium:
        """The premium for the risk, with its breakdown; TariffError if it cannot be priced."""
        if not risk.modules:
            raise TariffError("Bitte wählen Sie mindestens einen Baustein.", "modules")
        if RsModule.BERUF in risk.modules and risk.occupation is Occupation.NOT_EMPLOYED:
            raise TariffError("Der Baustein Beruf ist für nicht Berufstätige nicht abschließbar.", "modules")
        first, *others = [m for m in MODULE_ORDER if m in risk.modules]
        builder = ComponentBuilder("rs", "Rechtsschutz", f"Baustein {first.label}", self.modules[first])
        for module in others:
            builder.add(f"Baustein {module.label}", self.modules[module])
        builder.apply(f"Deckung {risk.cover.label}", self.cover[risk.cover])
        builder.apply(f"Tätigkeit {risk.occupation.label}", self.occupation[risk.occupation])
        builder.apply(f"Selbstbeteiligung {risk.deductible.label}", self.deductible[risk.deductible])
        return finish(
            product=Product.RS,
            version=self.version,
            name=self.name,
            frequency=risk.frequency,
            components=[builder.build()],
            terms=self.terms,
            membership=self.membership,
        )

"""Kfz pricing: Haftpflicht, Teilkasko, Vollkasko (incl. TK)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from calculator.tariffs.common import (
    Component,
    ComponentBuilder,
    PaymentFrequency,
    PaymentTerms,
    Premium,
    Product,
    TariffError,
    finish,
    percent,
    surcharge_component,
)
from calculator.tariffs.sf import Rueckstufung, SFClass, next_year_class
from calculator.tariffs.terms import ClaimEvent, ContractDocument, ContractTerms, CoverSums


class KfzCover(enum.StrEnum):
    KH = "kh"
    KH_TK = "kh_tk"
    KH_VK = "kh_vk"

    @property
    def label(self) -> str:
        return {"kh": "Haftpflicht", "kh_tk": "Haftpflicht + Teilkasko", "kh_vk": "Haftpflicht + Vollkasko (inkl. TK)"}[
            self.value
        ]

    @property
    def has_tk(self) -> bool:
        return self is not KfzCover.KH

    @property
    def has_vk(self) -> bool:
        return self is KfzCover.KH_VK


class DriverCircle(enum.StrEnum):
    VN = "vn"
    VN_PARTNER = "vn_partner"
    ANY = "any"


class Usage(enum.StrEnum):
    PRIVATE = "private"
    PRIVATE_COMMUTE = "private_commute"
    BUSINESS = "business"


class Parking(enum.StrEnum):
    GARAGE = "garage"
    CARPORT = "carport"
    STREET = "street"


@dataclass(frozen=True)
class Classes:
    """Typklassen or Regionalklassen for KH, TK and VK."""

    kh: int
    tk: int
    vk: int


@dataclass(frozen=True)
class KfzRisk:
    cover: KfzCover
    sf_kh: SFClass
    sf_vk: SFClass | None
    type_classes: Classes
    region_classes: Classes
    youngest_driver_age: int
    driver_circle: DriverCircle
    annual_mileage: int
    usage: Usage
    parking: Parking
    deductible_tk: int
    deductible_vk: int
    rabattschutz: bool
    frequency: PaymentFrequency


@dataclass(frozen=True)
class KfzTariff:
    version: str
    name: str
    valid_from: date
    base_kh: Decimal
    base_tk: Decimal
    base_vk: Decimal
    sf_rates: dict[SFClass, tuple[Decimal, Decimal]]  # class -> (KH %, VK %)
    type_kh: dict[int, Decimal]
    type_tk: dict[int, Decimal]
    type_vk: dict[int, Decimal]
    region_kh: dict[int, Decimal]
    region_tk: dict[int, Decimal]
    region_vk: dict[int, Decimal]
    driver_age: tuple[tuple[int, Decimal], ...]  # (from age, factor), ascending
    mileage: tuple[tuple[int, Decimal], ...]  # (up to km, factor), ascending
    driver_circle: dict[DriverCircle, Decimal]
    usage: dict[Usage, Decimal]
    parking: dict[Parking, Decimal]
    deductible_tk: dict[int, Decimal]
    deductible_vk: dict[int, Decimal]
    rabattschutz_surcharge: Decimal
    rabattschutz_min_age: int
    rabattschutz_min_sf_years: int
    terms: PaymentTerms
    rueckstufung_kh: Rueckstufung  # Kfz-Haftpflicht: SF class → (after 1, 2, … claims)
    rueckstufung_vk: Rueckstufung  # Vollkasko: its own table
    malus_from: int  # from this many claims a year: M
    sf_half_min_licence_years: int  # SF ½ only with a licence held this long (seed 001)
    sf_confirm_days: int  # a transferred SF-Klasse is provisional this long (Vorversicherer-Bestätigung)
    contract_terms: ContractTerms  # Hauptfälligkeit, pro rata, notice (tariff data)
    documents: tuple[ContractDocument, ...]  # Vertragsinformationen (§ 7 VVG)
    cover_sums: CoverSums  # Kfz-Haftpflicht Deckungssummen
    claim_events: tuple[ClaimEvent, ...] = ()  # "Was ist passiert?" → Haftpflicht/Teilkasko/Vollkasko

    product = Product.KFZ

    @property
    def cover_sums_text(self) -> str:
        return self.cover_sums.text

    def next_sf_class(
        self, current: SFClass, claims: int, *, insured_from: date, year: int, rabattschutz: bool, part: str = "kh"
    ) -> SFClass:
        """The class of the next year (KH or VK, `part`) by this tariff's Rückstufungstabelle of
        that part (sf.next_year_class)."""
        return next_year_class(
            current,
            claims,
            self.rueckstufung_vk if part == "vk" else self.rueckstufung_kh,
            malus_from=self.malus_from,
            insured_from=insured_from,
            year=year,
            rabattschutz=rabattschutz,
            rabattschutz_min_years=self.rabattschutz_min_sf_years,
        )

    def rabattschutz_problems(self, cover: KfzCover, age: int, sf_kh: SFClass, sf_vk: SFClass | None) -> list[str]:
        """Why Rabattschutz cannot be agreed (seed 001); empty when it can."""
        problems = []
        if age < self.rabattschutz_min_age:
            problems.append(f"Der jüngste Fahrer muss mindestens {self.rabattschutz_min_age} Jahre alt sein.")
        if not cover.has_vk:
            problems.append("Rabattschutz setzt eine Vollkasko voraus.")
        min_years = self.rabattschutz_min_sf_years
        if sf_kh.years < min_years or (cover.has_vk and (sf_vk is None or sf_vk.years < min_years)):
            problems.append(
                f"Kfz-Haftpflicht und Vollkasko müssen jeweils mindestens in SF {min_years} eingestuft sein."
            )
        return problems

    def _band(self, bands: tuple[tuple[int, Decimal], ...], value: int, *, upper: bool) -> Decimal:
        if upper:  # (up to, factor)
            for limit, factor in bands:
                if value <= limit:
                    return factor
            raise TariffError(
                f"Eine jährliche Fahrleistung über {bands[-1][0]:,} km ist nicht versicherbar.".replace(",", "."),
                "annual_mileage",
            )
        chosen = None
        for start, factor in bands:
            if value >= start:
                chosen = factor
        if chosen is None:
            raise TariffError(
                f"Der jüngste Fahrer muss mindestens {bands[0][0]} Jahre alt sein.", "youngest_driver_age"
            )
        return chosen

    def _lookup(self, table: dict[int, Decimal], key: int, what: str, field: str) -> Decimal:
        try:
            return table[key]
        except KeyError:
            raise TariffError(f"{what} {key} ist in diesem Tarif nicht vorgesehen.", field) from None

    def _driver_and_use(self, builder: ComponentBuilder, risk: KfzRisk) -> ComponentBuilder:
        return (
            builder.apply("Alter jüngster Fahrer", self._band(self.driver_age, risk.youngest_driver_age, upper=False))
            .apply("Fahrerkreis", self.driver_circle[risk.driver_circle])
            .apply("Jährliche Fahrleistung", self._band(self.mileage, risk.annual_mileage, upper=True))
            .apply("Nutzung", self.usage[risk.usage])
            .apply("Abstellplatz", self.parking[risk.parking])
        )

    def _vehicle_and_region(
        self,
        builder: ComponentBuilder,
        part: str,
        risk: KfzRisk,
        types: dict[int, Decimal],
        regions: dict[int, Decimal],
    ) -> ComponentBuilder:
        type_class, region_class = getattr(risk.type_classes, part), getattr(risk.region_classes, part)
        label = part.upper()
        return builder.apply(
            f"Typklasse {label} {type_class}", self._lookup(types, type_class, f"Typklasse {label}", "hsn")
        ).apply(
            f"Regionalklasse {label} {region_class}",
            self._lookup(regions, region_class, f"Regionalklasse {label}", "plz"),
        )

    def price(self, risk: KfzRisk) -> Premium:
        """The premium for the risk, with its breakdown; TariffError if it cannot be priced."""
        if risk.cover.has_vk and risk.sf_vk is None:
            raise TariffError("Bitte wählen Sie die SF-Klasse der Vollkasko.", "sf_vk")
        if risk.rabattschutz:
            problems = self.rabattschutz_problems(risk.cover, risk.youngest_driver_age, risk.sf_kh, risk.sf_vk)
            if problems:
                raise TariffError("Rabattschutz ist nicht möglich: " + " ".join(problems), "rabattschutz")
        sb_tk = self._lookup(self.deductible_tk, risk.deductible_tk, "Selbstbeteiligung TK", "deductible_tk")

        kh_rate = self.sf_rates[risk.sf_kh][0]
        kh = ComponentBuilder("kh", "Kfz-Haftpflicht", "Grundbeitrag Haftpflicht", self.base_kh).apply(
            f"SF-Klasse {risk.sf_kh.label} ({kh_rate} %)", kh_rate / 100
        )
        kh = self._driver_and_use(self._vehicle_and_region(kh, "kh", risk, self.type_kh, self.region_kh), risk)
        components: list[Component] = [kh.build()]

        if risk.cover is KfzCover.KH_TK:
            # Teilkasko has no SF class and does not depend on the driver
            tk = ComponentBuilder("tk", "Teilkasko", "Grundbeitrag Teilkasko", self.base_tk)
            tk = self._vehicle_and_region(tk, "tk", risk, self.type_tk, self.region_tk)
            tk.apply("Abstellplatz", self.parking[risk.parking])
            tk.apply(f"Selbstbeteiligung TK {risk.deductible_tk} €", sb_tk)
            components.append(tk.build())
        elif risk.cover is KfzCover.KH_VK:
            assert risk.sf_vk is not None
            vk_rate = self.sf_rates[risk.sf_vk][1]
            vk = ComponentBuilder("vk", "Vollkasko (inkl. Teilkasko)", "Grundbeitrag Vollkasko", self.base_vk).apply(
                f"SF-Klasse {risk.sf_vk.label} ({vk_rate} %)", vk_rate / 100
            )
            vk = self._driver_and_use(self._vehicle_and_region(vk, "vk", risk, self.type_vk, self.region_vk), risk)
            vk.apply(
                f"Selbstbeteiligung VK {risk.deductible_vk} €",
                self._lookup(self.deductible_vk, risk.deductible_vk, "Selbstbeteiligung VK", "deductible_vk"),
            )
            vk.apply(f"Selbstbeteiligung TK {risk.deductible_tk} €", sb_tk)
            components.append(vk.build())

        if risk.rabattschutz:
            protected = sum((c.annual for c in components if c.key in {"kh", "vk"}), Decimal(0))
            rate = self.rabattschutz_surcharge
            components.append(
                surcharge_component(
                    "rabattschutz",
                    "Rabattschutz",
                    f"Zuschlag {percent(rate)} % auf Haftpflicht und Vollkasko",
                    protected,
                    rate,
                )
            )
        return finish(
            product=Product.KFZ,
            version=self.version,
            name=self.name,
            frequency=risk.frequency,
            components=components,
            terms=self.terms,
        )

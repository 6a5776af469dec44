"""Versioned tariffs from data files: one TOML file per tariff version, each with its valid-from date.

A price always names its tariff version; a saved offer is re-priced with the version it was priced
with (``get``), a new quote with the version valid on its date (``current``).
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from calculator.tariffs.common import Membership, PaymentFrequency, PaymentTerms, Product
from calculator.tariffs.kfz import DriverCircle, KfzTariff, Parking, Usage
from calculator.tariffs.money import dec
from calculator.tariffs.rechtsschutz import Cover, Occupation, RsDeductible, RsModule, RsTariff
from calculator.tariffs.sf import ALL_SF_CLASSES, SFClass
from calculator.tariffs.terms import TermsError, parse_claim_events, parse_cover_sums, parse_documents, parse_terms

Tariff = KfzTariff | RsTariff

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "data"

# Typklassen and Regionalklassen ranges (SPEC §2: GDV classes)
TYPE_CLASS_RANGES = {"kh": range(10, 26), "tk": range(10, 34), "vk": range(10, 35)}
REGION_CLASS_RANGES = {"kh": range(1, 13), "tk": range(1, 17), "vk": range(1, 10)}


class TariffFileError(ValueError):
    """A tariff data file is inconsistent; raised when the catalog loads."""


def _int_table(raw: Mapping[str, Any], expected: range, what: str) -> dict[int, Decimal]:
    table = {int(k): dec(v) for k, v in raw.items()}
    if set(table) != set(expected):
        raise TariffFileError(f"{what}: classes {sorted(table)} instead of {expected.start}–{expected.stop - 1}")
    return table


def _terms(raw: Mapping[str, Any]) -> PaymentTerms:
    return PaymentTerms(
        surcharges={f: dec(raw["payment"][f.value]) for f in PaymentFrequency},
        insurance_tax=dec(raw["tax"]["insurance_tax"]),
    )


def _rueckstufung(raw: Mapping[str, Any], part: str, columns: int) -> dict[SFClass, tuple[SFClass, ...]]:
    """[rueckstufung.<part>] "<class>" = ["<after 1 claim>", …] (`columns` entries), every class;
    a claim never improves a class, and more claims never leave a better one than fewer."""
    try:
        table = {SFClass.parse(k): tuple(SFClass.parse(c) for c in v) for k, v in raw.items()}
    except (ValueError, TypeError) as exc:
        raise TariffFileError(f"rueckstufung.{part}: {exc}") from exc
    if set(table) != set(ALL_SF_CLASSES):
        raise TariffFileError(f"rueckstufung.{part} must list every SF class M, S, 0, 1/2, 1 … 50")
    for sf, after in table.items():
        if len(after) != columns:
            raise TariffFileError(
                f"rueckstufung.{part}: SF {sf.key} needs {columns} classes (1 … malus_from − 1 claims)"
            )
        if after[0] > sf or any(b > a for a, b in itertools.pairwise(after)):
            keys = ", ".join(c.key for c in after)
            raise TariffFileError(f"rueckstufung.{part}: a claim must not improve SF {sf.key} ({keys})")
    return table


def _malus_from(raw: Mapping[str, Any]) -> int:
    value = raw["rueckstufung"].get("malus_from")
    if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 10:
        raise TariffFileError("[rueckstufung] malus_from must be a whole number of claims from 2 to 10")
    return value


def _kfz(raw: Mapping[str, Any]) -> KfzTariff:
    rates = {SFClass.parse(k): (dec(v[0]), dec(v[1])) for k, v in raw["sf_rates"].items()}
    if set(rates) != set(ALL_SF_CLASSES):
        raise TariffFileError("sf_rates must list every SF class M, S, 0, 1/2, 1 … 50")
    ordered = sorted(rates)
    for worse, better in itertools.pairwise(ordered):
        if rates[better][0] > rates[worse][0] or rates[better][1] > rates[worse][1]:
            raise TariffFileError(f"sf_rates: {better} must not cost more than {worse}")
    factors = raw["factors"]
    return KfzTariff(
        rueckstufung_kh=_rueckstufung(raw["rueckstufung"]["kh"], "kh", _malus_from(raw) - 1),
        rueckstufung_vk=_rueckstufung(raw["rueckstufung"]["vk"], "vk", _malus_from(raw) - 1),
        malus_from=_malus_from(raw),
        version=raw["version"],
        name=raw["name"],
        valid_from=raw["valid_from"],
        base_kh=dec(raw["base_premium"]["kh"]),
        base_tk=dec(raw["base_premium"]["tk"]),
        base_vk=dec(raw["base_premium"]["vk"]),
        sf_rates=rates,
        type_kh=_int_table(raw["type_class"]["kh"], TYPE_CLASS_RANGES["kh"], "type_class.kh"),
        type_tk=_int_table(raw["type_class"]["tk"], TYPE_CLASS_RANGES["tk"], "type_class.tk"),
        type_vk=_int_table(raw["type_class"]["vk"], TYPE_CLASS_RANGES["vk"], "type_class.vk"),
        region_kh=_int_table(raw["region_class"]["kh"], REGION_CLASS_RANGES["kh"], "region_class.kh"),
        region_tk=_int_table(raw["region_class"]["tk"], REGION_CLASS_RANGES["tk"], "region_class.tk"),
        region_vk=_int_table(raw["region_class"]["vk"], REGION_CLASS_RANGES["vk"], "region_class.vk"),
        driver_age=tuple((int(a), dec(f)) for a, f in factors["driver_age"]),
        mileage=tuple((int(km), dec(f)) for km, f in factors["mileage"]),
        driver_circle={c: dec(factors["driver_circle"][c.value]) for c in DriverCircle},
        usage={u: dec(factors["usage"][u.value]) for u in Usage},
        parking={p: dec(factors["parking"][p.value]) for p in Parking},
        deductible_tk={int(k): dec(v) for k, v in raw["deductible"]["tk"].items()},
        deductible_vk={int(k): dec(v) for k, v in raw["deductible"]["vk"].items()},
        rabattschutz_surcharge=dec(raw["rabattschutz"]["surcharge"]),
        rabattschutz_min_age=int(raw["rabattschutz"]["min_driver_age"]),
        rabattschutz_min_sf_years=int(raw["rabattschutz"]["min_sf_years"]),
        sf_half_min_licence_years=int(raw["einstufung"]["half_min_licence_years"]),
        sf_confirm_days=int(raw["einstufung"]["confirm_days"]),
        terms=_terms(raw),
        contract_terms=parse_terms(raw.get("contract")),
        documents=parse_documents(raw.get("documents"), raw["__read__"]),
        cover_sums=parse_cover_sums(raw.get("cover_sums")),
        claim_events=parse_claim_events(raw.get("claim_events")),
    )


def _rs(raw: Mapping[str, Any]) -> RsTariff:
    membership = raw.get("membership")
    return RsTariff(
        version=raw["version"],
        name=raw["name"],
        valid_from=raw["valid_from"],
        modules={m: dec(raw["modules"][m.value]) for m in RsModule},
        cover={c: dec(raw["factors"]["cover"][c.value]) for c in Cover},
        occupation={o: dec(raw["factors"]["occupation"][o.value]) for o in Occupation},
        deductible={d: dec(raw["deductible"][d.value]) for d in RsDeductible},
        membership=Membership(dec(membership["annual_fee"]), membership["label"])
        if membership and membership.get("required")
        else None,
        terms=_terms(raw),
        contract_terms=parse_terms(raw.get("contract")),
        documents=parse_documents(raw.get("documents"), raw["__read__"]),
        waiting_months=_waiting(raw.get("waiting_months")),
        claim_events=parse_claim_events(raw.get("claim_events"), tuple(m.value for m in RsModule)),
    )


def _waiting(raw: Any) -> dict[RsModule, int]:
    """[waiting_months] per Baustein: whole months from 0 to 12 (ARB Wartezeit)."""
    if not isinstance(raw, Mapping) or set(raw) != {m.value for m in RsModule}:
        raise TariffFileError("[waiting_months] must name every Baustein (privat, beruf, verkehr, wohnen)")
    months = {RsModule(k): v for k, v in raw.items()}
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 12 for v in months.values()):
        raise TariffFileError("[waiting_months] are whole months from 0 to 12")
    return months


def parse_tariff(raw: Mapping[str, Any]) -> Tariff:
    product = Product(raw["product"])
    if not raw.get("demo_values", False) and "source" not in raw:
        raise TariffFileError(f"{raw['version']}: a real tariff must name its source")
    return _kfz(raw) if product is Product.KFZ else _rs(raw)


def _reader(directory: Path) -> Callable[[str], str]:
    """Reads a text file named by a tariff file, from the tariff file's directory (no way out of it)."""

    def read(name: str) -> str:
        path = (directory / name).resolve()
        if directory.resolve() not in path.parents:
            raise TermsError(f"{name}: a tariff's texts lie beside it")
        return path.read_text(encoding="utf-8")

    return read


@dataclass(frozen=True)
class TariffCatalog:
    tariffs: Mapping[str, Tariff]

    @classmethod
    def load(cls, directories: Iterable[Path] = (DEFAULT_DIRECTORY,)) -> TariffCatalog:
        """All *.toml tariff files of the directories; version ids must be unique."""
        tariffs: dict[str, Tariff] = {}
        for directory in directories:
            for path in sorted(Path(directory).glob("*.toml")):
                try:
                    with path.open("rb") as fh:
                        raw = tomllib.load(fh)
                    raw["__read__"] = _reader(path.parent)
                    tariff = parse_tariff(raw)
                except (KeyError, ValueError, TypeError, TermsError, OSError) as exc:
                    raise TariffFileError(f"{path.name}: {exc}") from exc
                if tariff.version in tariffs:
                    raise TariffFileError(f"{path.name}: version {tariff.version} defined twice")
                tariffs[tariff.version] = tariff
        return cls(tariffs)

    def get(self, version: str) -> Tariff:
        """The tariff of this version (for re-pricing a saved offer); KeyError if unknown."""
        return self.tariffs[version]

    def current(self, product: Product, on: date) -> Tariff:
        """The version of the product valid on the date (newest valid-from not after it)."""
        valid = [t for t in self.tariffs.values() if t.product is product and t.valid_from <= on]
        if not valid:
            raise LookupError(f"no {product.value} tariff valid on {on.isoformat()}")
        return max(valid, key=lambda t: t.valid_from)

    def kfz(self, on: date) -> KfzTariff:
        tariff = self.current(Product.KFZ, on)
        assert isinstance(tariff, KfzTariff)
        return tariff

    def rs(self, on: date) -> RsTariff:
        tariff = self.current(Product.RS, on)
        assert isinstance(tariff, RsTariff)
        return tariff

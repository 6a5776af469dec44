"""Contract changes ("Vertrag ändern"): address, bank account, Zahlweise and the Kfz risk.

Each change is a new version of the contract with an effective date (contracts.models.ContractVersion)
and brings a Nachtrag ("Versicherungsschein – Nachtrag Nr. n" stating what changed) and, where the
premium changes, a Beitragsrechnung for the pro-rata difference or the refund. A running contract is
repriced on its own tariff version (the new tariff only comes with the renewal). The form carries the
version it was filled in on: a colleague's change in between is reported, nothing is overwritten.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy.orm as so

from calculator import quotes, reference
from calculator.forms.fields import age_on, parse_german_date
from calculator.tariffs import (
    Classes,
    DriverCircle,
    KfzRisk,
    KfzTariff,
    PaymentFrequency,
    Premium,
    TariffCatalog,
    TariffError,
)
from contracts import evb, lifecycle
from contracts.documents import issue_documents, mask_iban
from contracts.models import Contract, ContractVersion, VersionKind
from contracts.settings import Rules
from contracts.versions import (
    NOTHING_CHANGED,
    ChangeError,
    add_version,
    check_running,
    contract_terms,
    diff,
    endorsement_documents,
    first_version,
    last_change_effective,
    lock,
)
from core import audit, clock
from core.formatting import date_de as format_date
from core.formatting import eur as format_eur
from core.users import User

DRIVER_CIRCLE_LABELS = {
    DriverCircle.VN.value: "nur Versicherungsnehmer",
    DriverCircle.VN_PARTNER.value: "Versicherungsnehmer und Partner",
    DriverCircle.ANY.value: "beliebige Fahrer",
}


@dataclass(frozen=True)
class ContractChange:
    """What the change form asks; Kfz fields are None for Rechtsschutz."""

    effective: date
    street: str
    plz: str
    city: str
    account_holder: str
    iban: str
    bic: str | None
    mandate_accepted: bool
    frequency: str
    hsn: str | None = None
    tsn: str | None = None
    annual_mileage: int | None = None
    driver_circle: str | None = None
    youngest_driver_age: int | None = None


def _check_effective(session: so.Session, contract: Contract, effective: date, today: date, rules: Rules) -> None:
    assert contract.main_due is not None
    field = "wirksam_ab"
    if effective < contract.start_date:
        raise ChangeError(
            f"Die Änderung kann frühestens zum Vertragsbeginn ({format_date(contract.start_date)}) wirken.", field
        )
    earliest = today - timedelta(days=rules.backdate_days)
    if effective < earliest:
        raise ChangeError(
            f"Eine Änderung kann höchstens {rules.backdate_days} Tage rückwirkend gelten "
            f"(frühestens {format_date(earliest)}).",
            field,
        )
    last = last_change_effective(session, contract)
    if last is not None and effective < last:
        raise ChangeError(
            f"Die letzte Änderung gilt ab {format_date(last)}; eine neue Änderung kann nicht früher wirken.", field
        )
    if effective >= contract.main_due:
        raise ChangeError(
            f"Änderungen wirken im laufenden Versicherungsjahr, also bis zur Hauptfälligkeit am "
            f"{format_date(contract.main_due)}; spätere Änderungen bitte nach der Verlängerung.",
            field,
        )
    if contract.ends_on is not None and effective >= contract.ends_on:
        raise ChangeError(f"Der Vertrag endet zum {format_date(contract.ends_on)}.", field)


def change_contract(
    session: so.Session,
    user: User | None,
    contract: Contract,
    change: ContractChange,
    *,
    expected_version: int | None,
    catalog: TariffCatalog,
    rules: Rules,
    today: date,
    pdf_workers: int | None = None,
    actor_label: str | None = None,
    announce: bool = True,
) -> ContractVersion:
    """Apply a change from its effective date: a new version, the Nachtrag, a Beitragsrechnung when
    the premium changes, each document delivered by the contract's channel. `user` None: the
    customer himself (`actor_label`), who is told by his own confirmation (announce=False)."""
    lock(session, contract, expected_version)
    check_running(contract, today)
    _check_effective(session, contract, change.effective, today, rules)
    first_version(session, contract)
    changes, delta = _apply(session, contract, change, catalog, today)
    version = add_version(
        session,
        contract,
        VersionKind.CHANGE,
        change.effective,
        changes,
        actor=user,
        actor_label=actor_label,
        premium_delta=delta,
    )
    if any(c["label"] == "Fahrzeug" for c in changes):  # the motor seed: a new vehicle, a new eVB
        terms = contract_terms(catalog, contract)
        try:
            evb.reissue(session, contract, user, valid_days=rules.evb_valid_days, margin_days=terms.evb_margin_days)
        except evb.EvbError as error:
            raise ChangeError(str(error), "tsn") from None
    planned = endorsement_documents(version, invoice=bool(delta))
    issue_documents(session, [(contract, planned)], catalog=catalog, workers=pdf_workers, announce=announce)
    audit.record(
        session,
        "contract_changed",
        actor=user,
        actor_label=actor_label,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={
            "endorsement": version.endorsement_no,
            "effective": change.effective.isoformat(),
            "changed": [c["label"] for c in changes],
            "premium_delta": str(delta) if delta is not None else None,
        },
    )
    return version


@dataclass(frozen=True)
class Preview:
    """What a change would do, shown before it is saved ("Änderung prüfen")."""

    changes: list[dict[str, str]]
    effective: date
    frequency: str
    total: Decimal
    annual_total: Decimal
    premium_delta: Decimal | None


def preview_change(
    session: so.Session,
    contract: Contract,
    change: ContractChange,
    *,
    catalog: TariffCatalog,
    rules: Rules,
    today: date,
) -> Preview:
    """The change computed on the contract in memory, nothing written; the caller rolls back."""
    check_running(contract, today)
    _check_effective(session, contract, change.effective, today, rules)
    with session.no_autoflush:
        changes, delta = _apply(session, contract, change, catalog, today)
    return Preview(changes, change.effective, contract.frequency, contract.total, contract.annual_total, delta)


def _apply(
    session: so.Session, contract: Contract, change: ContractChange, catalog: TariffCatalog, today: date
) -> tuple[list[dict[str, str]], Decimal | None]:
    """Change the contract object: address, bank account, risk and premium; what changed and the
    pro-rata difference."""
    old_annual = contract.annual_total
    changes: list[dict[str, str]] = []
    answers = {k: list(v) for k, v in (contract.answers or {}).items()}
    place = _address(session, contract, change, changes, answers)
    _bank(contract, change, changes)
    premium = _reprice(session, contract, change, changes, answers, place, catalog, today)
    if not changes:
        raise ChangeError(NOTHING_CHANGED)
    if premium is not None:
        contract.frequency = premium.frequency.value
        contract.total, contract.annual_total = premium.total, premium.annual_total
        contract.premium = premium.to_dict()
        if contract.annual_total != old_annual:
            changes.append(diff("Jahresbeitrag", format_eur(old_annual), format_eur(contract.annual_total)))
    if contract.answers is not None:
        contract.answers = answers
    if contract.annual_total == old_annual:
        return changes, None
    assert contract.main_due is not None
    year = lifecycle.insurance_year(contract.start_date, contract.main_due)
    days = contract_terms(catalog, contract).days_per_year
    return changes, lifecycle.pro_rata(old_annual, contract.annual_total, change.effective, year, days)


def _address(
    session: so.Session,
    contract: Contract,
    change: ContractChange,
    changes: list[dict[str, str]],
    answers: dict[str, list[str]],
) -> reference.PostalPlace | None:
    """The new postal address; its PLZ and Ort are checked against the PLZ directory (the Kfz
    Regionalklasse follows them). Returns the place when the PLZ changed."""
    c = contract.customer
    old = (c.get("street", ""), c.get("plz", ""), c.get("city", ""))
    new = (" ".join(change.street.split()), change.plz.strip(), " ".join(change.city.split()))
    if new == old:
        return None
    places = reference.places_for(session, new[1])
    if not places:
        raise ChangeError(quotes.UNKNOWN_PLZ, "plz")
    place = next((p for p in places if p.place.casefold() == new[2].casefold()), None)
    if place is None:
        names = ", ".join(sorted({p.place for p in places}))
        raise ChangeError(f"Der Ort passt nicht zur PLZ {new[1]} (dort: {names}).", "ort")
    new = (new[0], new[1], place.place)
    contract.customer = {**c, "street": new[0], "plz": new[1], "city": new[2]}
    if contract.answers is not None:
        answers.update({"strasse": [new[0]], "plz": [new[1]], "ort": [str(place.id)]})
    changes.append(diff("Anschrift", f"{old[0]}, {old[1]} {old[2]}", f"{new[0]}, {new[1]} {new[2]}"))
    return place if new[1] != old[1] or new[2] != old[2] else None


def _bank(contract: Contract, change: ContractChange, changes: list[dict[str, str]]) -> None:
    holder = " ".join(change.account_holder.split())
    if change.iban and change.iban != (contract.iban or ""):
        if not change.mandate_accepted:
            raise ChangeError("Für die neue Bankverbindung ist ein neues SEPA-Lastschriftmandat nötig.", "sepa_mandat")
        now = clock.now()
        # no account before (an imported contract paid by transfer): "(leer)", not ", IBAN " (issue #26 item 19)
        old = f"{contract.account_holder or ''}, IBAN {mask_iban(contract.iban)}" if contract.iban else ""
        contract.iban, contract.account_holder = change.iban, holder
        contract.mandate_reference = f"VR{now:%Y%m%d}{secrets.token_hex(6).upper()}"
        changes.append(
            diff(
                "Bankverbindung",
                old,
                f"{holder}, IBAN {mask_iban(change.iban)} (neues Mandat {contract.mandate_reference})",
            )
        )
    elif contract.iban and holder != (contract.account_holder or ""):  # without an account: nothing to hold
        changes.append(diff("Kontoinhaber", contract.account_holder or "", holder))
        contract.account_holder = holder


def _reprice(
    session: so.Session,
    contract: Contract,
    change: ContractChange,
    changes: list[dict[str, str]],
    answers: dict[str, list[str]],
    place: reference.PostalPlace | None,
    catalog: TariffCatalog,
    today: date,
) -> Premium | None:
    """Zahlweise, vehicle, mileage and drivers: the new risk priced on the contract's own tariff
    version. Imported contracts come without tariff data: only address and bank account change."""
    frequency_changed = change.frequency != contract.frequency
    if contract.risk is None:
        if frequency_changed:
            raise ChangeError(
                "Für übernommene Bestandsverträge ohne Tarifdaten kann die Zahlweise hier nicht geändert werden; "
                "bitte wenden Sie sich an den Innendienst.",
                "zahlweise",
            )
        return None
    risk = quotes.risk_from_dict(contract.risk)
    new = dataclasses.replace(risk, frequency=PaymentFrequency(change.frequency))
    if frequency_changed:
        changes.append(
            diff("Zahlweise", PaymentFrequency(contract.frequency).label, PaymentFrequency(change.frequency).label)
        )
        answers["zahlweise"] = [change.frequency]
    if isinstance(new, KfzRisk):
        new = _kfz_changes(session, contract, change, changes, answers, new, place, today)
    if new == risk:
        return None
    tariff = catalog.get(contract.tariff_version)
    if isinstance(new, KfzRisk) and isinstance(tariff, KfzTariff):
        new = end_rabattschutz_if_lost(tariff, new, changes)
        if not new.rabattschutz:
            answers.pop("rabattschutz", None)
    try:
        premium = quotes.price(tariff, new)
    except TariffError as error:
        raise ChangeError(error.message, quotes.TARIFF_FIELDS.get(error.field or "", error.field)) from None
    contract.risk = quotes.risk_to_dict(new)
    return premium


def _kfz_changes(
    session: so.Session,
    contract: Contract,
    change: ContractChange,
    changes: list[dict[str, str]],
    answers: dict[str, list[str]],
    risk: KfzRisk,
    place: reference.PostalPlace | None,
    today: date,
) -> KfzRisk:
    old_hsn, old_tsn = (answers.get("hsn") or [""])[0], (answers.get("tsn") or [""])[0]
    if change.hsn and change.tsn and (change.hsn, reference.normalize_tsn(change.tsn)) != (old_hsn, old_tsn):
        vehicle = reference.find_vehicle(session, change.hsn, change.tsn)
        if vehicle is None:
            raise ChangeError(quotes.VEHICLE_NOT_FOUND, "tsn")
        types = reference.type_classes_for(session, vehicle)
        if types is None:
            raise ChangeError(quotes.NO_OFFER_FOR_VEHICLE, "tsn")
        old_vehicle = reference.find_vehicle(session, old_hsn, old_tsn) if old_hsn else None
        changes.append(diff("Fahrzeug", vehicle_label(old_vehicle, old_hsn, old_tsn), vehicle_label(vehicle)))
        answers.update({"hsn": [vehicle.hsn], "tsn": [vehicle.tsn]})
        risk = dataclasses.replace(risk, type_classes=Classes(types.kh, types.tk, types.vk))
    if place is not None:
        regions = reference.region_classes_for(session, place.district_key)
        if regions is None:
            raise ChangeError(quotes.NO_OFFER_FOR_REGION, "plz")
        new_classes = Classes(regions.kh, regions.tk, regions.vk)
        if new_classes != risk.region_classes:
            changes.append(diff("Regionalklassen", _classes(risk.region_classes), _classes(new_classes)))
            risk = dataclasses.replace(risk, region_classes=new_classes)
    if change.annual_mileage is not None and change.annual_mileage != risk.annual_mileage:
        changes.append(
            diff(
                "Jährliche Fahrleistung",
                f"{risk.annual_mileage:,} km".replace(",", "."),
                f"{change.annual_mileage:,} km".replace(",", "."),
            )
        )
        answers["fahrleistung"] = [str(change.annual_mileage)]
        risk = dataclasses.replace(risk, annual_mileage=change.annual_mileage)
    if change.driver_circle and change.youngest_driver_age is not None:
        circle = DriverCircle(change.driver_circle)
        _check_drivers(contract, circle, change.youngest_driver_age, today)
        if circle is not risk.driver_circle:
            changes.append(
                diff("Fahrerkreis", DRIVER_CIRCLE_LABELS[risk.driver_circle.value], DRIVER_CIRCLE_LABELS[circle.value])
            )
            answers["fahrerkreis"] = [circle.value]
        if change.youngest_driver_age != risk.youngest_driver_age:
            changes.append(
                diff("Alter des jüngsten Fahrers", str(risk.youngest_driver_age), str(change.youngest_driver_age))
            )
            answers["juengster_fahrer"] = [str(change.youngest_driver_age)]
        risk = dataclasses.replace(risk, driver_circle=circle, youngest_driver_age=change.youngest_driver_age)
    return risk


def end_rabattschutz_if_lost(tariff: KfzTariff, risk: KfzRisk, changes: list[dict[str, str]]) -> KfzRisk:
    """Rabattschutz ends, it never fails (issue #24 item 11; seed 001: only with SF 4 or better in
    KH and VK and a youngest driver of 23): when the classes fall below the tariff's minimum or a
    younger driver comes, it ends at that date and the premium is recalculated without it."""
    if not risk.rabattschutz:
        return risk
    problems = tariff.rabattschutz_problems(risk.cover, risk.youngest_driver_age, risk.sf_kh, risk.sf_vk)
    if not problems:
        return risk
    changes.append({"label": "Rabattschutz", "old": "vereinbart", "new": "beendet – " + " ".join(problems)})
    return dataclasses.replace(risk, rabattschutz=False)


def _check_drivers(contract: Contract, circle: DriverCircle, youngest: int, today: date) -> None:
    born = parse_german_date(contract.customer.get("birth_date") or "")
    if born is None:
        return
    age = age_on(born, today)
    if circle is DriverCircle.VN and youngest != age:
        raise ChangeError(
            f"Bei „nur Versicherungsnehmer“ ist der jüngste Fahrer der Versicherungsnehmer selbst ({age} Jahre).",
            "juengster_fahrer",
        )
    if youngest > age:
        raise ChangeError(
            f"Der jüngste Fahrer kann nicht älter sein als der Versicherungsnehmer ({age} Jahre).", "juengster_fahrer"
        )


def _classes(classes: Classes) -> str:
    return ", ".join(f"{n} {v}" for n, v in zip(("KH", "TK", "VK"), (classes.kh, classes.tk, classes.vk), strict=True))


def vehicle_label(vehicle: reference.Vehicle | None, hsn: str = "", tsn: str = "") -> str:
    if vehicle is None:
        return f"HSN {hsn}, TSN {tsn}" if hsn else "–"
    return f"{vehicle.manufacturer} {vehicle.trade_name} (HSN {vehicle.hsn}, TSN {vehicle.tsn})"

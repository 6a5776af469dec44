"""Contract changes ("Vertrag ändern") and the Kündigung zum Ablauf.

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
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator import quotes, reference
from calculator.forms.fields import age_on, parse_german_date
from calculator.tariffs import (
    Classes,
    ContractTerms,
    DriverCircle,
    KfzRisk,
    KfzTariff,
    PaymentFrequency,
    Premium,
    Product,
    TariffCatalog,
    TariffError,
)
from contracts import evb, lifecycle
from contracts.documents import Planned, issue_documents, mask_iban
from contracts.models import Claim, Contract, ContractVersion, DocumentKind, VersionKind
from contracts.settings import Rules
from core import audit, clock
from core.formatting import TIMEZONE
from core.formatting import date_de as format_date
from core.formatting import eur as format_eur
from core.users import Role, User

DRIVER_CIRCLE_LABELS = {
    DriverCircle.VN.value: "nur Versicherungsnehmer",
    DriverCircle.VN_PARTNER.value: "Versicherungsnehmer und Partner",
    DriverCircle.ANY.value: "beliebige Fahrer",
}
CANCEL_REASONS = {
    "kunde": "Kündigung durch den Versicherungsnehmer",
    "fahrzeug": "Fahrzeug verkauft oder abgemeldet",
    "schaden": "Kündigung nach einem Schadenfall (§§ 92, 111 VVG)",
    "widerruf": "Widerruf der Vertragserklärung (§ 8 VVG)",
    "beitrag": "Kündigung wegen Beitragserhöhung (§ 40 VVG)",
    "wechsel": "Wechsel zu einem anderen Versicherer",
    "sonstiges": "Sonstiger Grund",
}


# the versions that are a Nachtrag (numbered)
ENDORSED = (VersionKind.CHANGE, VersionKind.CANCELLATION, VersionKind.WITHDRAWAL)
NOTHING_CHANGED = "Sie haben keine Vertragsangabe geändert."


class ChangeError(ValueError):
    """German message, for the form field `field` (None: for the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


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


def snapshot(contract: Contract) -> dict[str, Any]:
    """The contract's changeable data, as a version keeps it."""
    return {
        "customer": dict(contract.customer),
        "account_holder": contract.account_holder,
        "iban": contract.iban,
        "mandate_reference": contract.mandate_reference,
        "frequency": contract.frequency,
        "total": str(contract.total),
        "annual_total": str(contract.annual_total),
        "premium": contract.premium,
        "tariff_version": contract.tariff_version,
        "answers": contract.answers,
        "risk": contract.risk,
        "main_due": contract.main_due.isoformat() if contract.main_due else None,
        "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
        "end_reason": contract.end_reason,
    }


def lock(session: so.Session, contract: Contract, expected_version: int | None) -> None:
    """Lock the contract row; a form filled in on an older version is refused (optimistic check)."""
    session.refresh(contract, with_for_update=True)
    if expected_version is not None and contract.version != expected_version:
        raise ChangeError(
            "Der Vertrag wurde inzwischen geändert (zum Beispiel von einer Kollegin oder einem Kollegen). "
            "Bitte prüfen Sie die aktuellen Vertragsdaten und Ihre Eingaben und senden Sie die Änderung erneut."
        )


def first_version(session: so.Session, contract: Contract) -> None:
    """Version 0 (the contract as policed or imported), made when the history is first needed."""
    if session.scalar(sa.select(ContractVersion.id).where(ContractVersion.contract_id == contract.id).limit(1)):
        return
    session.add(
        ContractVersion(
            contract_id=contract.id,
            seq=0,
            kind=VersionKind.POLICED,
            effective_date=contract.start_date,
            data=snapshot(contract),
            changes=[],
        )
    )
    session.flush()


def endorsement_documents(
    version: ContractVersion,
    *,
    invoice: bool,
    endorsement_extra: dict[str, Any] | None = None,
    invoice_extra: dict[str, Any] | None = None,
) -> list[Planned]:
    """A version's Nachtrag, and its Beitragsrechnung when the premium changed."""
    number = version.endorsement_no
    planned = [
        Planned(DocumentKind.ENDORSEMENT, f"Nachtrag Nr. {number}", {"version": version, **(endorsement_extra or {})})
    ]
    if invoice:
        context = {"version": version, **(invoice_extra or {})}
        planned.append(Planned(DocumentKind.INVOICE, f"Beitragsrechnung Nachtrag Nr. {number}", context))
    return planned


def add_version(
    session: so.Session,
    contract: Contract,
    kind: VersionKind,
    effective: date,
    changes: list[dict[str, str]],
    *,
    actor: User | None,
    actor_label: str | None = None,
    premium_delta: Decimal | None = None,
    renewal_due: date | None = None,
    run_id: int | None = None,
) -> ContractVersion:
    """The contract's data (already changed) as its next version."""
    first_version(session, contract)
    last = session.execute(
        sa.select(sa.func.max(ContractVersion.seq), sa.func.max(ContractVersion.endorsement_no)).where(
            ContractVersion.contract_id == contract.id
        )
    ).one()
    endorsement = (last[1] or 0) + 1 if kind in ENDORSED else None
    version = ContractVersion(
        contract_id=contract.id,
        seq=(last[0] or 0) + 1,
        kind=kind,
        endorsement_no=endorsement,
        effective_date=effective,
        renewal_due=renewal_due,
        run_id=run_id,
        data=snapshot(contract),
        changes=changes,
        premium_delta=premium_delta,
        actor_id=actor.id if actor else None,
        actor_label=actor_label,
    )
    session.add(version)
    contract.version += 1
    session.flush()
    return version


def version_at(session: so.Session, contract: Contract, day: date) -> ContractVersion | None:
    """The version in effect on `day` (None: the contract has no history yet, or began later)."""
    return session.scalar(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.effective_date <= day)
        .order_by(ContractVersion.effective_date.desc(), ContractVersion.seq.desc())
        .limit(1)
    )


def history(session: so.Session, contract: Contract) -> list[ContractVersion]:
    return list(
        session.scalars(
            sa.select(ContractVersion).where(ContractVersion.contract_id == contract.id).order_by(ContractVersion.seq)
        )
    )


def _check_running(contract: Contract, today: date) -> None:
    if contract.ends_on is not None and contract.ends_on <= today:
        raise ChangeError(f"Der Vertrag ist zum {format_date(contract.ends_on)} beendet.")
    if contract.main_due is None:
        raise ChangeError("Für diesen Vertrag ist keine Hauptfälligkeit hinterlegt.")


def last_change_effective(session: so.Session, contract: Contract) -> date | None:
    """The effective date of the latest change (a new change cannot take effect before it)."""
    return session.scalar(
        sa.select(sa.func.max(ContractVersion.effective_date)).where(
            ContractVersion.contract_id == contract.id, ContractVersion.kind != VersionKind.POLICED
        )
    )


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
    _check_running(contract, today)
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
    _check_running(contract, today)
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
            changes.append(_diff("Jahresbeitrag", format_eur(old_annual), format_eur(contract.annual_total)))
    if contract.answers is not None:
        contract.answers = answers
    if contract.annual_total == old_annual:
        return changes, None
    assert contract.main_due is not None
    year = lifecycle.insurance_year(contract.start_date, contract.main_due)
    days = contract_terms(catalog, contract).days_per_year
    return changes, lifecycle.pro_rata(old_annual, contract.annual_total, change.effective, year, days)


def _diff(label: str, old: str, new: str) -> dict[str, str]:
    return {"label": label, "old": old, "new": new}


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
    changes.append(_diff("Anschrift", f"{old[0]}, {old[1]} {old[2]}", f"{new[0]}, {new[1]} {new[2]}"))
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
            _diff(
                "Bankverbindung",
                old,
                f"{holder}, IBAN {mask_iban(change.iban)} (neues Mandat {contract.mandate_reference})",
            )
        )
    elif contract.iban and holder != (contract.account_holder or ""):  # without an account: nothing to hold
        changes.append(_diff("Kontoinhaber", contract.account_holder or "", holder))
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
            _diff("Zahlweise", PaymentFrequency(contract.frequency).label, PaymentFrequency(change.frequency).label)
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
        changes.append(_diff("Fahrzeug", vehicle_label(old_vehicle, old_hsn, old_tsn), vehicle_label(vehicle)))
        answers.update({"hsn": [vehicle.hsn], "tsn": [vehicle.tsn]})
        risk = dataclasses.replace(risk, type_classes=Classes(types.kh, types.tk, types.vk))
    if place is not None:
        regions = reference.region_classes_for(session, place.district_key)
        if regions is None:
            raise ChangeError(quotes.NO_OFFER_FOR_REGION, "plz")
        new_classes = Classes(regions.kh, regions.tk, regions.vk)
        if new_classes != risk.region_classes:
            changes.append(_diff("Regionalklassen", _classes(risk.region_classes), _classes(new_classes)))
            risk = dataclasses.replace(risk, region_classes=new_classes)
    if change.annual_mileage is not None and change.annual_mileage != risk.annual_mileage:
        changes.append(
            _diff(
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
                _diff("Fahrerkreis", DRIVER_CIRCLE_LABELS[risk.driver_circle.value], DRIVER_CIRCLE_LABELS[circle.value])
            )
            answers["fahrerkreis"] = [circle.value]
        if change.youngest_driver_age != risk.youngest_driver_age:
            changes.append(
                _diff("Alter des jüngsten Fahrers", str(risk.youngest_driver_age), str(change.youngest_driver_age))
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


# --- Kündigung, end by sale or de-registration, Rücknahme ------------------------------------------

SALE = "fahrzeug"
AFTER_CLAIM = "schaden"
WITHDRAWAL = "widerruf"  # recorded by the back office only, within the Widerrufsfrist
AFTER_INCREASE = "beitrag"  # within a month of a Beitragsmitteilung, to the date of the increase
# the renewal's entry for a tariff-driven increase (its Beitragsmitteilung opens AFTER_INCREASE)
TARIFF_INCREASE = "Beitragserhöhung durch den Tarif (§ 40 VVG)"


@dataclass(frozen=True)
class Cancellation:
    """What the Kündigung form asks: the reason, a remark, the day the Kündigung arrived (what
    counts for the notice, not the day it is typed in) and, for an early end, the day the contract
    ends (a sale or de-registration of the vehicle: that day; after a claim: the day chosen)."""

    reason: str
    note: str
    received: date
    ends_on: date | None = None  # an early end: the day of the sale, or the day chosen after a claim


def contract_terms(catalog: TariffCatalog, contract: Contract) -> ContractTerms:
    """The contract's terms (Hauptfälligkeit, pro rata, notice) from its own tariff version."""
    return lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date)


def cancellation_date(main_due: date, received: date, notice_months: int) -> date:
    """Kündigung zum Ablauf (§ 11 Abs. 2 VVG; AKB G.1.2, ARB): it takes effect at the next
    Hauptfälligkeit when it arrived at least `notice_months` before it — a month before 01.01. means
    by 30.11. (§§ 187, 188 BGB) — else at the one after."""
    if received < lifecycle.months_before(main_due, notice_months):
        return main_due
    return lifecycle.add_year(main_due)


def _check_received(session: so.Session, contract: Contract, received: date, today: date) -> date:
    """The day a Kündigung arrived, checked; returns the Hauptfälligkeit in effect on that day (the
    contract's own, or the coming one when the renewal for it was run ahead)."""
    assert contract.main_due is not None
    field = "eingegangen_am"
    if received > today:
        raise ChangeError("Das Eingangsdatum kann nicht in der Zukunft liegen.", field)
    concluded = contract.policed_at.astimezone(TIMEZONE).date()
    if received < concluded:
        raise ChangeError(
            f"Die Kündigung kann nicht vor dem Vertragsabschluss am {format_date(concluded)} eingegangen sein.", field
        )
    due, _, _ = year_in_effect(session, contract, received)
    year_begin = lifecycle.sub_year(due)
    if year_begin > contract.start_date and received < year_begin:  # after a Hauptfälligkeit passed
        raise ChangeError(
            f"Eine Kündigung, die vor dem laufenden Versicherungsjahr (ab {format_date(year_begin)}) einging, "
            "wirkte schon zur letzten Hauptfälligkeit; bitte wenden Sie sich an den Innendienst.",
            field,
        )
    return due


def claim_window(session: so.Session, contract: Contract, terms: ContractTerms, on: date) -> tuple[Claim, date] | None:
    """The claim whose settlement (paid, settled without payment or declined) opened the
    Sonderkündigung on `on` (§§ 92, 111 VVG; AKB G.2.3, G.3.3: within the tariff's month after it)
    and the window's last day; None when no such window is open."""
    settled = session.scalars(
        sa.select(Claim)
        .where(Claim.contract_id == contract.id, Claim.settled_on.is_not(None), Claim.settled_on <= on)
        .order_by(Claim.settled_on.desc(), Claim.id.desc())
    )
    for claim in settled:
        assert claim.settled_on is not None
        deadline = lifecycle.months_before(claim.settled_on, -terms.claim_notice_months)
        if on <= deadline and claim.status.settled:
            return claim, deadline
    return None


def increase_window(session: so.Session, contract: Contract, on: date) -> tuple[date, date] | None:
    """§ 40 Abs. 1 VVG: after a Beitragsmitteilung for a tariff-driven increase the customer may
    cancel within a month of its receipt to the date the increase takes effect. Returns (that date,
    the window's last day) when `on` lies in such a window; the month counts from the day the
    Beitragsmitteilung was issued."""
    renewals = session.scalars(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.kind == VersionKind.RENEWAL)
        .order_by(ContractVersion.seq.desc())
    )
    for version in renewals:
        if version.renewal_due is None or not any(c.get("label") == TARIFF_INCREASE for c in version.changes):
            continue
        issued = version.created_at.astimezone(TIMEZONE).date()
        deadline = lifecycle.months_before(issued, -1)
        if issued <= on <= deadline:
            return version.renewal_due, deadline
    return None


def withdrawal_deadline(contract: Contract, terms: ContractTerms) -> date:
    """The last day a Widerruf can arrive (§ 8 VVG): the tariff's days (at least 14) after the
    customer got the Versicherungsschein with the Vertragsinformationen and the Belehrung — counted
    from the day they were issued at policing."""
    return contract.policed_at.astimezone(TIMEZONE).date() + timedelta(days=terms.withdrawal_days)


def _check_withdrawal(user: User, contract: Contract, terms: ContractTerms, received: date, today: date) -> None:
    field = "eingegangen_am"
    if user.role is not Role.BACKOFFICE:
        raise ChangeError("Einen Widerruf erfasst der Innendienst.", "grund")
    if contract.application is None:
        raise ChangeError("Für übernommene Bestandsverträge gibt es hier keinen Widerruf.", "grund")
    if received > today:
        raise ChangeError("Das Eingangsdatum kann nicht in der Zukunft liegen.", field)
    concluded = contract.policed_at.astimezone(TIMEZONE).date()
    if received < concluded:
        raise ChangeError(
            f"Der Widerruf kann nicht vor dem Vertragsabschluss am {format_date(concluded)} eingegangen sein.", field
        )
    deadline = withdrawal_deadline(contract, terms)
    if received > deadline:
        raise ChangeError(
            f"Die Widerrufsfrist von {terms.withdrawal_days} Tagen endete am {format_date(deadline)}; "
            "bitte erfassen Sie eine Kündigung.",
            field,
        )


def _check_end_after_claim(contract: Contract, ends: date | None, received: date) -> date:
    """AKB G.2.3: the Kündigung takes effect when it arrives, or later as the customer chooses, at
    the latest at the end of the insurance year."""
    assert contract.main_due is not None
    field = "endet_am"
    if ends is None:
        return received
    if ends < received:
        raise ChangeError(
            f"Der Vertrag kann frühestens mit dem Eingang der Kündigung ({format_date(received)}) enden.", field
        )
    if ends > contract.main_due:
        raise ChangeError(
            f"Der Vertrag kann spätestens zum Ende des Versicherungsjahres ({format_date(contract.main_due)}) enden.",
            field,
        )
    return ends


def year_in_effect(session: so.Session, contract: Contract, day: date) -> tuple[date, Decimal, str]:
    """The Hauptfälligkeit, annual premium and Zahlweise in effect on `day`. Usually the contract's
    own; but when the renewal for the coming Hauptfälligkeit was run ahead (up to two months before
    it), a day before that Hauptfälligkeit still belongs to the old year and its premium."""
    assert contract.main_due is not None
    coming = lifecycle.sub_year(contract.main_due)
    if day < coming and coming > contract.start_date:
        before = version_at(session, contract, day)
        if before is not None and before.data.get("annual_total"):
            return coming, Decimal(before.data["annual_total"]), str(before.data["frequency"])
    return contract.main_due, contract.annual_total, contract.frequency


def _check_sold_on(session: so.Session, contract: Contract, sold_on: date | None, today: date, rules: Rules) -> date:
    """The day a sold or de-registered vehicle's contract ends: within the insurance year in effect
    on that day, not before the contract start or its latest change, at most `backdate_days` back."""
    assert contract.main_due is not None
    field = "verkauft_am"
    if sold_on is None:
        raise ChangeError("Bitte geben Sie an, wann das Fahrzeug verkauft oder abgemeldet wurde.", field)
    if sold_on < contract.start_date:
        raise ChangeError(
            f"Das Datum kann nicht vor dem Vertragsbeginn ({format_date(contract.start_date)}) liegen.", field
        )
    if sold_on >= contract.main_due:
        raise ChangeError(
            f"Das Datum muss vor der Hauptfälligkeit am {format_date(contract.main_due)} liegen; "
            "zu diesem Tag endet der Vertrag mit einer Kündigung zum Ablauf.",
            field,
        )
    due, _, _ = year_in_effect(session, contract, sold_on)
    begin, _ = lifecycle.insurance_year(contract.start_date, due)
    earliest = max(begin, today - timedelta(days=rules.backdate_days))
    last = session.scalar(
        sa.select(sa.func.max(ContractVersion.effective_date)).where(
            ContractVersion.contract_id == contract.id, ContractVersion.kind.in_(ENDORSED)
        )
    )
    if last is not None and last > earliest:
        earliest = last
    if sold_on < earliest:
        raise ChangeError(
            f"Das Vertragsende kann hier frühestens zum {format_date(earliest)} erfasst werden "
            "(laufendes Versicherungsjahr, letzte Änderung, höchstens "
            f"{rules.backdate_days} Tage rückwirkend); bitte wenden Sie sich an den Innendienst.",
            field,
        )
    return sold_on


def cancel_contract(
    session: so.Session,
    user: User,
    contract: Contract,
    cancellation: Cancellation,
    *,
    expected_version: int | None,
    catalog: TariffCatalog,
    rules: Rules,
    today: date,
    pdf_workers: int | None = None,
) -> ContractVersion:
    """End the contract. Kündigung zum Ablauf: at the Hauptfälligkeit the notice of the tariff allows,
    counted from the day it arrived. Sale or de-registration of the vehicle (§§ 95, 96 VVG; AKB on
    Veräußerung and Außerbetriebsetzung): on that day, with the unused premium refunded pro rata
    temporis (§ 39 VVG). The Kündigungsbestätigung goes by post (by law) and into the portal."""
    lock(session, contract, expected_version)
    _check_running(contract, today)
    if contract.ends_on is not None:
        raise ChangeError(f"Der Vertrag ist bereits zum {format_date(contract.ends_on)} gekündigt.")
    reason = cancellation.reason
    if reason not in CANCEL_REASONS or (reason == SALE and contract.product != Product.KFZ.value):
        raise ChangeError("Bitte wählen Sie den Grund der Kündigung.", "grund")
    note = " ".join(cancellation.note.split())
    if reason == "sonstiges" and not note:
        raise ChangeError("Bitte beschreiben Sie den Grund der Kündigung.", "bemerkung")
    if len(note) > 500:
        raise ChangeError("Die Bemerkung darf höchstens 500 Zeichen lang sein.", "bemerkung")
    assert contract.main_due is not None
    terms = contract_terms(catalog, contract)
    refund = paid_until = None
    annual = contract.annual_total
    claim = None
    due = contract.main_due
    if reason == SALE:
        ends = _check_sold_on(session, contract, cancellation.ends_on, today, rules)
        effective = ends
    elif reason == WITHDRAWAL:
        _check_withdrawal(user, contract, terms, cancellation.received, today)
        # § 9 VVG: the cover ends when the Widerruf arrives; before the start there never was any
        ends = max(cancellation.received, contract.start_date)
        effective = max(today, ends)
    elif reason == AFTER_INCREASE:
        due = _check_received(session, contract, cancellation.received, today)
        increased = increase_window(session, contract, cancellation.received)
        if increased is None:
            raise ChangeError(
                "Wegen einer Beitragserhöhung kann nur innerhalb eines Monats nach Zugang der Beitragsmitteilung "
                "gekündigt werden; dafür liegt keine Beitragsmitteilung vor.",
                "grund",
            )
        ends = increased[0]
        effective = max(today, ends)
    elif reason == AFTER_CLAIM:
        due = _check_received(session, contract, cancellation.received, today)
        window = claim_window(session, contract, terms, cancellation.received)
        if window is None:
            raise ChangeError(
                f"Nach einem Schadenfall kann nur innerhalb von {terms.claim_notice_months} Monat(en) nach der "
                "Regulierung oder Ablehnung des Schadens gekündigt werden; dafür liegt kein Schaden vor.",
                "grund",
            )
        claim = window[0]
        ends = _check_end_after_claim(contract, cancellation.ends_on, cancellation.received)
        effective = max(today, min(ends, contract.main_due))
    else:
        due = _check_received(session, contract, cancellation.received, today)
        ends = cancellation_date(due, cancellation.received, terms.notice_months)
        effective = today
    begun = not (reason == WITHDRAWAL and cancellation.received < contract.start_date)  # else nothing was paid
    early = (SALE, AFTER_CLAIM, WITHDRAWAL, AFTER_INCREASE)
    if reason in early and begun and ends < contract.main_due:  # §§ 9, 39 VVG
        year_due, annual, frequency = year_in_effect(session, contract, ends)
        amount, paid_until = lifecycle.refund_on_end(
            annual,
            ends,
            min(today, year_due - timedelta(days=1)),
            year_due,
            PaymentFrequency(frequency).periods,
            terms.days_per_year,
        )
        refund = amount or None
    due_in_effect = due
    first_version(session, contract)
    contract.ends_on = ends
    contract.end_reason = CANCEL_REASONS[reason] + (f": {note}" if note else "")
    changes = [_diff("Vertragsende", "unbefristet (jährliche Verlängerung)", f"zum {format_date(ends)}, 0:00 Uhr")]
    if reason != SALE:
        changes.append(_diff("Kündigung eingegangen am", "–", format_date(cancellation.received)))
    version = add_version(
        session,
        contract,
        VersionKind.CANCELLATION,
        effective,
        changes,
        actor=user,
        premium_delta=-refund if refund else None,
    )
    context = {
        "version": version,
        "claim": claim,
        "reason": reason,
        "received": cancellation.received if reason != SALE else None,
        "notice_months": terms.notice_months,
        "latest": lifecycle.months_before(due_in_effect, terms.notice_months) - timedelta(days=1),
        "due": due_in_effect,
        "sale": reason == SALE,
        "early": reason in early,
        "after_increase": reason == AFTER_INCREASE,
        "withdrawal": reason == WITHDRAWAL,
        "never_began": not begun,
        "paid_until": paid_until,
        "annual": annual,
    }
    title = "Widerrufsbestätigung" if reason == WITHDRAWAL else "Kündigungsbestätigung"
    planned = [Planned(DocumentKind.CANCELLATION, title, context)]
    if refund:
        planned.append(
            Planned(DocumentKind.INVOICE, f"Beitragsrechnung Nachtrag Nr. {version.endorsement_no}", context)
        )
    issue_documents(session, [(contract, planned)], catalog=catalog, workers=pdf_workers)
    audit.record(
        session,
        "contract_cancelled",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={
            "ends_on": ends.isoformat(),
            "reason": reason,
            "received": cancellation.received.isoformat() if reason != SALE else None,
            "refund": str(refund) if refund else None,
        },
    )
    return version


def withdraw_cancellation(
    session: so.Session,
    user: User,
    contract: Contract,
    *,
    expected_version: int | None,
    today: date,
    catalog: TariffCatalog,
    pdf_workers: int | None = None,
) -> ContractVersion:
    """Rücknahme: a Kündigung withdrawn before it takes effect — the contract runs on as before
    (a Nachtrag says so); a refund made for a sale or de-registration is charged again."""
    lock(session, contract, expected_version)
    if contract.ends_on is None:
        raise ChangeError("Der Vertrag ist nicht gekündigt.")
    if contract.ends_on <= today:
        raise ChangeError(
            f"Die Kündigung ist zum {format_date(contract.ends_on)} wirksam geworden; "
            "eine Rücknahme ist nicht mehr möglich."
        )
    cancelled = session.scalar(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.kind == VersionKind.CANCELLATION)
        .order_by(ContractVersion.seq.desc())
        .limit(1)
    )
    refunded = cancelled.premium_delta if cancelled is not None else None
    changes = [
        _diff(
            "Vertragsende",
            f"zum {format_date(contract.ends_on)} ({contract.end_reason or 'gekündigt'})",
            "unbefristet (jährliche Verlängerung) – Kündigung zurückgenommen",
        )
    ]
    old_end = contract.ends_on
    contract.ends_on, contract.end_reason = None, None
    version = add_version(
        session,
        contract,
        VersionKind.WITHDRAWAL,
        today,
        changes,
        actor=user,
        premium_delta=-refunded if refunded else None,
    )
    planned = endorsement_documents(version, invoice=bool(refunded), invoice_extra={"withdrawn_end": old_end})
    issue_documents(session, [(contract, planned)], catalog=catalog, workers=pdf_workers)
    audit.record(
        session,
        "cancellation_withdrawn",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"ended_on": old_end.isoformat(), "charged": str(-refunded) if refunded else None},
    )
    return version

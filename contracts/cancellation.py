"""The Kündigung (zum Ablauf, after a sale, after a claim, after a premium increase, the Widerruf)
and its Rücknahme: the dates the VVG and the AKB/ARB allow, the refund pro rata, the Nachtrag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import (
    ContractTerms,
    PaymentFrequency,
    Product,
    TariffCatalog,
)
from contracts import lifecycle
from contracts.documents import Planned, issue_documents
from contracts.models import Claim, Contract, ContractVersion, DocumentKind, VersionKind
from contracts.settings import Rules
from contracts.versions import (
    ENDORSED,
    ChangeError,
    add_version,
    check_running,
    contract_terms,
    diff,
    endorsement_documents,
    first_version,
    lock,
    version_at,
)
from core import audit
from core.formatting import TIMEZONE
from core.formatting import date_de as format_date
from core.users import Role, User

CANCEL_REASONS = {
    "kunde": "Kündigung durch den Versicherungsnehmer",
    "fahrzeug": "Fahrzeug verkauft oder abgemeldet",
    "schaden": "Kündigung nach einem Schadenfall (§§ 92, 111 VVG)",
    "widerruf": "Widerruf der Vertragserklärung (§ 8 VVG)",
    "beitrag": "Kündigung wegen Beitragserhöhung (§ 40 VVG)",
    "wechsel": "Wechsel zu einem anderen Versicherer",
    "sonstiges": "Sonstiger Grund",
}


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
    check_running(contract, today)
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
    changes = [diff("Vertragsende", "unbefristet (jährliche Verlängerung)", f"zum {format_date(ends)}, 0:00 Uhr")]
    if reason != SALE:
        changes.append(diff("Kündigung eingegangen am", "–", format_date(cancellation.received)))
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
        diff(
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

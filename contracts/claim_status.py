"""A claim's way after the report (issue #24 items 5, 8, 9): the back office sets its status —
gemeldet → in Bearbeitung → reguliert (mit Zahlung / ohne Zahlung) or abgelehnt — with the amount
paid; the customer may buy a paid claim back within the tariff's months (Schadenrückkauf, AKB I.5).
Every step is a Schadenmitteilung in the customer's folder (by post for post customers) and an
e-mail. Only a paid claim that was not bought back counts for the Rückstufung; when such a fact
comes after the renewal of the claim's year had run, the SF-Klassen of that renewal are computed
again (Nachstufung, contracts.renewal.restate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import ContractTerms, TariffCatalog
from contracts import lifecycle, renewal
from contracts.documents import Planned, issue_documents
from contracts.models import Claim, ClaimStatus, Contract, ContractVersion, DocumentKind
from contracts.versions import contract_terms
from core import audit, clock
from core.formatting import date_de, eur
from core.users import User
from messaging import outbox

NEXT = {
    ClaimStatus.REPORTED: (
        ClaimStatus.IN_PROGRESS,
        ClaimStatus.PAID,
        ClaimStatus.SETTLED_WITHOUT_PAYMENT,
        ClaimStatus.DECLINED,
    ),
    ClaimStatus.IN_PROGRESS: (ClaimStatus.PAID, ClaimStatus.SETTLED_WITHOUT_PAYMENT, ClaimStatus.DECLINED),
}


class ClaimStatusError(ValueError):
    """German message for the form field `field` (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class StatusChange:
    status: ClaimStatus
    on: date  # the day of the payment, settlement or refusal
    amount: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    restated: ContractVersion | None  # the Nachtrag of a Nachstufung, when one was due


def next_statuses(claim: Claim) -> tuple[ClaimStatus, ...]:
    return NEXT.get(claim.status, ())


def buyback_deadline(claim: Claim, terms: ContractTerms) -> date | None:
    """The last day a paid claim can be bought back (months after the insurer named the amount)."""
    if claim.status is not ClaimStatus.PAID or claim.settled_on is None or terms.buyback_months is None:
        return None
    return lifecycle.months_before(claim.settled_on, -terms.buyback_months)


def set_status(
    session: so.Session,
    user: User,
    claim: Claim,
    change: StatusChange,
    *,
    catalog: TariffCatalog,
    today: date,
    pdf_workers: int | None = None,
) -> Outcome:
    """The back office's decision on a claim (row locked: two clerks at once, one wins, the other is
    told). A paid claim may correct a renewal already run (Nachstufung)."""
    session.refresh(claim, with_for_update=True)
    if change.status not in next_statuses(claim):
        raise ClaimStatusError(
            f"Der Schaden ist „{claim.status.label}“; „{change.status.label}“ kann nicht mehr gesetzt werden.", "status"
        )
    if change.on > today:
        raise ClaimStatusError("Das Datum kann nicht in der Zukunft liegen.", "datum")
    if change.on < claim.occurred_on:
        raise ClaimStatusError(f"Das Datum liegt vor dem Schadentag ({date_de(claim.occurred_on)}).", "datum")
    note = " ".join(change.note.split())
    if change.status is ClaimStatus.PAID:
        if change.amount is None or change.amount <= 0:
            raise ClaimStatusError("Bitte geben Sie den gezahlten Betrag ein (mehr als 0 €).", "betrag")
        claim.paid_amount = change.amount.quantize(Decimal("0.01"))
    elif change.amount:
        raise ClaimStatusError("Ein Betrag gehört nur zu „reguliert (mit Zahlung)“.", "betrag")
    if change.status is ClaimStatus.DECLINED and not note:
        raise ClaimStatusError("Bitte begründen Sie die Ablehnung; der Kunde erhält die Begründung.", "bemerkung")
    if len(note) > 1000:
        raise ClaimStatusError("Die Bemerkung darf höchstens 1.000 Zeichen lang sein.", "bemerkung")
    claim.status = change.status
    claim.status_note = note or None
    if change.status.settled:
        claim.settled_on = change.on
    if claim.handled_at is None:
        claim.handled_at, claim.handled_by_id = clock.now(), user.id
    contract = claim.contract
    terms = contract_terms(catalog, contract)
    _tell_customer(session, claim, contract, terms, catalog, pdf_workers)
    audit.record(
        session,
        "claim_status",
        actor=user,
        agency_id=claim.agency_id,
        object_type="claim",
        object_id=claim.number,
        details={
            "status": change.status.value,
            "on": change.on.isoformat(),
            "amount": str(claim.paid_amount) if change.status is ClaimStatus.PAID else None,
        },
    )
    restated = None
    if change.status is ClaimStatus.PAID:
        restated = _restate(session, user, contract, claim, catalog, today, pdf_workers)
    return Outcome(claim, restated)


def buy_back(
    session: so.Session,
    user: User,
    claim: Claim,
    repaid_on: date,
    *,
    catalog: TariffCatalog,
    today: date,
    pdf_workers: int | None = None,
) -> Outcome:
    """Schadenrückkauf (AKB I.5): the customer repaid the amount within the tariff's months; the
    claim no longer counts — a renewal already run is corrected (Nachstufung, with the Erstattung)."""
    session.refresh(claim, with_for_update=True)
    contract = claim.contract
    terms = contract_terms(catalog, contract)
    if claim.repaid_on is not None:
        raise ClaimStatusError(f"Der Schaden wurde bereits am {date_de(claim.repaid_on)} zurückgekauft.", "datum")
    deadline = buyback_deadline(claim, terms)
    if deadline is None:
        raise ClaimStatusError("Zurückkaufen lässt sich nur ein regulierter Kfz-Schaden mit Zahlung.", "datum")
    assert claim.settled_on is not None
    if repaid_on > today:
        raise ClaimStatusError("Das Datum kann nicht in der Zukunft liegen.", "datum")
    if repaid_on < claim.settled_on:
        raise ClaimStatusError(f"Das Datum liegt vor der Regulierung am {date_de(claim.settled_on)}.", "datum")
    if repaid_on > deadline:
        raise ClaimStatusError(
            f"Der Schadenrückkauf war nur bis zum {date_de(deadline)} möglich "
            f"({terms.buyback_months} Monate nach der Regulierung am {date_de(claim.settled_on)}).",
            "datum",
        )
    claim.repaid_on = repaid_on
    _tell_customer(session, claim, contract, terms, catalog, pdf_workers, bought_back=True)
    audit.record(
        session,
        "claim_bought_back",
        actor=user,
        agency_id=claim.agency_id,
        object_type="claim",
        object_id=claim.number,
        details={"repaid_on": repaid_on.isoformat(), "amount": str(claim.paid_amount)},
    )
    return Outcome(claim, _restate(session, user, contract, claim, catalog, today, pdf_workers))


def _restate(
    session: so.Session,
    user: User,
    contract: Contract,
    claim: Claim,
    catalog: TariffCatalog,
    today: date,
    pdf_workers: int | None,
) -> ContractVersion | None:
    try:
        return renewal.restate(
            session, contract, claim.occurred_on, catalog, actor=user, today=today, pdf_workers=pdf_workers
        )
    except renewal.RenewalError as error:
        raise ClaimStatusError(str(error)) from None


def _tell_customer(
    session: so.Session,
    claim: Claim,
    contract: Contract,
    terms: ContractTerms,
    catalog: TariffCatalog,
    pdf_workers: int | None,
    *,
    bought_back: bool = False,
) -> None:
    """The Schadenmitteilung into the folder (a letter for a post customer) and an e-mail."""
    step = "Schadenrückkauf" if bought_back else claim.status.label
    context = {"claim": claim, "bought_back": bought_back, "buyback_until": buyback_deadline(claim, terms)}
    issue_documents(
        session,
        [(contract, [Planned(DocumentKind.CLAIM_STATUS, f"Schaden {claim.number} – {step}", context)])],
        catalog=catalog,
        workers=pdf_workers,
        announce=False,  # the e-mail below says it
    )
    if contract.customer_email:
        outbox.enqueue_email(
            session,
            key=f"claim-status:{claim.public_id}:{'rueckkauf' if bought_back else claim.status.value}",
            to=contract.customer_email,
            subject=f"Ihr Schaden {claim.number}: {step}",
            template="claim_status",
            context={**context, "contract": contract, "amount": eur(claim.paid_amount) if claim.paid_amount else ""},
            related=("contract", contract.public_id),
            agency_id=contract.agency_id,
        )


def claims_of_customer(session: so.Session, contract_ids: list[int]) -> list[Claim]:
    """The claims of these contracts (the portal customer's "Meine Schäden"), newest first."""
    if not contract_ids:
        return []
    return list(
        session.scalars(
            sa.select(Claim)
            .where(Claim.contract_id.in_(contract_ids))
            .options(so.selectinload(Claim.contract))
            .order_by(Claim.reported_at.desc(), Claim.id.desc())
        )
    )

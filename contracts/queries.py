"""What the contract pages read: applications, contracts, the Risikoprüfung queue, a contract's trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Application, ApplicationState, Claim, ClaimStatus, Contract, Document, DocumentKind
from core import paging
from core.audit import AuditEntry
from core.authz import scoped
from core.formatting import eur


def applications_page(session: so.Session, user: Any, page: int, size: int) -> paging.Page[Application]:
    """The applications the user may see, newest first."""
    stmt = scoped(sa.select(Application), Application, user).order_by(
        Application.submitted_at.desc(), Application.id.desc()
    )
    return paging.paginate(session, stmt, page, size)


def contracts_page(session: so.Session, user: Any, page: int, size: int) -> paging.Page[Contract]:
    """The contracts the user may see, newest first."""
    stmt = scoped(sa.select(Contract), Contract, user).order_by(Contract.policed_at.desc(), Contract.id.desc())
    return paging.paginate(session, stmt, page, size)


def new_documents(session: so.Session, user: Any, since: datetime, limit: int = 20) -> list[Document]:
    """ "Neue Dokumente meiner Kunden": the documents made since then for the contracts the user may
    see (a broker his own, a manager his agency's), newest first, with their contract loaded."""
    stmt = (
        scoped(sa.select(Document), Document, user)
        .where(Document.created_at >= since)
        .options(so.joinedload(Document.contract))
        .order_by(Document.created_at.desc(), Document.id.desc())
    )
    return list(session.scalars(stmt.limit(limit)))


def application_of(session: so.Session, offer_id: int) -> Application | None:
    """The application made from this offer (there is at most one)."""
    return session.scalar(sa.select(Application).where(Application.offer_id == offer_id))


def referred(session: so.Session) -> list[Application]:
    """The Risikoprüfung queue, oldest first (the back office sees all agencies)."""
    stmt = (
        sa.select(Application)
        .where(Application.state == ApplicationState.REFERRED)
        .order_by(Application.submitted_at, Application.id)
    )
    return list(session.scalars(stmt))


def trail(session: so.Session, contract: Contract) -> list[AuditEntry]:
    """The audit entries of the contract, its documents and its application, in order."""
    object_ids = [contract.public_id, *(d.public_id for d in contract.documents)]
    if contract.application is not None:
        object_ids.append(contract.application.public_id)
    stmt = sa.select(AuditEntry).where(AuditEntry.object_id.in_(object_ids)).order_by(AuditEntry.at, AuditEntry.id)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    what: str
    who: str


def claim_history(session: so.Session, claim: Claim) -> list[HistoryEntry]:
    """What happened to a claim, in order: its report, every status set, its Schadenrückkauf and
    each letter to the customer (issue #26 item 23)."""
    entries = [HistoryEntry(claim.reported_at, "Schaden gemeldet (Kunden-Portal)", "Kunde")]
    audit_rows = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == "claim", AuditEntry.object_id == (claim.number or "-"))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    for entry in audit_rows:
        details = entry.details or {}
        who = entry.actor.full_name if entry.actor else (entry.actor_label or "")
        if entry.action == "claim_status":
            what = f"Stand: {ClaimStatus(details['status']).label}"
            if details.get("amount"):
                what += f", gezahlt {eur(Decimal(details['amount']))}"
        elif entry.action == "claim_bought_back":
            what = f"Schadenrückkauf erfasst ({eur(Decimal(details.get('amount') or 0))})"
        else:
            what = entry.action_label
        entries.append(HistoryEntry(entry.at, what, who))
    entries += [
        HistoryEntry(d.created_at, f"Schreiben an den Kunden: {d.title}", "") for d in claim_documents(session, claim)
    ]
    return sorted(entries, key=lambda e: e.at)


def claim_documents(session: so.Session, claim: Claim) -> list[Document]:
    """The claim's confirmation and Schadenmitteilungen (their titles name the Schadennummer)."""
    return list(
        session.scalars(
            sa.select(Document)
            .where(
                Document.contract_id == claim.contract_id,
                Document.kind.in_([DocumentKind.CLAIM, DocumentKind.CLAIM_STATUS]),
                Document.title.contains(claim.number or "-", autoescape=True),
            )
            .order_by(Document.id)
        )
    )

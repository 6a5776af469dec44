"""What the contract pages read: applications, contracts, the Risikoprüfung queue, a contract's trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Application, ApplicationState, Claim, Contract, Document, DocumentKind
from core import paging
from core.audit import AuditEntry
from core.authz import scoped


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

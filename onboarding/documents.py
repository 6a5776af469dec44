"""The portal customer's documents: his list (filtered, paged), opening one, a ZIP of several,
marking a selection read or unread. Only
documents of contracts on his account are ever found; the first opening marks a document read, once
(one guarded UPDATE), and lands on the contract's audit trail."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import IO, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract, Document, DocumentKind
from core import audit, clock, paging, storage
from core.downloads import zip_stream
from core.formatting import TIMEZONE
from onboarding.models import PortalAccount


def _own(customer: PortalAccount) -> sa.Select[Any]:
    return sa.select(Document).join(Contract).where(Contract.customer_account_id == customer.id)


@dataclass(frozen=True)
class Filters:
    """What the customer filters "Meine Dokumente" by; every one optional, all combined."""

    name: str = ""  # the policyholder's last name (part of it, any case)
    first_name: str = ""
    start: date | None = None  # one day, or from–to with `end`
    end: date | None = None
    kind: str = ""
    status: str = ""  # gelesen / ungelesen
    contract: str = ""  # public id
    invoices: bool | None = None  # the tab "Rechnungen" (True), "Dokumente" (False: all but the invoices), "Alle"


def documents_page(
    session: so.Session, customer: PortalAccount, filters: Filters, page: int, size: int
) -> paging.Page[Document]:
    """Newest first, filtered (only his documents are ever found)."""
    stmt = _own(customer)
    if filters.name or filters.first_name:
        # a customer has a handful of contracts: the names are compared in Python, where "Ü" and
        # "ü" are the same letter (SQLite's lower() knows only ASCII)
        names = session.execute(
            sa.select(Contract.id, Contract.customer).where(Contract.customer_account_id == customer.id)
        ).all()
        ids = [
            cid
            for cid, c in names
            if filters.name.casefold() in str(c.get("last_name", "")).casefold()
            and filters.first_name.casefold() in str(c.get("first_name", "")).casefold()
        ]
        stmt = stmt.where(Contract.id.in_(ids))
    if filters.start is not None:
        end = filters.end or filters.start  # one date: that day (Berlin time)
        stmt = stmt.where(
            Document.created_at >= datetime.combine(filters.start, time.min, TIMEZONE),
            Document.created_at < datetime.combine(end + timedelta(days=1), time.min, TIMEZONE),
        )
    if filters.invoices is True:
        stmt = stmt.where(Document.kind == DocumentKind.INVOICE)
    elif filters.invoices is False:
        stmt = stmt.where(Document.kind != DocumentKind.INVOICE)
    if filters.kind in {k.value for k in DocumentKind}:
        stmt = stmt.where(Document.kind == DocumentKind(filters.kind))
    if filters.status == "gelesen":
        stmt = stmt.where(Document.read_at.is_not(None))
    elif filters.status == "ungelesen":
        stmt = stmt.where(Document.read_at.is_(None))
    if filters.contract:
        stmt = stmt.where(Contract.public_id == filters.contract)
    return paging.paginate(session, stmt.order_by(Document.created_at.desc(), Document.id.desc()), page, size)


def unread_count(session: so.Session, customer: PortalAccount) -> int:
    """Unread documents (shown in the portal's navigation)."""
    stmt = sa.select(sa.func.count()).select_from(Document).join(Contract)
    return session.scalar(stmt.where(Contract.customer_account_id == customer.id, Document.read_at.is_(None))) or 0


def own_documents(session: so.Session, customer: PortalAccount, public_ids: Sequence[str]) -> list[Document]:
    if not public_ids:
        return []
    return list(session.scalars(_own(customer).where(Document.public_id.in_(public_ids))))


def mark_read(session: so.Session, customer: PortalAccount, documents: Sequence[Document]) -> None:
    """The documents not read before are read now (one UPDATE; a second tab does not count twice)."""
    newly = session.execute(
        sa.update(Document)
        .where(Document.id.in_([d.id for d in documents]), Document.read_at.is_(None))
        .values(read_at=clock.now())
        .returning(Document.public_id, Document.agency_id)
        .execution_options(synchronize_session="fetch")
    ).all()
    for public_id, agency_id in newly:
        audit.record(
            session,
            "document_read",
            actor_label=customer.email,
            agency_id=agency_id,
            object_type="document",
            object_id=public_id,
        )


def mark_unread(session: so.Session, customer: PortalAccount, public_ids: Sequence[str]) -> int:
    """ "Ungelesen": his chosen documents are unread again (they count in the navigation)."""
    chosen = own_documents(session, customer, public_ids)
    if not chosen:
        return 0
    session.execute(
        sa.update(Document)
        .where(Document.id.in_([d.id for d in chosen]))
        .values(read_at=None)
        .execution_options(synchronize_session="fetch")
    )
    return len(chosen)


def mark_chosen_read(session: so.Session, customer: PortalAccount, public_ids: Sequence[str]) -> int:
    """ "Gelesen": his chosen documents are read (the first time on the contract's audit trail)."""
    chosen = own_documents(session, customer, public_ids)
    if chosen:
        mark_read(session, customer, chosen)
    return len(chosen)


def open_document(session: so.Session, customer: PortalAccount, public_id: str) -> tuple[Document, IO[bytes]] | None:
    """One of his documents, to stream (marked read); None if it is not his."""
    found = own_documents(session, customer, [public_id])
    if not found:
        return None
    data = storage.open_stream(found[0].storage_key)
    mark_read(session, customer, found)
    return found[0], data


def documents_zip(session: so.Session, customer: PortalAccount, public_ids: Sequence[str]) -> Iterator[bytes] | None:
    """'Dateien speichern': his chosen documents as one ZIP, made while it is sent (marked read
    now); None if none is his."""
    chosen = own_documents(session, customer, public_ids)
    if not chosen:
        return None
    members = [(f"{d.created_at:%Y-%m-%d}_{d.filename}", partial(storage.open_stream, d.storage_key)) for d in chosen]
    mark_read(session, customer, chosen)
    return zip_stream(members)

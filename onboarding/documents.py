"""The portal customer's documents: his list (filtered, paged), opening one, a ZIP of several. Only
documents of contracts on his account are ever found; the first opening marks a document read, once
(one guarded UPDATE), and lands on the contract's audit trail."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract, Document, DocumentKind
from core import audit, clock, paging, storage
from onboarding.models import Customer


def _own(customer: Customer) -> sa.Select[Any]:
    return sa.select(Document).join(Contract).where(Contract.customer_account_id == customer.id)


def documents_page(
    session: so.Session, customer: Customer, filters: dict[str, str], page: int, size: int
) -> paging.Page[Document]:
    """Newest first; filters: dokument (kind), status (gelesen/ungelesen), vertrag (public id)."""
    stmt = _own(customer)
    if filters.get("dokument") in {k.value for k in DocumentKind}:
        stmt = stmt.where(Document.kind == DocumentKind(filters["dokument"]))
    if filters.get("status") == "gelesen":
        stmt = stmt.where(Document.read_at.is_not(None))
    elif filters.get("status") == "ungelesen":
        stmt = stmt.where(Document.read_at.is_(None))
    if filters.get("vertrag"):
        stmt = stmt.where(Contract.public_id == filters["vertrag"])
    return paging.paginate(session, stmt.order_by(Document.created_at.desc(), Document.id.desc()), page, size)


def own_documents(session: so.Session, customer: Customer, public_ids: Sequence[str]) -> list[Document]:
    if not public_ids:
        return []
    return list(session.scalars(_own(customer).where(Document.public_id.in_(public_ids))))


def mark_read(session: so.Session, customer: Customer, documents: Sequence[Document]) -> None:
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
    session.commit()


def open_document(session: so.Session, customer: Customer, public_id: str) -> tuple[Document, bytes] | None:
    """One of his documents with its bytes (marked read); None if it is not his."""
    found = own_documents(session, customer, [public_id])
    if not found:
        return None
    data = storage.load(found[0].storage_key)
    mark_read(session, customer, found)
    return found[0], data


def documents_zip(session: so.Session, customer: Customer, public_ids: Sequence[str]) -> bytes | None:
    """'Dateien speichern': his chosen documents as one ZIP (marked read); None if none is his."""
    chosen = own_documents(session, customer, public_ids)
    if not chosen:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in chosen:
            archive.writestr(f"{document.created_at:%Y-%m-%d}_{document.filename}", storage.load(document.storage_key))
    mark_read(session, customer, chosen)
    return buffer.getvalue()

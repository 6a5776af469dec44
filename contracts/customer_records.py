"""The broker's customers (Kunden, calculator.customers): the typeahead search and the customer
page with everything of his — offers, Anträge, contracts with their portal state."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.customers import normalise, prefix_match
from calculator.forms.fields import parse_german_date
from calculator.models import CustomerNameWord, CustomerRecord, Offer
from contracts.models import Application, Claim, Contract, Document
from core.audit import AuditEntry
from core.authz import scoped
from core.users import User

LIMIT = 10
DOCUMENTS_SHOWN = 20  # the newest on the customer page; each contract's page lists all of its own
CONTRACT_NUMBER = re.compile(r"^[A-Za-z]{2}-[0-9-]{4,}$")


def search(session: so.Session, user: User, query: str, limit: int = LIMIT) -> list[CustomerRecord]:
    """Typeahead within what the user may see: a birth date (TT.MM.JJJJ), a Vertragsnummer, the
    beginning of an e-mail address, or the beginning of any part of "Nachname Vorname"
    ("Lüdenscheidt" finds "Müller-Lüdenscheidt", "Jürgen" finds him too). One indexed query."""
    query = " ".join(query.split())[:100]
    if len(query) < 2:
        return []
    stmt = sa.select(CustomerRecord)
    # a name prefix is read in the order of its index; the other searches find a handful of rows by
    # their own index, sorted by an expression (so no planner walks the name index for the order)
    order: Any = CustomerRecord.search_key.concat("")
    born = parse_german_date(query) if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", query) else None
    dialect = session.get_bind().dialect.name
    if born is not None:
        stmt = stmt.where(CustomerRecord.birth_date == born)
    elif CONTRACT_NUMBER.match(query):
        # the contract first (its unique number), then its customer by primary key
        owner = session.scalar(sa.select(Contract.client_id).where(Contract.number == query.upper().replace(" ", "")))
        stmt = stmt.where(CustomerRecord.id == owner)
    elif "@" in query:
        stmt = stmt.where(prefix_match(CustomerRecord.email, query.lower(), dialect))
    else:
        key = normalise(query)
        if not key:
            return []
        # read in the order of the name-part index (agency, word): the walk stops after the first
        # hits whatever the prefix matches — an IN over the parts sorted by the client's key made
        # SQLite walk every customer for a rare prefix (p95 47 ms on 100,000)
        stmt = stmt.join(CustomerNameWord, CustomerNameWord.client_id == CustomerRecord.id).where(
            prefix_match(CustomerNameWord.word, key, dialect)
        )
        if user.agency_id is not None:  # the staff of an agency: its own index range only
            stmt = stmt.where(CustomerNameWord.agency_id == user.agency_id)
        order = CustomerNameWord.word
        # one customer can match twice ("Müller-Müller"): read a few more, keep the first of each
        found = session.scalars(
            scoped(stmt, CustomerRecord, user).order_by(order, CustomerNameWord.client_id).limit(limit * 2)
        )
        return list(dict.fromkeys(found))[:limit]
    stmt = scoped(stmt, CustomerRecord, user).order_by(order, CustomerRecord.id).limit(limit)
    return list(session.scalars(stmt))


def portal_summary(contracts: list[Contract]) -> str:
    """The customer's portal state over his contracts: the furthest one counts (aktiviert before
    invited before Post), as his one portal access serves all of them."""
    states = {c.onboarding_state for c in contracts}
    if "active" in states:
        return "aktiviert"
    if states & {"link_sent", "code_sent"}:
        return "eingeladen"
    return "Post" if contracts else "–"


def client_page(session: so.Session, user: User, public_id: str) -> dict[str, Any] | None:
    """The customer and everything of his the user may see; None: not his (404)."""
    client = session.scalar(
        scoped(sa.select(CustomerRecord).where(CustomerRecord.public_id == public_id), CustomerRecord, user)
    )
    if client is None:
        return None
    offers = list(
        session.scalars(
            scoped(sa.select(Offer).where(Offer.client_id == client.id), Offer, user).order_by(Offer.created_at.desc())
        )
    )
    applications = list(
        session.scalars(
            scoped(
                sa.select(Application).where(Application.offer_id.in_([o.id for o in offers] or [0])),
                Application,
                user,
            ).order_by(Application.submitted_at.desc())
        )
    )
    contracts = list(
        session.scalars(
            scoped(sa.select(Contract).where(Contract.client_id == client.id), Contract, user).order_by(
                Contract.policed_at.desc()
            )
        )
    )
    sent = session.execute(  # offers e-mailed to him (contracts.offer_mail records them)
        sa.select(AuditEntry.object_id, AuditEntry.at, AuditEntry.details).where(
            AuditEntry.action == "offer_emailed",
            AuditEntry.object_type == "offer",
            AuditEntry.object_id.in_([o.public_id for o in offers] or [""]),
        )
    ).all()
    mailed: dict[str, list[tuple[Any, str]]] = {}
    for offer_id, at, details in sent:
        mailed.setdefault(offer_id, []).append((at, (details or {}).get("to", "")))
    ids = [c.id for c in contracts] or [0]
    claims = list(
        session.scalars(
            scoped(sa.select(Claim).where(Claim.contract_id.in_(ids)), Claim, user).order_by(Claim.reported_at.desc())
        )
    )
    documents = list(
        session.scalars(
            scoped(sa.select(Document).where(Document.contract_id.in_(ids)), Document, user)
            .order_by(Document.created_at.desc(), Document.id.desc())
            .limit(DOCUMENTS_SHOWN)
        )
    )
    return {
        "client": client,
        "portal": portal_summary(contracts),
        "claims": claims,
        "documents": documents,
        "offers": offers,
        "applications": applications,
        "contracts": contracts,
        "mailed": mailed,
    }

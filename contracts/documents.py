"""A contract's documents: rendered from our templates to PDF, stored, and sent on their way by the
contract's channel — announced to onboarding (document_added: the portal and its "Neue Dokumente"
e-mail), a letter to the Postausgang for post customers, and for documents the law wants on paper
(DocumentKind.on_paper_by_law) a letter whatever the channel, beside the portal copy."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.orm as so
from flask import render_template

from calculator.tariffs import Product, RsModule, RsTariff, TariffCatalog
from contracts import lifecycle
from contracts.models import Contract, Delivery, Document, DocumentKind, Occasion
from contracts.presentation import policy_scope
from contracts.signals import document_added, document_stored
from core import clock, storage
from core.pdf import render_pdf
from messaging import outbox

# the insurer's SEPA creditor identifier (DEMO value, as printed on invoices)
CREDITOR_ID = "DE98ZZZ09999999999"

TEMPLATES = {
    DocumentKind.POLICY: "documents/versicherungsschein.html",
    DocumentKind.INVOICE: "documents/beitragsrechnung.html",
    DocumentKind.ENDORSEMENT: "documents/nachtrag.html",
    DocumentKind.CANCELLATION: "documents/kuendigungsbestaetigung.html",
    DocumentKind.CLAIM: "documents/schadenmeldung.html",
    DocumentKind.NOTICE: "documents/mitteilung.html",
    DocumentKind.CLAIM_STATUS: "documents/schadenstand.html",
    DocumentKind.APPLICATION: "documents/antrag.html",
    DocumentKind.PREMIUM_NOTICE: "documents/beitragsmitteilung.html",
    DocumentKind.ADVICE: "documents/beratung.html",
}


@dataclass(frozen=True)
class Planned:
    """A document to be made: its kind, title and what its template needs beyond the contract
    (e.g. the version of a Nachtrag)."""

    kind: DocumentKind
    title: str
    context: dict[str, Any] = field(default_factory=dict)


def mask_iban(iban: str) -> str:
    """DE89 **** **** **** **30 00 style: country, check digits and the last four."""
    if len(iban) < 8:
        return iban
    masked = iban[:4] + "*" * (len(iban) - 8) + iban[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def render_document(contract: Contract, kind: DocumentKind, catalog: TariffCatalog, **context: Any) -> str:
    """The document's HTML from the contract's current data. The Versicherungsschein and the
    Nachtrag state the insured risk."""
    scope: dict[str, Any] = {}
    terms = lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date)
    if kind in (DocumentKind.POLICY, DocumentKind.ENDORSEMENT):
        session = so.object_session(contract)
        assert session is not None
        today = clock.today()
        scope = policy_scope(session, catalog, contract, today)
    if kind is DocumentKind.POLICY:
        scope.update(_policy_extras(catalog, contract))
        first_due = lifecycle.first_main_due(contract.start_date, terms)
        if lifecycle.sub_year(first_due) != contract.start_date:  # a shortened first insurance year
            scope["first_year"] = (contract.start_date, first_due)
    return render_template(
        TEMPLATES[kind],
        contract=contract,
        product=Product(contract.product),
        created=clock.now(),
        creditor_id=CREDITOR_ID,
        masked_iban=mask_iban(contract.iban or ""),
        terms=terms,
        today=clock.today(),
        **scope,
        **context,
    )


def _policy_extras(catalog: Any, contract: Contract) -> dict[str, Any]:
    """What the Versicherungsschein states from the tariff and the Antrag: the Kfz Deckungssummen,
    the Rechtsschutz Wartezeit of the booked modules (ARB), the Kfz occasion."""
    extras: dict[str, Any] = {"tariff_data": None, "waiting": None, "occasion_label": ""}
    try:
        tariff = catalog.get(contract.tariff_version)
    except KeyError:  # an imported contract without tariff data
        return extras
    extras["tariff_data"] = tariff
    if isinstance(tariff, RsTariff) and contract.risk:
        months = tariff.waiting_months_for({RsModule(m) for m in contract.risk.get("modules", [])})
        extras["waiting"] = lifecycle.months_before(contract.start_date, -months) if months else None
    occasion = contract.application.occasion if contract.application is not None else None
    extras["occasion_label"] = Occasion(occasion).label if occasion else ""
    return extras


def issue_documents(
    session: so.Session,
    planned: Iterable[tuple[Contract, Sequence[Planned]]],
    *,
    catalog: TariffCatalog,
    workers: int | None = None,
    announce: bool = True,
) -> list[Document]:
    """Render the planned documents of these contracts on all cores, store them and deliver each
    contract's set together (one letter for a post customer). A pipeline: each document goes to a
    wkhtmltopdf process as soon as its HTML is ready, so the Python work of the next contracts
    (and of a lazy `planned`, e.g. the renewal of each contract) overlaps the rendering."""
    pending = []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for contract, plans in planned:
            html = [render_document(contract, p.kind, catalog, **p.context) for p in plans]
            pending.append((contract, plans, [pool.submit(render_pdf, h) for h in html]))
        made: list[Document] = []
        for contract, plans, futures in pending:
            items = [(p.kind, p.title, f.result()) for p, f in zip(plans, futures, strict=True)]
            made += store_and_deliver(session, contract, items, announce=announce)
    return made


def add_document(session: so.Session, contract: Contract, kind: DocumentKind, title: str, pdf: bytes) -> Document:
    """One later document (see store_and_deliver)."""
    return store_and_deliver(session, contract, [(kind, title, pdf)])[0]


def store_and_deliver(
    session: so.Session, contract: Contract, items: Sequence[tuple[DocumentKind, str, bytes]], *, announce: bool = True
) -> list[Document]:
    """Later documents of one contract: stored, visible to the broker at once, announced
    (document_added: onboarding puts them in the portal and e-mails an activated customer), and
    for a post customer — or a document the law wants on paper — one letter with them."""
    documents = []
    for kind, title, pdf in items:
        key, digest = storage.store(session, pdf)
        document = Document(
            contract=contract,
            agency_id=contract.agency_id,
            owner_id=contract.owner_id,
            kind=kind,
            title=title,
            filename=f"{title}-{contract.number}.pdf".replace(" ", "-"),
            storage_key=key,
            sha256=digest,
            size=len(pdf),
        )
        session.add(document)
        documents.append(document)
    session.flush()
    for document in documents:
        document_stored.send(document, session=session, contract=contract)
    for document in documents if announce else []:  # announce=False: the caller tells the customer itself
        document_added.send(document, session=session, contract=contract)
    by_post = documents if contract.delivery is Delivery.POST else [d for d in documents if d.kind.on_paper_by_law]
    if by_post:
        documents_letter(session, contract, f"document-letter:{by_post[0].public_id}", "contract_documents", by_post)
    return documents


def documents_letter(
    session: so.Session, contract: Contract, key: str, template: str, documents: list[Document] | None = None
) -> None:
    """A cover letter (templates/letters/<template>.html) with the documents (default: all of the
    contract's) behind it, into the Postausgang."""
    chosen = contract.documents if documents is None else documents
    outbox.enqueue_letter(
        session,
        key=key,
        address=contract.postal_address(),
        subject=f"{chosen[0].title if len(chosen) == 1 else 'Ihre Vertragsunterlagen'} zum Vertrag {contract.number}",
        template=template,
        context={"contract": contract, "documents": chosen},
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        attachments=[d.storage_key for d in chosen],
    )

"""Use cases: submit an application, refer it or police it, decline it; documents as PDFs."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from calculator import presentation, quotes, reference
from calculator.forms.fields import parse_german_date
from calculator.models import CustomerRecord, Offer
from calculator.tariffs import KfzTariff, PaymentFrequency, Product
from contracts import contract_info, einstufung, evb, lifecycle, versions
from contracts.advice import WAIVER_WARNING, Advice
from contracts.documents import documents_letter, render_document
from contracts.forms import normalize_plate
from contracts.models import Application, ApplicationState, Contract, Delivery, Document, DocumentKind, Evb, Occasion
from contracts.numbers import contract_number
from contracts.presentation import risk_questions
from contracts.settings import ContractSettings
from contracts.signals import application_decided, contract_policed
from core import audit, clock, storage
from core.formatting import TIMEZONE
from core.forms import has_control_characters
from core.pdf import render_pdfs
from core.users import User
from messaging import outbox


class ApplicationError(ValueError):
    """German message for the broker or back office."""


@dataclass(frozen=True)
class ApplicationData:
    start_date: date
    account_holder: str
    iban: str
    bic: str | None
    delivery: Delivery
    email: str | None
    mobile: str | None
    # what the law wants before the Antrag (the form requires them; older callers may leave them out)
    contract_info_given_on: date | None = None
    notice_19_confirmed: bool = False
    occasion: Occasion | None = None
    vin: str | None = None
    plate: str | None = None
    advice: Advice | None = None


def _customer(session: so.Session, offer: Offer) -> dict[str, Any]:
    data = {k: (v[0] if v else "") for k, v in offer.form_data.items()}
    place = None
    if data.get("ort", "").isdigit():
        place = session.get(reference.PostalPlace, int(data["ort"]))
    salutation = {"herr": "Herr", "frau": "Frau"}.get(data.get("anrede", ""), "")
    return {
        "salutation": salutation,
        "first_name": data.get("vorname", ""),
        "last_name": data.get("name", ""),
        "birth_date": data.get("geburtsdatum", ""),
        "street": data.get("strasse", ""),
        "plz": data.get("plz", ""),
        "city": place.place if place else "",
    }


def submit_application(
    session: so.Session, user: User, offer: Offer, data: ApplicationData, settings: ContractSettings
) -> Application:
    """One application per offer: a second submit (double click, resent form, other tab) returns the
    first. Referred applications wait for Risikoprüfung; the others are policed at once."""
    existing = session.scalar(sa.select(Application).where(Application.offer_id == offer.id))
    if existing is not None:
        return existing
    now = clock.now()
    application = Application(
        offer_id=offer.id,
        agency_id=offer.agency_id,
        owner_id=offer.owner_id,
        state=ApplicationState.REFERRED if offer.referral_reasons else ApplicationState.POLICED,
        start_date=data.start_date,
        account_holder=data.account_holder,
        iban=data.iban,
        bic=data.bic,
        mandate_reference=f"VR{now:%Y%m%d}{secrets.token_hex(6).upper()}",
        mandate_accepted_at=now,
        delivery=data.delivery,
        customer_email=data.email,
        customer_mobile=data.mobile,
        referral_reasons=list(offer.referral_reasons),
        submitted_at=now,
        contract_info_given_on=data.contract_info_given_on,
        notice_19_confirmed_at=now if data.notice_19_confirmed else None,
        occasion=data.occasion.value if data.occasion else None,
        vin=data.vin,
        plate=data.plate,
        advice=data.advice.to_dict() if data.advice else None,
    )
    try:
        with session.begin_nested():
            session.add(application)
    except IntegrityError:
        # the same offer was submitted concurrently and that one committed first
        session.expunge_all()
        found = session.scalar(sa.select(Application).where(Application.offer_id == offer.id))
        assert found is not None
        return found
    audit.record(
        session,
        "application_submitted",
        actor=user,
        object_type="application",
        object_id=application.public_id,
        details={"offer": offer.public_id},
    )
    if application.state is ApplicationState.REFERRED:
        audit.record(
            session,
            "application_referred",
            actor=user,
            object_type="application",
            object_id=application.public_id,
            details={"reasons": application.referral_reasons},
        )
    else:
        police(session, [application], user, settings)
    return application


class ApplicationInvalid(ValueError):
    """The Antrag's answers have errors: they are on the form's fields (and `form_errors`)."""


def apply_online(session: so.Session, user: User, offer: Offer, form: Any, settings: ContractSettings) -> Application:
    """ "Online beantragen" (the Antrag page's and the API's): the ApplicationForm checked with its
    conditions, the offer's price checked against today's tariff, then `submit_application`.
    ApplicationInvalid with the messages on the form; MessageError when the documents cannot be sent
    to the given contact (the caller rolls back)."""
    form.product = Product(offer.product)
    form.validate()
    form.check_conditions()
    form.irrelevant_errors_cleared()
    try:
        reprice_check(offer, settings.catalog)
    except ApplicationError as error:
        form.form_errors.append(str(error))
    if any(f.errors for f in form) or form.form_errors:
        raise ApplicationInvalid("Bitte prüfen Sie die markierten Angaben.")
    kfz = offer.product == Product.KFZ.value
    portal = form.zustellung.data == "portal"
    data = ApplicationData(
        start_date=form.start_date,
        account_holder=form.kontoinhaber.data,
        iban=form.iban_compact,
        bic=form.bic,
        delivery=Delivery(form.zustellung.data),
        email=form.email_normalized if portal else None,
        mobile=form.mobile_e164 if portal else None,
        contract_info_given_on=parse_german_date(form.vertragsinformationen_am.data or ""),
        notice_19_confirmed=bool(form.belehrung_19.data),
        occasion=Occasion(form.anlass.data) if kfz and form.anlass.data else None,
        vin=form.fin.data if kfz else None,
        plate=normalize_plate(form.kennzeichen.data or "") if kfz else None,
        advice=form.advice(),
    )
    return submit_application(session, user, offer, data, settings)


def decline(session: so.Session, application: Application, user: User, reason: str) -> None:
    reason = " ".join(reason.split())
    session.refresh(application, with_for_update=True)  # a colleague may decide on it at this moment
    if application.state is not ApplicationState.REFERRED:
        raise ApplicationError("Dieser Antrag ist nicht mehr in der Risikoprüfung.")
    if not reason:
        raise ApplicationError("Bitte geben Sie einen Grund für die Ablehnung an.")
    if has_control_characters(reason):  # NUL reached PostgreSQL as a 500 (issue #25 item 8, the fuzz test)
        raise ApplicationError("Der Grund enthält Steuerzeichen. Bitte geben Sie ihn ohne sie ein.")
    application.state = ApplicationState.DECLINED
    application.decline_reason = reason
    application.decided_by_id = user.id
    application.decided_at = clock.now()
    _tell_broker(session, application)
    audit.record(
        session,
        "application_declined",
        actor=user,
        agency_id=application.agency_id,
        object_type="application",
        object_id=application.public_id,
        details={"reason": reason},
    )
    application_decided.send(application, session=session)


def accept_selected(
    session: so.Session, public_ids: list[str], user: User, settings: ContractSettings
) -> list[Contract]:
    """The back office's selection in the Risikoprüfung, accepted together (see accept)."""
    chosen = list(
        session.scalars(sa.select(Application).where(Application.public_id.in_(public_ids)).order_by(Application.id))
    )
    if not chosen:
        raise ApplicationError("Bitte wählen Sie mindestens einen Antrag aus.")
    return accept(session, chosen, user, settings)


def accept(
    session: so.Session, applications: list[Application], user: User, settings: ContractSettings
) -> list[Contract]:
    """Risikoprüfung passed: police them (their documents rendered on all cores at once). The rows
    are locked first (in id order: no deadlock between two selections), so of two clerks accepting
    the same application at once exactly one polices it; the other gets the German error."""
    for application in sorted(applications, key=lambda a: a.id):
        session.refresh(application, with_for_update=True)
    for application in applications:
        if application.state is not ApplicationState.REFERRED:
            raise ApplicationError("Ein ausgewählter Antrag ist nicht mehr in der Risikoprüfung.")
        application.state = ApplicationState.POLICED
        application.decided_by_id = user.id
        application.decided_at = clock.now()
        audit.record(
            session,
            "application_accepted",
            actor=user,
            agency_id=application.agency_id,
            object_type="application",
            object_id=application.public_id,
        )
    contracts = police(session, applications, user, settings)
    for application in applications:
        _tell_broker(session, application)
        application_decided.send(application, session=session)
    return contracts


def _tell_broker(session: so.Session, application: Application) -> None:
    """The Risikoprüfung's decision by e-mail to the broker (it is on his worklist, too)."""
    accepted = application.state is ApplicationState.POLICED
    outbox.enqueue_email(
        session,
        key=f"decision:{application.public_id}",
        to=application.owner.email,
        subject=f"Antrag {'angenommen' if accepted else 'abgelehnt'}: {application.offer.applicant_name}",
        template="decision",
        context={"application": application, "accepted": accepted},
        related=("application", application.public_id),
        agency_id=application.agency_id,
    )


def request_evb(session: so.Session, contract: Contract, user: User, settings: ContractSettings) -> Evb:
    """ "eVB anfordern" for a Kfz contract that has none (the page's and the API's): issued on the
    contract's tariff terms and sent to the customer; EvbError (German) when none can be had."""
    if contract.product != Product.KFZ.value:
        raise evb.EvbError("Eine eVB-Nummer gibt es nur für Kfz-Verträge.")
    terms = versions.contract_terms(settings.catalog, contract)
    return evb.issue_and_send(
        session, contract, user, valid_days=settings.rules.evb_valid_days, margin_days=terms.evb_margin_days
    )


def read_document(session: so.Session, user: User, document: Document) -> IO[bytes]:
    """A document, to stream, for a staff user who may see it (checked by the caller); the download is
    on the audit trail."""
    audit.record(
        session,
        "document_downloaded",
        actor=user,
        object_type="document",
        object_id=document.public_id,
        agency_id=document.agency_id,
    )
    return storage.open_stream(document.storage_key)


def police(
    session: so.Session, applications: list[Application], actor: User, settings: ContractSettings
) -> list[Contract]:
    """Create the contracts, their Versicherungsschein and first Beitragsrechnung, and start the
    delivery: a letter to the Postausgang, or the onboarding record for the customer portal."""
    contracts = []
    catalog = settings.catalog
    for application in applications:
        offer = application.offer
        terms = lifecycle.terms_for(catalog, offer.product, offer.tariff_version, application.start_date)
        customer = _customer(session, offer)
        contract = Contract(
            application=application,
            agency_id=application.agency_id,
            owner_id=application.owner_id,
            product=offer.product,
            tariff_version=offer.tariff_version,
            customer_name=f"{customer['first_name']} {customer['last_name']}".strip(),
            customer=customer,
            client_id=offer.client_id,
            customer_email=application.customer_email,
            customer_mobile=application.customer_mobile,
            delivery=application.delivery,
            start_date=application.start_date,
            frequency=offer.frequency,
            total=offer.total,
            annual_total=offer.annual_total,
            premium=offer.premium,
            iban=application.iban,
            account_holder=application.account_holder,
            mandate_reference=application.mandate_reference,
            policed_at=clock.now(),
            answers={k: list(v) for k, v in offer.form_data.items()},
            risk=dict(offer.risk),
            main_due=lifecycle.first_main_due(application.start_date, terms),
        )
        session.add(contract)
        contracts.append(contract)
        client = session.get(CustomerRecord, offer.client_id) if offer.client_id else None
        if client is not None and application.customer_email:  # the Kunde's contact data, as last given
            client.email, client.mobile = application.customer_email, application.customer_mobile
    session.flush()  # ids → Vertragsnummern
    year = clock.now().astimezone(TIMEZONE).year
    for contract in contracts:
        contract.number = contract_number(year, contract.id)
    today = clock.today()
    for contract in contracts:  # transferred SF-Klassen wait for the Vorversicherer's confirmation
        tariff = catalog.tariffs.get(contract.tariff_version)
        if isinstance(tariff, KfzTariff):
            einstufung.start_check(contract, tariff, today)
    for contract in contracts:  # a Kfz contract's eVB-Nummer, before its Versicherungsschein states it
        given = (contract.answers or {}).get("evb", [""])[0]
        if contract.product == Product.KFZ.value and not given and evb.needed(contract):
            # without vehicle data: none now; the broker can request it on the contract page
            terms = lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date)
            with contextlib.suppress(evb.EvbError):
                evb.issue_and_send(
                    session,
                    contract,
                    actor,
                    valid_days=settings.rules.evb_valid_days,
                    margin_days=terms.evb_margin_days,
                )

    kinds = (DocumentKind.POLICY, DocumentKind.INVOICE, DocumentKind.APPLICATION, DocumentKind.ADVICE)
    documents = [
        (c, kind)
        for c in contracts
        for kind in kinds
        if kind is not DocumentKind.ADVICE or (c.application is not None and c.application.advice)
    ]
    html = [
        render_document(contract, kind, catalog, **_context(session, catalog, contract, kind))
        for contract, kind in documents
    ]
    pdfs = render_pdfs(html, workers=settings.pdf_workers)
    insurer = settings.insurer
    titles = {
        DocumentKind.POLICY: "Versicherungsschein",
        DocumentKind.INVOICE: "Beitragsrechnung",
        DocumentKind.APPLICATION: "Antrag",
        DocumentKind.ADVICE: "Beratungsdokumentation",
    }
    titled = [(contract, kind, titles[kind], pdf) for (contract, kind), pdf in zip(documents, pdfs, strict=True)]
    for contract in contracts:  # the Vertragsinformationen the customer got before the Antrag, in his folder
        for document, pdf in contract_info.pdfs(catalog, contract.tariff_version, insurer):
            titled.append((contract, DocumentKind.CONTRACT_INFO, document.title, pdf))
    titled.sort(key=lambda item: contracts.index(item[0]))  # each contract's documents together
    for contract, kind, title, pdf in titled:
        key, digest = storage.store(session, pdf)
        session.add(
            Document(
                contract=contract,
                agency_id=contract.agency_id,
                owner_id=contract.owner_id,
                kind=kind,
                title=title,
                filename=f"{title}-{contract.number}.pdf",
                storage_key=key,
                sha256=digest,
                size=len(pdf),
            )
        )
    session.flush()
    for contract in contracts:
        _start_delivery(session, contract)
        audit.record(
            session,
            "contract_policed",
            actor=actor,
            agency_id=contract.agency_id,
            object_type="contract",
            object_id=contract.public_id,
            details={"number": contract.number, "delivery": contract.delivery.value},
        )
    return contracts


def _context(session: so.Session, catalog: Any, contract: Contract, kind: DocumentKind) -> dict[str, Any]:
    """What the policing documents need beyond the contract: the first period (Versicherungsschein,
    Beitragsrechnung); for the Antrag every question with its answer; the Beratungsdokumentation."""
    if kind is DocumentKind.ADVICE:
        assert contract.application is not None
        return advice_context(catalog, contract.application.offer, contract.application.advice or {}, contract.number)
    if kind is not DocumentKind.APPLICATION:
        return {"first": first_period(catalog, contract)}
    assert contract.application is not None
    offer = contract.application.offer
    today = clock.today()
    occasion = contract.application.occasion
    return {
        "antrag": presentation.offer_details(session, catalog, offer, today),
        "risk_questions": risk_questions(Product(offer.product), offer.form_data),
        "occasion_label": Occasion(occasion).label if occasion else "",
    }


def advice_context(catalog: Any, offer: Offer, advice: dict[str, Any], number: str | None) -> dict[str, Any]:
    """The Beratungsdokumentation's page: as filed at policing, or as handed over before the Antrag."""
    return {
        "advice": advice,
        "applicant": offer.applicant_name,
        "broker": offer.owner,
        "product_label": Product(offer.product).label,
        "tariff_name": catalog.get(offer.tariff_version).name,
        "number": number,
        "waiver_warning": WAIVER_WARNING,
    }


def first_period(catalog: Any, contract: Contract) -> lifecycle.FirstPeriod:
    """What the first Beitragsrechnung collects: the regular instalment, or for a start between two
    due days (Kfz from 01.10. to its Hauptfälligkeit 01.01.) the annual premium pro rata temporis by
    the tariff's method."""
    assert contract.main_due is not None
    terms = lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date)
    return lifecycle.first_period(
        contract.start_date,
        contract.main_due,
        PaymentFrequency(contract.frequency).periods,
        contract.total,
        contract.annual_total,
        terms.days_per_year,
    )


def _start_delivery(session: so.Session, contract: Contract) -> None:
    """Post: the documents behind a cover letter into the Postausgang. Portal: announced
    (contract_policed); onboarding subscribes and invites the customer in this transaction."""
    contract_policed.send(contract, session=session)
    if contract.delivery is Delivery.PORTAL:
        return
    documents_letter(session, contract, f"contract-documents:{contract.public_id}", "contract_documents")


def reprice_check(offer: Offer, catalog: Any) -> None:
    """The offer's stored price must still come out of its pinned tariff version (guards against a
    tampered or inconsistent offer before it becomes a contract)."""
    premium = quotes.reprice(catalog, offer)
    if premium.total != offer.total:
        raise ApplicationError("Der Beitrag des Angebots ist nicht mehr nachvollziehbar. Bitte neu berechnen.")


def send_by_post_from_now_on(session: so.Session, contract: Contract) -> None:
    """The customer never activated his portal access and the invitation expired: his documents go
    out by letter (so nobody misses a Versicherungsschein) and so will every later one."""
    contract.delivery = Delivery.POST
    contract.onboarding_state, contract.onboarding_expires_at = "post", None
    documents_letter(session, contract, f"portal-not-activated:{contract.public_id}", "portal_not_activated")
    audit.record(
        session,
        "documents_sent_by_post",
        actor_label="System",
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"documents": len(contract.documents), "reason": "portal_not_activated"},
    )

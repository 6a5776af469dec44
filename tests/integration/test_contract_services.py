"""Contracts' use cases called directly against the database (no HTTP): an offer becomes an
application and a contract with its documents; the delivery channel decides what follows (the
onboarding through contracts' signal, or a letter); Risikoprüfung accept/decline; one application
per offer."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from calculator import quotes
from calculator.tariffs import Product
from contracts import services
from contracts.models import ApplicationState, Contract, Delivery, Document, DocumentKind
from contracts.settings import current as contract_settings
from core import clock, storage
from core.audit import AuditEntry
from messaging.models import Kind, OutboxMessage
from onboarding.models import AccessLink, OnboardingStart
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS

pytestmark = pytest.mark.usefixtures("demo_reference")


def _today():
    return clock.today()


def _offer(app, session, broker, answers, product=Product.RS):
    formdata = MultiDict(answers)
    with app.test_request_context():
        quote = quotes.evaluate(session, app.extensions["tariffs"], product, formdata, today=_today())
        assert quote.complete, quote.missing
        offer = quotes.store_offer(session, broker, quote, formdata)
    session.flush()
    return offer


def _data(delivery: Delivery) -> services.ApplicationData:
    portal = delivery is Delivery.PORTAL
    return services.ApplicationData(
        start_date=_today() + timedelta(days=14),
        account_holder="Jürgen Müller",
        iban="DE89370400440532013000",
        bic=None,
        delivery=delivery,
        email="juergen.mueller@example.org" if portal else None,
        mobile="+4915112345678" if portal else None,
    )


def _actions(session, object_id: str) -> list[str]:
    stmt = sa.select(AuditEntry.action).where(AuditEntry.object_id == object_id)
    return list(session.scalars(stmt.order_by(AuditEntry.at, AuditEntry.id)))  # in order on PostgreSQL too


def test_portal_delivery_polices_with_documents_and_starts_the_onboarding(app, session, broker):
    offer = _offer(app, session, broker, RS_ANSWERS)
    with app.test_request_context():
        application = services.submit_application(session, broker, offer, _data(Delivery.PORTAL), contract_settings())
    assert application.state is ApplicationState.POLICED
    contract = session.scalar(sa.select(Contract).where(Contract.application_id == application.id))
    assert contract.number.startswith("VR-")
    assert (contract.delivery, contract.total) == (Delivery.PORTAL, offer.total)
    documents = session.scalars(sa.select(Document).where(Document.contract_id == contract.id)).all()
    assert sorted(d.kind for d in documents) == sorted(
        [DocumentKind.POLICY, DocumentKind.INVOICE, DocumentKind.APPLICATION] + [DocumentKind.CONTRACT_INFO] * 3
    )
    with app.app_context():
        assert all(storage.load(d.storage_key).startswith(b"%PDF") for d in documents)
    # contracts announced the policing; onboarding (subscribed) acted in the same transaction
    start = session.scalar(sa.select(OnboardingStart).where(OnboardingStart.contract_id == contract.id))
    assert start.processed_at is not None
    link = session.scalar(sa.select(AccessLink).where(AccessLink.contract_id == contract.id))
    assert link.code_channel.value == "sms"
    mail = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == f"access-link:{link.public_id}")
    )
    assert mail.recipient == "juergen.mueller@example.org"
    assert contract.onboarding_state == "link_sent"
    assert _actions(session, application.public_id) == ["application_submitted"]
    assert "access_link_sent" in _actions(session, contract.public_id)


def test_post_delivery_sends_the_documents_as_one_letter_and_no_onboarding(app, session, broker):
    offer = _offer(app, session, broker, RS_ANSWERS)
    with app.test_request_context():
        application = services.submit_application(session, broker, offer, _data(Delivery.POST), contract_settings())
    contract = session.scalar(sa.select(Contract).where(Contract.application_id == application.id))
    letters = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.LETTER)).all()
    assert len(letters) == 1
    keys = {d.storage_key for d in session.scalars(sa.select(Document).where(Document.contract_id == contract.id))}
    assert set(letters[0].attachments) == keys
    assert letters[0].address[-1] == f"{contract.customer['plz']} {contract.customer['city']}" == "80331 München"
    assert session.scalar(sa.select(sa.func.count()).select_from(OnboardingStart)) == 0
    assert contract.onboarding_state == "post"


def test_one_application_per_offer(app, session, broker):
    offer = _offer(app, session, broker, RS_ANSWERS)
    with app.test_request_context():
        first = services.submit_application(session, broker, offer, _data(Delivery.POST), contract_settings())
        again = services.submit_application(session, broker, offer, _data(Delivery.PORTAL), contract_settings())
    assert again.id == first.id
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 1


def test_referral_waits_then_accept_polices_and_decline_needs_a_reason(app, session, broker, backoffice):
    risky = {**RS_ANSWERS, "risikoberuf": "ja"}  # a risk profession goes to Risikoprüfung
    referred = [_offer(app, session, broker, risky) for _ in range(2)]
    with app.test_request_context():
        first, second = (
            services.submit_application(session, broker, o, _data(Delivery.POST), contract_settings()) for o in referred
        )
        assert first.state is ApplicationState.REFERRED
        assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0
        (contract,) = services.accept(session, [first], backoffice, contract_settings())
        assert first.state is ApplicationState.POLICED
        assert contract.application_id == first.id
        with pytest.raises(services.ApplicationError, match="nicht mehr in der Risikoprüfung"):
            services.accept(session, [first], backoffice, contract_settings())
        with pytest.raises(services.ApplicationError, match="Grund"):
            services.decline(session, second, backoffice, "   ")
        services.decline(session, second, backoffice, "  Fahrer  zu jung ")
    assert (second.state, second.decline_reason) == (ApplicationState.DECLINED, "Fahrer zu jung")
    assert _actions(session, second.public_id) == [
        "application_submitted",
        "application_referred",
        "application_declined",
    ]


def _policy_text(app, session, contract) -> str:
    import io

    from pypdf import PdfReader

    document = session.scalar(
        sa.select(Document).where(Document.contract_id == contract.id, Document.kind == DocumentKind.POLICY)
    )
    with app.app_context():
        pdf = storage.load(document.storage_key)
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_kfz_versicherungsschein_names_vehicle_classes_and_cover(app, session, broker):
    offer = _offer(app, session, broker, KFZ_ANSWERS, Product.KFZ)
    with app.test_request_context():
        application = services.submit_application(session, broker, offer, _data(Delivery.POST), contract_settings())
    contract = session.scalar(sa.select(Contract).where(Contract.application_id == application.id))
    text = _policy_text(app, session, contract)
    types, regions = offer.risk["type_classes"], offer.risk["region_classes"]
    for expected in (
        "Versichertes Risiko",
        "HSN 0603, TSN BPM",
        "Haftpflicht + Vollkasko",
        "SF 12",
        "SF 10",
        f"Typklassen KH {types[0]}, TK {types[1]}, VK {types[2]}",
        f"Regionalklassen KH {regions[0]}, TK {regions[1]}, VK {regions[2]}",
    ):
        assert expected in text, expected
    vehicle = session.execute(
        sa.text("SELECT manufacturer FROM vehicles WHERE hsn = '0603' AND tsn = 'BPM'")
    ).scalar_one()
    assert vehicle.split()[0] in text


def test_the_rechtsschutz_versicherungsschein_names_modules_and_deductible(app, session, broker):
    offer = _offer(app, session, broker, RS_ANSWERS)
    with app.test_request_context():
        application = services.submit_application(session, broker, offer, _data(Delivery.POST), contract_settings())
    contract = session.scalar(sa.select(Contract).where(Contract.application_id == application.id))
    text = _policy_text(app, session, contract)
    for expected in ("Versichertes Risiko", "Privat", "Verkehr", "Selbstbeteiligung", "150 €", "Single"):
        assert expected in text, expected
    assert "Typklassen" not in text

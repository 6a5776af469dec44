"""Later documents reach the customer by the channel of the contract (issue #14, item 3): an
activated portal customer gets one "Neue Dokumente" e-mail per day (after a short delay that
collects a batch), a second contract of an active customer is announced the same way instead of a
second onboarding, a post customer gets a letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contracts.documents import add_document
from contracts.models import Contract, Delivery, Document, DocumentKind
from core import clock
from core.formatting import TIMEZONE
from messaging.models import Kind, OutboxMessage, State
from onboarding.invitations import on_contract_policed, post_expired_invitations
from onboarding.models import AccessLink, PortalAccount
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock


def _active_portal_customer(session, *contracts: Contract) -> PortalAccount:
    customer = PortalAccount(email="helga@example.org", full_name="Helga Brandt", activated_at=clock.now())
    session.add(customer)
    session.flush()
    for contract in contracts:
        contract.delivery, contract.customer_email = Delivery.PORTAL, customer.email
        contract.customer_account_id = customer.id
    session.flush()
    return customer


def _announcements(session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.template == "new_documents").order_by(OutboxMessage.id)
        )
    )


def test_one_email_a_day_and_a_document_after_it_waits_for_the_next_morning(
    app, session, broker, manager, time_machine
):
    time_machine.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=TIMEZONE), tick=False)
    stock = demo_stock(session, broker, manager)
    _active_portal_customer(session, stock["BV-4711001"], stock["BV-4711002"])
    with app.test_request_context():
        add_document(session, stock["BV-4711001"], DocumentKind.INVOICE, "Beitragsrechnung", b"%PDF-1.4")
        add_document(session, stock["BV-4711002"], DocumentKind.POLICY, "Versicherungsschein", b"%PDF-1.4")
        (first,) = _announcements(session)  # two contracts of one customer, one e-mail
        assert first.next_attempt_at == clock.now() + timedelta(minutes=current_settings().new_documents_delay_minutes)
        assert first.recipient == "helga@example.org"
        first.state = State.SENT  # went out at 09:15
        session.flush()
        time_machine.move_to(datetime(2026, 11, 25, 16, 0, tzinfo=TIMEZONE), tick=False)
        add_document(session, stock["BV-4711001"], DocumentKind.ENDORSEMENT, "Nachtrag 1", b"%PDF-1.4")
        add_document(session, stock["BV-4711001"], DocumentKind.INVOICE, "Beitragsrechnung", b"%PDF-1.4")
    _, tomorrow = _announcements(session)
    assert tomorrow.idempotency_key.endswith(":2026-11-26")
    assert tomorrow.next_attempt_at == datetime(2026, 11, 26, 7, 0, tzinfo=TIMEZONE).astimezone(UTC)
    assert tomorrow.state is State.PENDING


def test_a_document_for_a_customer_not_yet_activated_waits_and_never_renews_his_invitation(
    app, session, broker, manager, time_machine
):
    """Issue #26 item 26: a renewal sent a customer invited the day before a new link and a second code
    letter, so the first letter no longer worked. Now a document for a customer whose invitation is
    open waits in his portal: no new link, no new code letter, no "Neue Dokumente" e-mail, and the
    invitation keeps its end date (after it, the post fallback sends the documents)."""
    from agency import services as agency

    time_machine.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=TIMEZONE), tick=False)
    stock = demo_stock(session, broker, manager)
    contract = stock["BV-4711001"]
    with app.test_request_context():
        settings = current_settings()
        agency.switch_to_portal(session, manager, contract, "helga@example.org", "0151 23456789", settings)
        expires = contract.onboarding_expires_at
        add_document(session, contract, DocumentKind.INVOICE, "Beitragsrechnung", b"%PDF-1.4")
        time_machine.move_to(datetime(2026, 11, 26, 10, 0, tzinfo=TIMEZONE), tick=False)  # the day after
        add_document(session, contract, DocumentKind.PREMIUM_NOTICE, "Beitragsmitteilung", b"%PDF-1.4")
        add_document(session, contract, DocumentKind.INVOICE, "Beitragsrechnung", b"%PDF-1.4")
    assert _links(session) == [(False, "letter")]  # the one link of the invitation, still valid
    mails = session.scalars(sa.select(OutboxMessage.template).where(OutboxMessage.kind == Kind.EMAIL)).all()
    assert mails.count("access_link") == 1
    assert "new_documents" not in mails
    letters = session.scalar(sa.select(sa.func.count()).where(OutboxMessage.kind == Kind.LETTER))
    assert letters == 1  # the one code letter
    assert contract.onboarding_expires_at == expires


def _links(session) -> list[tuple[bool, str]]:
    """(revoked, code channel) of every access link, oldest first."""
    return [
        (link.revoked_at is not None, link.code_channel.value)
        for link in session.scalars(sa.select(AccessLink).order_by(AccessLink.id))
    ]


def test_a_second_contract_of_an_active_customer_is_announced_not_onboarded_again(app, session, broker, manager):
    stock = demo_stock(session, broker, manager)
    customer = _active_portal_customer(session, stock["BV-4711001"])
    second = stock["BV-4711002"]
    second.delivery, second.customer_email = Delivery.PORTAL, customer.email
    session.add(  # policing made its documents before it announced the contract
        Document(
            contract=second,
            agency_id=second.agency_id,
            owner_id=second.owner_id,
            kind=DocumentKind.POLICY,
            title="Versicherungsschein",
            filename="Versicherungsschein.pdf",
            storage_key="k",
            sha256="0" * 64,
            size=1,
        )
    )
    session.flush()
    with app.test_request_context():
        on_contract_policed(second, session=session)
    assert second.customer_account_id == customer.id
    assert second.onboarding_state == "active"
    assert session.scalar(sa.select(sa.func.count()).where(AccessLink.contract_id == second.id)) == 0
    (mail,) = _announcements(session)
    assert mail.related_id == second.public_id


def test_a_post_customer_gets_the_later_document_by_letter(app, session, broker, manager):
    stock = demo_stock(session, broker, manager)
    contract = stock["BV-4711003"]
    with app.test_request_context():
        document = add_document(session, contract, DocumentKind.INVOICE, "Beitragsrechnung", b"%PDF-1.4")
    (letter,) = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.LETTER)).all()
    assert letter.attachments == [document.storage_key]
    assert letter.address[0] == "Herrn Ömer Yilmaz"  # DIN 5008: the accusative
    assert letter.subject == "Beitragsrechnung zum Vertrag BV-4711003"
    assert "<li>Beitragsrechnung</li>" in letter.body_html  # what is enclosed, by name
    assert _announcements(session) == []


def test_an_invitation_expired_unused_sends_the_documents_by_post(app, session, broker, manager, time_machine):
    """Item 3: portal chosen but never activated — once the access link expired, the worker task
    puts the contract on post delivery and sends its documents by letter, once."""
    from agency import services as agency

    stock = demo_stock(session, broker, manager)
    waiting, active = stock["BV-4711001"], stock["BV-4711002"]
    with app.test_request_context():
        settings = current_settings()
        agency.switch_to_portal(session, manager, waiting, "helga@example.org", "0151 23456789", settings)
        agency.switch_to_portal(session, manager, active, "stefan@example.org", "0151 23456780", settings)
        add_document(session, waiting, DocumentKind.POLICY, "Versicherungsschein", b"%PDF-1.4")
        session.scalar(
            sa.select(PortalAccount).where(PortalAccount.email == "stefan@example.org")
        ).activated_at = clock.now()
        session.commit()
        assert post_expired_invitations(session) == 0  # still valid
        time_machine.move_to(clock.now() + timedelta(days=settings.link_days, minutes=1), tick=False)
        assert post_expired_invitations(session) == 2
        assert post_expired_invitations(session) == 0  # nothing twice
    assert (waiting.delivery, waiting.onboarding_state) == (Delivery.POST, "post")
    assert (active.delivery, active.onboarding_state) == (Delivery.PORTAL, "active")  # activated meanwhile
    letters = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "portal_not_activated")).all()
    assert [(m.related_id, len(m.attachments)) for m in letters] == [(waiting.public_id, 1)]
    assert "Zugangslink ist inzwischen abgelaufen" in letters[0].body_html

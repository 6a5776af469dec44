"""Kontakt in the portal (issue #29 item 8, seeds 000 and 004): the customer writes about a contract, his
broker sees it in his worklist and answers from the contract's page, the back office from its list;
everything stays in the customer's Kontakthistorie in time order; an answer reaches him like a new
document. Rights are checked for every object (IDOR)."""

# ruff: noqa: F811 (the `police` fixture is imported)
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from contracts.models import ContactMessage
from core import clock
from core.users import Role
from messaging.models import OutboxMessage
from onboarding.models import PortalAccount
from tests.helpers import cached_hash, csrf_token, login, with_settings
from tests.web.test_onboarding import PASSWORD, _active_customer, activate, police, request_code, sms_code  # noqa: F401

pytestmark = pytest.mark.usefixtures("demo_reference")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def write(
    client, contract, *, subject="kilometerstand", text="Der Kilometerstand ist 45.300, nicht 45.000.", file=None
):
    data = {"csrf_token": csrf_token(client, "/portal/kontakt"), "vertrag": contract.public_id, "thema": subject}
    data["nachricht"] = text
    if file is not None:
        data["datei"] = file
    return client.post("/portal/kontakt", data=data, content_type="multipart/form-data")


def answer(client, message, text="Danke, wir haben den Kilometerstand korrigiert."):
    page = f"/vertraege/{message.contract.public_id}"
    return client.post(
        f"/kontakt/{message.public_id}/antwort", data={"csrf_token": csrf_token(client, page), "antwort": text}
    )


def test_a_message_its_answer_and_the_kontakthistorie_in_time_order(
    outbox_app, police, twilio_server, session, broker, make_user
):
    import io

    contract, customer = _active_customer(outbox_app, police, twilio_server)
    sent = write(customer, contract, file=(io.BytesIO(PNG), "tacho.png"))
    assert sent.status_code == 302
    (message,) = session.scalars(sa.select(ContactMessage)).all()
    assert (message.subject, message.attachment_type, message.attachment_name) == (
        "kilometerstand",
        "image/png",
        "tacho.png",
    )
    staff = outbox_app.test_client()
    assert login(staff, broker.email).status_code == 302
    home = staff.get("/vermittler/").get_data(as_text=True)
    assert "Neue Nachrichten von Kunden (1)" in home
    page = staff.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    assert "Der Kilometerstand ist 45.300" in page
    assert staff.get(f"/kontakt/{message.public_id}/anhang").data == PNG
    assert answer(staff, message).status_code == 302
    assert "Neue Nachrichten von Kunden" not in staff.get("/vermittler/").get_data(as_text=True)  # answered

    documents = customer.get("/portal/dokumente").get_data(as_text=True)
    assert re.search(r'Kontakt <span class="badge">1<span class="visually-hidden"> neue Antworten', documents)
    history = customer.get("/portal/kontakt").get_data(as_text=True)
    first, second = history.index("Der Kilometerstand ist 45.300"), history.index("Danke, wir haben")
    assert first < second  # in time order
    assert '<strong class="badge">Neu</strong>' in history
    assert '<strong class="badge">Neu</strong>' not in customer.get("/portal/kontakt").get_data(as_text=True)
    mail = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.idempotency_key.like("new-documents:%")))
    assert mail is not None  # like a new document: the day's e-mail with a login link, no content
    assert "Kilometerstand" not in (mail.body_text or "")
    # the back office sees only open ones: none now; a second message appears there
    write(customer, contract, subject="rechnung", text="Warum ist die Rechnung höher als im Vorjahr?")
    backoffice = outbox_app.test_client()
    assert login(backoffice, make_user(Role.BACKOFFICE).email).status_code == 302
    listed = backoffice.get("/innendienst/kontakt").get_data(as_text=True)
    assert "Warum ist die Rechnung höher" in listed
    assert "Der Kilometerstand ist 45.300" not in listed
    second = session.scalars(sa.select(ContactMessage).order_by(ContactMessage.id.desc())).first()
    token = csrf_token(backoffice, "/innendienst/kontakt")
    data = {"csrf_token": token, "antwort": "Der Beitrag folgt dem neuen Tarif.", "von": "liste"}
    answered = backoffice.post(f"/kontakt/{second.public_id}/antwort", data=data)
    assert answered.location == "/innendienst/kontakt"  # back to the list it was answered from
    assert "Keine offenen Nachrichten." in backoffice.get("/innendienst/kontakt").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"subject": ""}, "thema", "Bitte wählen Sie ein Thema."),
        ({"text": "  "}, "nachricht", "Bitte schreiben Sie uns Ihr Anliegen"),
        ({"text": "x" * 5001}, "nachricht", "höchstens 5.000 Zeichen"),
    ],
)
def test_bad_input_is_said_at_its_field_and_nothing_is_stored(
    outbox_app, police, twilio_server, session, changes, field, message
):
    contract, customer = _active_customer(outbox_app, police, twilio_server)
    response = write(customer, contract, **changes)
    assert response.status_code == 422
    slot = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert slot is not None
    assert message in slot.group(1)
    assert not session.scalars(sa.select(ContactMessage)).all()


def test_an_attachment_is_checked_by_its_content_not_its_name(outbox_app, police, twilio_server, session):
    import io

    contract, customer = _active_customer(outbox_app, police, twilio_server)
    response = write(customer, contract, file=(io.BytesIO(b"#!/bin/sh\necho hallo\n"), "foto.jpg"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "ist kein Foto (JPEG, PNG, HEIC) und kein PDF" in html
    assert "45.300, nicht 45.000" in html  # the text typed stays
    assert not session.scalars(sa.select(ContactMessage)).all()


def test_nobody_else_sees_reads_or_answers_a_message(
    outbox_app, police, twilio_server, session, make_agency, make_user
):
    """IDOR: another customer, a broker of another agency; and a contract that is not his."""
    import io

    contract, customer = _active_customer(outbox_app, police, twilio_server)
    # another customer of the portal (his own contract, logged in with his password)
    other_contract, _ = police(email="b@example.org", mobile="0151 22222222")
    settings = outbox_app.extensions["onboarding_settings"]
    account = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == "b@example.org"))
    account.password_hash, account.activated_at = cached_hash(PASSWORD), clock.now()
    account.terms_version, account.privacy_version = settings.terms_version, settings.privacy_version
    session.commit()
    other = outbox_app.test_client()
    signed_in = other.post(
        "/portal/anmelden",
        data={"csrf_token": csrf_token(other, "/portal/anmelden"), "kennung": "b@example.org", "passwort": PASSWORD},
    )
    assert signed_in.status_code == 302
    assert write(customer, contract, file=(io.BytesIO(PNG), "tacho.png")).status_code == 302
    message = session.scalar(sa.select(ContactMessage))
    assert other.get(f"/portal/kontakt/{message.public_id}/anhang").status_code == 404
    assert "45.300" not in other.get("/portal/kontakt").get_data(as_text=True)
    refused = write(other, contract)  # the first customer's contract
    assert refused.status_code == 422
    assert "Bitte wählen Sie den Vertrag." in refused.get_data(as_text=True)
    stranger = outbox_app.test_client()
    assert login(stranger, make_user(Role.BROKER, make_agency()).email).status_code == 302
    assert stranger.get(f"/kontakt/{message.public_id}/anhang").status_code == 404
    page = "/vermittler/"  # any page of his for a CSRF token
    answered = stranger.post(
        f"/kontakt/{message.public_id}/antwort", data={"csrf_token": csrf_token(stranger, page), "antwort": "Hallo!"}
    )
    assert answered.status_code == 404
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactMessage)) == 1
    assert other_contract.id != contract.id


def test_a_customer_writes_a_limited_number_of_messages_a_day(outbox_app, police, twilio_server, session):
    with_settings(outbox_app, "onboarding_settings", contact_free_per_day=2)
    contract, customer = _active_customer(outbox_app, police, twilio_server)
    assert [write(customer, contract).status_code for _ in range(3)] == [302, 302, 429]
    assert "Bitte warten Sie 1 Minute" in write(customer, contract).get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactMessage)) == 2

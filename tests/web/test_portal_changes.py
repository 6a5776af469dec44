"""Vertragsdaten ändern by the customer (issue #15, item 5): address and bank account through the
contract change service (a Nachtrag into the portal, a confirmation e-mail, no second "Neue
Dokumente" mail); a new e-mail address only after the link sent to it, a new mobile number only
after the SMS code sent to it; the old address and number are told; each change kept in his folder."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from contracts.models import ContractVersion, Document, DocumentKind
from core import clock, storage
from core.audit import AuditEntry
from messaging import worker
from onboarding.models import ContactChange, PortalAccount
from tests.helpers import csrf_token
from tests.web.test_onboarding import PASSWORD, _active_customer, police  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("demo_reference")


def _today():
    return clock.today()


@pytest.fixture
def running(outbox_app, police, twilio_server, session, smtp_server):  # noqa: F811
    """An active customer whose Kfz contract (Berlin) began 30 days ago; the outbox delivered."""
    contract, client = _active_customer(outbox_app, police, twilio_server)
    contract.start_date = _today() - timedelta(days=30)
    session.commit()
    worker.run(outbox_app, once=True)
    smtp_server.inbox.messages.clear()
    twilio_server.messages.clear()
    return contract, client


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data})


def _pdf_text(app, document: Document) -> str:
    with app.app_context():
        data = storage.load(document.storage_key)
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _mails_to(smtp_server, address):
    return [m for m in smtp_server.inbox.messages if m["To"] == address]


def test_a_move_is_a_nachtrag_in_the_portal_and_one_confirmation_email(outbox_app, running, session, smtp_server):
    contract, client = running
    page = client.get("/portal/daten/anschrift").get_data(as_text=True)
    assert 'value="10115"' in page  # prefilled with his address
    assert '<a href="/portal/daten" aria-current="true">Meine Daten</a>' in page  # its section in the menu
    response = _post(
        client,
        "/portal/daten/anschrift",
        strasse="Leopoldstraße 7",
        plz="80331",
        ort="münchen",
        vertraege=contract.public_id,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    assert contract.customer["street"] == "Leopoldstraße 7"
    assert (contract.customer["plz"], contract.customer["city"]) == ("80331", "München")
    version = session.scalars(
        sa.select(ContractVersion).where(ContractVersion.contract_id == contract.id).order_by(ContractVersion.id)
    ).all()[-1]
    assert version.endorsement_no == 1
    assert version.actor_label == "Kunde (Kunden-Portal)"
    assert version.effective_date == _today()
    nachtrag = session.scalars(
        sa.select(Document).where(Document.contract_id == contract.id, Document.kind == DocumentKind.ENDORSEMENT)
    ).one()
    assert nachtrag.read_at is None  # unread in his portal
    text = _pdf_text(outbox_app, nachtrag)
    assert "Nachtrag Nr. 1" in text
    assert "Leopoldstraße 7" in text
    worker.run(outbox_app, once=True)
    mails = _mails_to(smtp_server, "kunde@example.org")
    assert [m["Subject"] for m in mails] == ["Ihre Änderung ist gespeichert"]  # no "Neue Dokumente" besides
    body = mails[0].get_body(("plain",)).get_content()
    assert "Nachtrag Nr. 1" in body
    assert "Leopoldstraße 7, 80331 München" in body
    assert ("Nachberechnung" in body) or ("Erstattung" in body)  # Munich's Regionalklassen differ from Berlin's
    invoice = session.scalars(
        sa.select(Document)
        .where(Document.contract_id == contract.id, Document.kind == DocumentKind.INVOICE)
        .order_by(Document.id)  # the newest: without an order PostgreSQL may return them in any order
    ).all()[-1]
    assert invoice.title == "Beitragsrechnung Nachtrag Nr. 1"
    listed = client.get("/portal/dokumente").get_data(as_text=True)
    assert "Nachtrag Nr. 1" in listed


def test_bad_input_is_said_at_its_field_and_keeps_what_was_typed(running, session):
    contract, client = running
    wrong_place = _post(
        client,
        "/portal/daten/anschrift",
        strasse="Marienplatz 1",
        plz="80331",
        ort="Berlin",
        vertraege=contract.public_id,
    )
    html = wrong_place.get_data(as_text=True)
    assert wrong_place.status_code == 422
    assert "Der Ort passt nicht zur PLZ 80331 (dort: München)." in html
    assert 'value="Marienplatz 1"' in html
    outside_sepa = _post(
        client,
        "/portal/daten/anschrift",
        strasse="Hauptstraße 1",
        plz="10115",
        ort="Berlin",
        iban="BR1800360305000010009795493C1",
        kontoinhaber="Jürgen Müller-Lüdenscheidt",
        vertraege=contract.public_id,
    )
    assert "Die IBAN gehört zu keinem Land des SEPA-Raums." in outside_sepa.get_data(as_text=True)
    no_mandate = _post(
        client,
        "/portal/daten/anschrift",
        strasse=contract.customer["street"],
        plz="10115",
        ort="Berlin",
        iban="DE02120300000000202051",
        kontoinhaber="Jürgen Müller-Lüdenscheidt",
        vertraege=contract.public_id,
    )
    html = no_mandate.get_data(as_text=True)
    assert "Für die neue Bankverbindung ist ein neues SEPA-Lastschriftmandat nötig." in html
    assert 'value="DE02120300000000202051"' in html
    nothing = _post(
        client,
        "/portal/daten/anschrift",
        strasse=contract.customer["street"],
        plz="10115",
        ort="Berlin",
        vertraege=contract.public_id,
    )
    assert "Sie haben keine Angabe geändert." in nothing.get_data(as_text=True)
    session.expire_all()
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ContractVersion)
            .where(ContractVersion.contract_id == contract.id, ContractVersion.seq > 0)
        )
        == 0
    )  # nothing stored half


def test_a_new_bank_account_with_the_mandate(running, session):
    contract, client = running
    response = _post(
        client,
        "/portal/daten/anschrift",
        strasse=contract.customer["street"],
        plz="10115",
        ort="Berlin",
        iban="DE02 1203 0000 0000 2020 51",
        kontoinhaber="Jürgen Müller-Lüdenscheidt",
        sepa_mandat="y",
        vertraege=contract.public_id,
    )
    assert response.status_code == 302
    session.expire_all()
    assert contract.iban == "DE02120300000000202051"
    assert contract.mandate_reference.startswith("VR")


def test_another_customers_contract_cannot_be_chosen(running, outbox_app, police, twilio_server, session):  # noqa: F811
    _contract, client = running
    other, _ = police(email="andere@example.org", mobile="0151 22222222")
    before = other.version
    response = _post(
        client,
        "/portal/daten/anschrift",
        strasse="Leopoldstraße 7",
        plz="80331",
        ort="München",
        vertraege=other.public_id,
    )
    assert response.status_code == 422
    session.expire_all()
    assert other.customer["street"] != "Leopoldstraße 7"
    assert other.version == before
    assert "Bitte wählen Sie mindestens einen Vertrag aus." in response.get_data(as_text=True)


def _link(smtp_server, address):
    body = _mails_to(smtp_server, address)[-1].get_body(("plain",)).get_content()
    return re.search(r"http://portal\.test(/portal/email-bestaetigen/[\w-]+)", body).group(1)


def test_a_new_email_address_applies_only_after_its_link(outbox_app, running, session, smtp_server):
    contract, client = running
    sent = _post(client, "/portal/daten/email", email="Neu@Example.org")
    assert sent.status_code == 302
    worker.run(outbox_app, once=True)
    link = _link(smtp_server, "neu@example.org")
    customer = session.get(PortalAccount, contract.customer_account_id)
    session.refresh(customer)
    assert customer.email == "kunde@example.org"  # not yet
    stranger = outbox_app.test_client()  # the link works from any device; its GET changes nothing
    page = stranger.get(link)
    assert page.status_code == 200
    assert "neu@example.org" in page.get_data(as_text=True)
    session.refresh(customer)
    assert customer.email == "kunde@example.org"
    confirmed = stranger.post(link, data={"csrf_token": csrf_token(stranger, link)})
    assert confirmed.status_code == 302
    session.expire_all()
    assert customer.email == "neu@example.org"
    assert contract.customer_email == "neu@example.org"
    worker.run(outbox_app, once=True)
    told = _mails_to(smtp_server, "kunde@example.org")
    assert [m["Subject"] for m in told] == ["Ihre E-Mail-Adresse im Kunden-Portal wurde geändert"]
    assert "n•••@example.org" in told[0].get_body(("plain",)).get_content()
    notice = session.scalars(
        sa.select(Document).where(Document.contract_id == contract.id, Document.kind == DocumentKind.NOTICE)
    ).one()
    assert "E-Mail-Adresse" in _pdf_text(outbox_app, notice)
    assert "kunde@example.org" in _pdf_text(outbox_app, notice)
    again = stranger.post(link, data={"csrf_token": csrf_token(stranger, "/portal/anmelden")})
    assert again.status_code == 410
    assert "Dieser Bestätigungslink wurde bereits verwendet." in again.get_data(as_text=True)
    login = outbox_app.test_client()
    response = login.post(
        "/portal/anmelden",
        data={"csrf_token": csrf_token(login, "/portal/anmelden"), "kennung": "neu@example.org", "passwort": PASSWORD},
    )
    assert response.location == "/portal/dokumente", re.findall(
        r"field__error[^>]*>([^<]+)<", response.get_data(as_text=True)
    )
    actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == contract.public_id)).all()
    assert "email_change_requested" in actions
    assert "email_changed" in actions


def test_an_expired_or_replaced_email_link_changes_nothing(outbox_app, running, session, smtp_server, time_machine):
    contract, client = running
    _post(client, "/portal/daten/email", email="erste@example.org")
    worker.run(outbox_app, once=True)
    first = _link(smtp_server, "erste@example.org")
    time_machine.move_to(clock.now() + timedelta(seconds=61))
    _post(client, "/portal/daten/email", email="zweite@example.org")
    worker.run(outbox_app, once=True)
    second = _link(smtp_server, "zweite@example.org")
    other = outbox_app.test_client()
    replaced = other.post(first, data={"csrf_token": csrf_token(other, "/portal/anmelden")})
    assert replaced.status_code == 410
    assert "durch einen neueren ersetzt" in replaced.get_data(as_text=True)
    time_machine.move_to(clock.now() + timedelta(hours=25))
    expired = other.post(second, data={"csrf_token": csrf_token(other, "/portal/anmelden")})
    assert expired.status_code == 410
    assert "Dieser Bestätigungslink ist abgelaufen." in expired.get_data(as_text=True)
    assert other.get("/portal/email-bestaetigen/unbekannt").status_code == 404
    customer = session.get(PortalAccount, contract.customer_account_id)
    session.refresh(customer)
    assert customer.email == "kunde@example.org"


def test_email_change_refuses_bad_taken_and_too_frequent_requests(outbox_app, running, police, session):  # noqa: F811
    _contract, client = running
    bad = _post(client, "/portal/daten/email", email="kein-at-zeichen")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in html
    assert 'value="kein-at-zeichen"' in html
    same = _post(client, "/portal/daten/email", email="KUNDE@example.org")
    assert "Das ist bereits Ihre E-Mail-Adresse im Kunden-Portal." in same.get_data(as_text=True)
    session.add(PortalAccount(email="vergeben@example.org", full_name="Jemand Anders"))
    session.commit()
    taken = _post(client, "/portal/daten/email", email="vergeben@example.org")
    assert "gehört bereits zu einem anderen Zugang" in taken.get_data(as_text=True)
    assert _post(client, "/portal/daten/email", email="neu@example.org").status_code == 302
    too_soon = _post(client, "/portal/daten/email", email="neuer@example.org")
    assert too_soon.status_code == 422
    assert "Bitte warten Sie noch" in too_soon.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactChange)) == 1


def _sms_code(twilio_server, number):
    body = next(m["Body"] for m in reversed(twilio_server.messages) if m["To"] == number)
    return re.search(r"Code für die neue Mobilnummer im Kunden-Portal: (\d{6})\.", body).group(1)


def test_a_new_mobile_number_applies_only_after_its_sms_code(outbox_app, running, session, smtp_server, twilio_server):
    contract, client = running
    bad = _post(client, "/portal/daten/mobil", mobil="089 123456")
    assert "Bitte geben Sie eine deutsche Mobilfunknummer ein" in bad.get_data(as_text=True)
    sent = _post(client, "/portal/daten/mobil", mobil="0160 98765432")
    assert sent.location == "/portal/daten/mobil/code"
    worker.run(outbox_app, once=True)
    code = _sms_code(twilio_server, "+4916098765432")
    wrong = "000000" if code != "000000" else "111111"
    refused = _post(client, "/portal/daten/mobil/code", code=wrong)
    assert refused.status_code == 422
    assert "Der Code ist falsch. Noch 4 Versuche." in refused.get_data(as_text=True)
    session.refresh(contract)
    assert contract.customer_mobile == "+4915112345678"  # not yet
    done = _post(client, "/portal/daten/mobil/code", code=code)
    assert done.location == "/portal/daten"
    session.expire_all()
    assert contract.customer_mobile == "+4916098765432"
    worker.run(outbox_app, once=True)
    assert any(m["To"] == "+4915112345678" and "Mobilnummer" in m["Body"] for m in twilio_server.messages)
    told = _mails_to(smtp_server, "kunde@example.org")
    assert [m["Subject"] for m in told] == ["Ihre Mobilnummer im Kunden-Portal wurde geändert"]
    again = _post(client, "/portal/daten/mobil/code", code=code)
    assert "Es gibt keinen gültigen Bestätigungs-Code" in again.get_data(as_text=True)
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(Document).where(Document.kind == DocumentKind.NOTICE))
        == 1
    )


def test_the_mobile_code_dies_after_five_wrong_entries(outbox_app, running, session, twilio_server):
    contract, client = running
    _post(client, "/portal/daten/mobil", mobil="0160 98765432")
    worker.run(outbox_app, once=True)
    code = _sms_code(twilio_server, "+4916098765432")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        _post(client, "/portal/daten/mobil/code", code=wrong)
    late = _post(client, "/portal/daten/mobil/code", code=code)
    assert "zu oft falsch eingegeben" in late.get_data(as_text=True)
    session.refresh(contract)
    assert contract.customer_mobile == "+4915112345678"


def test_the_data_pages_need_a_customer(outbox_app, broker_client):
    anonymous = outbox_app.test_client()
    for url in (
        "/portal/daten",
        "/portal/daten/anschrift",
        "/portal/daten/email",
        "/portal/daten/mobil",
        "/portal/sicherheit",
        "/portal/sicherheit/einrichten",
    ):
        assert anonymous.get(url).status_code == 302, url

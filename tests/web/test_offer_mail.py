"""Angebot per E-Mail (issue #16, item 6): the offer PDF through the outbox on behalf of the broker
(his name as the sender's, his address as Reply-To), read back from the real SMTP server; a bad
address said at the field with the input kept; recorded on the offer; another agency's offer: 404."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from calculator.models import CustomerRecord, Offer
from core.audit import AuditEntry
from core.users import Role
from messaging import worker
from tests.helpers import csrf_token, login
from tests.web.test_applications import quote

pytestmark = pytest.mark.usefixtures("demo_reference")


@pytest.fixture
def broker_outbox_client(outbox_app, broker):
    client = outbox_app.test_client()
    login(client, broker.email)
    return client


def test_the_offer_goes_out_as_pdf_from_the_broker(outbox_app, broker, broker_outbox_client, smtp_server, session):
    client = broker_outbox_client
    offer_id = quote(client)
    url = f"/angebote/{offer_id}"
    sent = client.post(
        f"{url}/senden",
        data={"csrf_token": csrf_token(client, url), "email": "Kunde@Example.org", "nachricht": "Wie besprochen."},
    )
    assert sent.location == url
    worker.run(outbox_app, once=True)
    (mail,) = [m for m in smtp_server.inbox.messages if m["To"] == "kunde@example.org"]
    assert broker.full_name in mail["From"]
    assert mail["Reply-To"] == broker.email
    assert mail["Subject"] == "Ihr Angebot für Ihre Kfz-Versicherung"  # the product, as the customer names it
    text = mail.get_body(("plain",)).get_content()
    assert "anbei Ihr Angebot für Ihre Kfz-Versicherung: monatlich" in text
    assert "Das Angebot gilt bis " in text
    assert "Wie besprochen." in text
    attachment, *information = list(mail.iter_attachments())
    assert attachment.get_filename().startswith("Angebot-Kfz-")
    # the Vertragsinformationen go with the offer (§ 7 VVG): AKB, IPID, Verbraucherinformationen
    assert [a.get_filename() for a in information] == [
        "Allgemeine-Bedingungen-für-die-Kfz-Versicherung-KFZ-2026-01.pdf",
        "Informationsblatt-zu-Versicherungsprodukten-KFZ-2026-01.pdf",
        "Verbraucherinformationen-KFZ-2026-01.pdf",
    ]
    assert b"%PDF" in information[0].get_content()[:8]
    pdf = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert "Müller-Lüdenscheidt" in pdf
    page = client.get(url).get_data(as_text=True)
    assert "gesendet an kunde@example.org am" in page
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "offer_emailed")).one()
    assert entry.details == {"to": "kunde@example.org"}
    kunde = session.get(CustomerRecord, session.scalar(sa.select(Offer.client_id).where(Offer.public_id == offer_id)))
    assert "per E-Mail an kunde@example.org am" in client.get(f"/kunden/{kunde.public_id}").get_data(as_text=True)


def test_a_bad_address_is_said_at_its_field(broker_client, session):
    offer_id = quote(broker_client)
    url = f"/angebote/{offer_id}"
    refused = broker_client.post(
        f"{url}/senden", data={"csrf_token": csrf_token(broker_client, url), "email": "kunde@", "nachricht": "Hallo"}
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert (
        '<p class="field__error" id="versand-email-error">Bitte geben Sie eine gültige E-Mail-Adresse ein.</p>' in html
    )
    assert 'value="kunde@"' in html
    assert ">Hallo</textarea>" in html
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "offer_emailed"))
        == 0
    )


def test_another_agencys_offer_cannot_be_sent(app, broker_client, make_agency, make_user):
    offer_id = quote(broker_client)
    stranger = app.test_client()
    login(stranger, make_user(Role.BROKER, make_agency("Andere Agentur")).email)
    token = csrf_token(stranger, "/angebote/")
    assert (
        stranger.post(f"/angebote/{offer_id}/senden", data={"csrf_token": token, "email": "x@example.org"}).status_code
        == 404
    )

"""The insurer's brand toward customers (issue #26 item 13): the portal header, e-mails, SMS and letters
name the insurer (BRAND_* settings), not the broker tool "Vermittler-Rechner"; every e-mail about a
contract carries the broker's name and contact."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from messaging.models import OutboxMessage
from tests.web.test_applications import PORTAL, POST, apply, quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def test_the_portal_wears_the_insurers_brand_and_the_staff_pages_the_tools(app, client):
    brand = app.config["BRAND_NAME"]
    portal = client.get("/portal/anmelden").get_data(as_text=True)
    header = portal[portal.index('<header class="site-header">') : portal.index("</header>")]
    assert brand in header
    assert "Kunden-Portal" in header
    assert "Vermittler-Rechner" not in portal
    assert f"– {brand} Kunden-Portal</title>" in portal
    staff = client.get("/anmelden").get_data(as_text=True)
    assert "Vermittler-Rechner</a>" in staff


def test_an_email_about_a_contract_names_the_insurer_and_the_broker(app, broker, broker_client, session):
    apply(broker_client, quote(broker_client), PORTAL)
    mail = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "access_link"))
    brand = app.config["BRAND_NAME"]
    for body in (mail.body_html, mail.body_text):
        assert "Vermittler-Rechner" not in body
        assert app.config["BRAND_SIGNATURE"] in body
        assert f"Ihr Vermittler: {broker.full_name}" in body.replace("<strong>", "").replace("</strong>", "")
        assert broker.email in body
    assert brand in mail.body_html  # the layout's head line


def test_letters_are_sent_in_the_insurers_name(app, broker_client, session, outbox_app):
    apply(broker_client, quote(broker_client), POST)
    letter = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "letter"))
    assert "Sehr geehrter Herr Müller-Lüdenscheidt," in letter.body_html
    assert app.config["BRAND_SIGNATURE"] in letter.body_html
    assert "Vermittler-Rechner" not in letter.body_html

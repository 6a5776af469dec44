"""A customer onboards in Chromium: e-mail from the SMTP server → link → SMS code at the twilio
stand-in → e-mail + code → password → portal with the unread Versicherungsschein → open → read."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core import clock
from messaging import worker
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, csrf_token

pytestmark = pytest.mark.browser


def test_customer_onboarding_journey(page: Page, portal_server, smtp_server, twilio_server):
    app, base = portal_server
    broker = app.test_client()
    broker.post(
        "/anmelden",
        data={
            "csrf_token": csrf_token(broker, "/anmelden"),
            "email": "vermittler@demo.example",
            "password": "Demo-Passwort-1!",
        },
    )
    offer = broker.post(
        "/rechner/kfz/berechnen", data={"csrf_token": csrf_token(broker, "/rechner/kfz/"), **KFZ_ANSWERS}
    ).location.rsplit("/")[-1]
    antrag = f"/angebote/{offer}/antrag"
    broker.post(
        antrag,
        data={
            "csrf_token": csrf_token(broker, antrag),
            "vertragsbeginn": (clock.now() + timedelta(days=7)).strftime("%d.%m.%Y"),
            "kontoinhaber": "Jürgen Müller",
            "iban": "DE89370400440532013000",
            "sepa_mandat": "y",
            **ANTRAG_DECLARATIONS,
            "zustellung": "portal",
            "kunde_email": "juergen@example.org",
            "kunde_mobil": "0151 12345678",
        },
    )
    worker.run(app, once=True)
    evb_mail, mail = smtp_server.inbox.messages  # the eVB-Nummer, then the access link
    assert evb_mail["Subject"].startswith("Ihre eVB-Nummer für die Zulassung")
    link = re.search(r"http://portal\.test(/zugang/[\w-]+)", mail.get_body(("plain",)).get_content()).group(1)

    page.goto(base + link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Zugang zum Kunden-Portal")
    expect(page.locator("#code-status")).to_contain_text("Zugangs-Code per SMS an +49 151 •••• 678 gesendet")
    worker.run(app, once=True)
    (sms,) = twilio_server.messages
    code = re.search(r"(\d{6})", sms["Body"]).group(1)

    page.get_by_label("E-Mail-Adresse").fill("juergen@example.org")
    page.get_by_label("Zugangs-Code").fill(code)
    page.get_by_label("Passwort", exact=True).fill("Kaffee-Tasse-77!")
    page.get_by_label("Passwort wiederholen").fill("Kaffee-Tasse-77!")
    page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    page.get_by_role("button", name="Weiter").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Dokumente")
    row = page.get_by_role("row").filter(has_text="Versicherungsschein")
    expect(row).to_contain_text("Ungelesen")
    href = row.get_by_role("link", name="Versicherungsschein").get_attribute("href")
    opened = page.request.get(base + href)  # the browser's session opens the PDF
    assert opened.ok
    assert opened.headers["content-type"] == "application/pdf"
    page.reload()
    expect(page.get_by_role("row").filter(has_text="Versicherungsschein")).to_contain_text("Gelesen")
    expect(page.get_by_role("row").filter(has_text="Beitragsrechnung")).to_contain_text("Ungelesen")

"""An agency manager switches an existing contract to the portal in Chromium; the customer gets the
link by e-mail (real SMTP server) and the code by letter (read back from the PDF), and activates."""

import io
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from messaging import worker
from messaging.models import OutboxMessage

pytestmark = pytest.mark.browser


def test_manager_switches_a_contract_and_the_customer_activates(page: Page, portal_server, smtp_server):
    app, base = portal_server
    page.goto(base + "/anmelden")
    page.get_by_label("E-Mail-Adresse").fill("agenturleiter@demo.example")
    page.get_by_label("Passwort").fill("Demo-Passwort-1!")
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Bestand").click()
    row = page.get_by_role("row").filter(has_text="BV-4711003")
    expect(row).to_contain_text("Post")
    row.get_by_role("link", name="Vertragsdaten ändern").click()
    page.get_by_label("E-Mail des Kunden").fill("oemer.yilmaz@example.org")
    page.get_by_label("Mobilnummer des Kunden").fill("0151 12345678")
    page.get_by_role("button", name="Auf Kunden-Portal umstellen").click()
    expect(page.get_by_text("Zugangs-Code per Post")).to_be_visible()

    worker.run(app, once=True)
    (mail,) = smtp_server.inbox.messages
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "oemer.yilmaz@example.org"
    assert "per Post" in text
    link = re.search(r"http://portal\.test(/zugang/[\w-]+)", text).group(1)
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        pdf = s.scalar(sa.select(OutboxMessage.pdf).where(OutboxMessage.template == "access_code"))
    letter = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Ömer Yilmaz" in letter
    assert "Ringstraße 8" in letter
    code = re.search(r"Ihr Zugangs-Code: ([A-Z2-9-]{14})", letter).group(1)

    customer = page.context.browser.new_context(base_url=base).new_page()
    customer.goto(link)
    expect(customer.get_by_text("per Post gesendet")).to_be_visible()
    customer.get_by_label("E-Mail-Adresse").fill("oemer.yilmaz@example.org")
    customer.get_by_label("Zugangs-Code").fill(code)
    customer.get_by_label("Passwort", exact=True).fill("Laterne-Mond-9!")
    customer.get_by_label("Passwort wiederholen").fill("Laterne-Mond-9!")
    customer.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    customer.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    customer.get_by_role("button", name="Weiter").click()
    expect(customer.get_by_role("heading", level=1)).to_have_text("Meine Dokumente")
    customer.get_by_role("link", name="Meine Verträge").click()
    expect(customer.get_by_role("cell", name="BV-4711003")).to_be_visible()

    page.goto(base + "/bestand/?q=yilmaz")
    expect(page.get_by_role("row").filter(has_text="BV-4711003")).to_contain_text("aktiviert")

"""A customer registers himself on a phone (390 px, seed 002): the form, the confirmation e-mail at the
real SMTP server, the link (clicked twice), the code letter read back from its PDF in the Postausgang,
the code and his password, his portal — and his contract now delivered there."""

import io
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from contracts.models import Contract, Delivery
from messaging import worker
from messaging.models import OutboxMessage

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"


def test_a_customer_registers_himself_on_his_phone(page: Page, portal_server, smtp_server):
    app, base = portal_server
    page.set_viewport_size(PHONE)
    page.goto(base + "/portal/anmelden")
    page.get_by_role("link", name="Jetzt registrieren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jetzt registrieren")
    _fits(page)
    number = page.get_by_label("Versicherungsschein-Nummer")
    number.fill("BV-4711001")
    page.get_by_label("Ihr Geburtsdatum").fill("12.03.1961")
    page.get_by_label("E-Mail-Adresse", exact=True).fill("helga.brandt@example.org")
    page.get_by_label("E-Mail-Adresse wiederholen").fill("helga.brandt@example.org")
    page.get_by_role("button", name="Jetzt registrieren").click()
    # the consent is missing: said at the fields, nothing typed is lost but the repeated address
    expect(page.get_by_text("Bitte stimmen Sie den Nutzungsbedingungen zu.").first).to_be_visible()
    expect(number).to_have_value("BV-4711001")
    expect(page.get_by_label("Ihr Geburtsdatum")).to_have_value("12.03.1961")
    page.get_by_label("E-Mail-Adresse wiederholen").fill("helga.brandt@example.org")
    page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    page.get_by_role("button", name="Jetzt registrieren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bitte prüfen Sie Ihr E-Mail-Postfach")
    _fits(page)

    worker.run(app, once=True)  # the worker matches the registration and sends the confirmation e-mail
    (mail,) = smtp_server.inbox.messages
    assert mail["To"] == "helga.brandt@example.org"
    link = re.search(r"http://portal\.test(/zugang/[\w-]+)", mail.get_body(("plain",)).get_content()).group(1)
    page.goto(base + link)
    page.get_by_role("button", name="E-Mail-Adresse bestätigen").click()
    expect(page.get_by_text("Vielen Dank – Ihre E-Mail-Adresse ist bestätigt.")).to_be_visible()
    page.goto(base + link)  # the link opened again (seed 002: harmless)
    expect(page.get_by_text("Ihre E-Mail-Adresse ist bestätigt – Ihr Zugangs-Code kommt per Post")).to_be_visible()
    _fits(page)

    worker.run(app, once=True)  # the letter is rendered for the Postausgang
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        letters = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "access_code")).all()
        assert len(letters) == 1
        pdf = letters[0].pdf
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Helga Brandt" in text
    assert "Lindenallee 3" in text
    code = re.search(r"Ihr Zugangs-Code: ([A-Z2-9-]{14})", text).group(1)

    page.get_by_label("E-Mail-Adresse").fill("helga.brandt@example.org")
    page.get_by_label("Zugangs-Code").fill(code)
    page.get_by_label("Passwort", exact=True).fill("Linden-Allee-3!")
    page.get_by_label("Passwort wiederholen").fill("Linden-Allee-3!")
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Dokumente")
    page.goto(base + "/portal/vertraege")
    expect(page.get_by_text("BV-4711001").first).to_be_visible()
    _fits(page)
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711001"))
        assert (contract.delivery, contract.onboarding_state) == (Delivery.PORTAL, "active")


def test_a_double_click_on_the_confirmation_sends_one_letter(page: Page, portal_server, smtp_server):
    app, base = portal_server
    with app.test_client() as client:
        from tests.helpers import post_form

        data = {
            "vertragsnummer": "BV-4711003",
            "geburtsdatum": "05.07.1990",
            "email": "oemer@example.org",
            "email2": "oemer@example.org",
            "nutzungsbedingungen": "y",
            "datenschutz": "y",
        }
        assert post_form(client, "/portal/registrieren", data).status_code == 200
    worker.run(app, once=True)
    link = re.search(
        r"http://portal\.test(/zugang/[\w-]+)", smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    ).group(1)
    page.set_viewport_size(PHONE)
    page.goto(base + link)
    page.get_by_role("button", name="E-Mail-Adresse bestätigen").dblclick()
    page.wait_for_load_state("load")
    expect(page.get_by_text("Ihr Zugangs-Code kommt per Post").first).to_be_visible()
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        count = s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_code"))
    assert count == 1

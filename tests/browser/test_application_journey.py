"""Quote → Antrag → "Online beantragen" → the contract with its documents, in Chromium."""

import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from core import clock
from demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_quote_apply_online_and_see_the_contract_documents(page: Page):
    page.goto("/anmelden")
    page.get_by_label("E-Mail-Adresse").fill("vermittler@demo.example")
    page.get_by_label("Passwort").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()

    page.goto("/rechner/rs/")
    page.get_by_label("Anrede").select_option(label="Frau")
    page.get_by_label("Vorname", exact=True).fill("Änne")
    page.get_by_label("Name", exact=True).fill("Schröder")
    page.get_by_label("Geburtsdatum", exact=True).fill("01.04.1985")
    page.get_by_label("Tätigkeit").select_option(label="öffentlicher Dienst")
    page.get_by_label("Straße/Hausnr.").fill("Gartenweg 5")
    page.get_by_label("PLZ", exact=True).fill("80331")
    page.get_by_label("Mitgliedschaftsbeginn").fill("17.04.2019")
    # the Gefahrfragen have no pre-set answer (§ 19 VVG): answered actively
    page.locator("input[name=vorversicherung][value=keine]").check()
    page.locator("input[name=risikoberuf][value=nein]").check()
    expect(page.locator("#premium")).to_contain_text("Gesamtbeitrag")
    page.get_by_role("button", name="Berechnen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Angebot Rechtsschutz")

    page.get_by_role("link", name="Antrag stellen").click()
    page.get_by_label("Vertragsbeginn").fill((clock.now() + timedelta(days=10)).strftime("%d.%m.%Y"))
    page.get_by_label("Kontoinhaber").fill("Änne Schröder")
    page.get_by_label("IBAN", exact=True).fill("DE89 3704 0044 0532 0130 00")
    page.get_by_label("Ich erteile das SEPA-Lastschriftmandat.").check()
    page.get_by_label("ausschließlich online im Kunden-Portal").check()
    page.get_by_label("E-Mail des Kunden").fill("aenne@example.org")
    page.get_by_label("Mobilnummer des Kunden").fill("0170 1234567")
    expect(page.get_by_role("note", name="Mitteilung nach § 19 Abs. 5 VVG")).to_contain_text("Rücktritt")
    page.get_by_label("Der Kunde hat die Mitteilung nach § 19 Abs. 5 VVG").check()
    # the Beratungsdokumentation: wishes and advice proposed from the quote, the reasons typed
    expect(page.get_by_label("Wünsche und Bedürfnisse des Kunden")).to_have_value(re.compile("Rechtsschutz"))
    page.get_by_label("Gründe für den Rat").fill("Beamtin, Verkehr und Privat gewünscht, niedrige Selbstbeteiligung")
    page.get_by_label("Der Kunde hat die Beratungsdokumentation vor Antragstellung in Textform erhalten.").check()
    expect(page.get_by_role("link", name="Zurück")).to_be_visible()
    page.get_by_role("button", name="Online beantragen").click()

    expect(page.get_by_text("policiert")).to_be_visible()
    page.get_by_role("link", name="Vertrag VR-").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vertrag VR-")
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Vertrag ")
    expect(page.get_by_role("link", name="Versicherungsschein")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Beitragsrechnung").click()
    text = " ".join(PdfReader(io.BytesIO(download.value.path().read_bytes())).pages[0].extract_text().split())
    assert number in text
    assert "Änne Schröder" in text
    assert "Versicherungsteuer 19 %" in text

    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Verträge").click()
    expect(page.get_by_role("link", name=number)).to_be_visible()

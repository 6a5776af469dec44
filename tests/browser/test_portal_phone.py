"""The customer portal on a phone (issue #15, item 1): every portal and onboarding page at 390 px
width without sideways scrolling, touch targets of at least 44 px, the right keyboards and autofill
(the SMS code: number pad and one-time-code; passwords: new/current; e-mail: type email)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from contracts.models import ClaimFile, Contract
from core import clock
from messaging import worker
from tests.browser.test_pages_checked import _login, _quote_and_apply
from tests.helpers import KFZ_ANSWERS

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 4000
# controls a thumb must hit; links inside running text are exempt (WCAG 2.5.8 "inline"); a radio or
# checkbox with its label counts as the row of both (the label toggles it)
TARGETS = (
    "button, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, .main-nav a, .pager a, "
    ".actions a, .choice, .field--checkbox, .select-cell input"
)


def _fits(page: Page, name: str) -> list[str]:
    """Measured once the page has its stylesheet (a new page's text can be found before it applies)."""
    page.wait_for_load_state("load")
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{name}: {width} px wide")
    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height, e.getBoundingClientRect().width])
            .filter(([, h]) => h < 44)""",
        TARGETS,
    )
    problems += [f"{name}: touch target {h:.0f}×{w:.0f} px: {html}" for html, h, w in small]
    return problems


def test_every_portal_page_fits_a_phone(page: Page, portal_server, smtp_server, twilio_server):
    app, base = portal_server
    broker = app.test_client()
    _login(broker, "vermittler@demo.example")
    portal = {"zustellung": "portal", "kunde_email": "k@example.org", "kunde_mobil": "0151 12345678"}
    _quote_and_apply(broker, KFZ_ANSWERS, "kfz", portal)
    worker.run(app, once=True)
    link = re.search(
        r"http://portal\.test(/zugang/[\w-]+)", smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    ).group(1)
    page.set_viewport_size(PHONE)
    problems: list[str] = []

    page.goto(base + link)
    page.wait_for_load_state("networkidle")
    code = page.get_by_label("Zugangs-Code")
    assert code.get_attribute("inputmode") == "numeric"
    assert code.get_attribute("autocomplete") == "one-time-code"
    assert page.get_by_label("E-Mail-Adresse").get_attribute("type") == "email"
    assert page.get_by_label("E-Mail-Adresse").get_attribute("autocomplete") == "email"
    assert page.get_by_label("Passwort", exact=True).get_attribute("autocomplete") == "new-password"
    problems += _fits(page, "access link")
    worker.run(app, once=True)
    sms = re.search(r"(\d{6})", twilio_server.messages[-1]["Body"]).group(1)
    page.get_by_label("E-Mail-Adresse").fill("k@example.org")
    code.fill(sms)
    page.get_by_label("Passwort", exact=True).fill("Kaffee-Tasse-77!")
    page.get_by_label("Passwort wiederholen").fill("Kaffee-Tasse-77!")
    page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_role("heading", name="Meine Dokumente")).to_be_visible()

    for name, path in (
        ("documents", "/portal/dokumente"),
        ("documents-filtered", "/portal/dokumente?datum=31.02.2026&dokument=rechnung"),
        ("contracts", "/portal/vertraege"),
        ("password", "/portal/passwort-aendern"),
    ):
        page.goto(base + path)  # goto waits for "load": the stylesheet is applied
        problems += _fits(page, name)
    page.goto(base + "/portal/vertraege")
    page.get_by_role("link", name=re.compile("Details")).first.click()
    expect(page.get_by_role("heading", name="Ihr Vermittler")).to_be_visible()
    page.wait_for_load_state("load")  # measured with the stylesheet applied
    problems += _fits(page, "contract details")
    page.get_by_role("link", name="Schaden melden").click()
    expect(page.get_by_role("heading", name="Schaden melden")).to_be_visible()
    page.wait_for_load_state("load")
    problems += _fits(page, "claim")
    page.get_by_role("button", name="Schaden melden").click()
    expect(page.get_by_role("heading", name="Bitte prüfen Sie Ihre Eingaben")).to_be_visible()
    page.wait_for_load_state("load")
    problems += _fits(page, "claim with errors")

    # a claim with a photo, as on the phone: the camera's JPEG picked in the file field
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        s.execute(sa.update(Contract).values(start_date=clock.now().date() - timedelta(days=30)))
        s.commit()
    page.get_by_label("Eigenes Fahrzeug selbst beschädigt (z. B. gegen einen Pfosten gefahren)").check()
    page.get_by_label("Schadentag").fill((clock.now() - timedelta(days=1)).strftime("%d.%m.%Y"))
    page.get_by_label("Schadenort").fill("Tiefgarage Stachus, München")
    page.get_by_label("Wie kam es dazu?").fill("Beim Einparken die Säule gestreift.")
    page.locator("input#dateien").set_input_files([{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    page.get_by_role("button", name="Schaden melden").click()
    expect(page.get_by_text(re.compile(r"Ihre Schadennummer: SN-\d{4}-"))).to_be_visible()
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        photo = s.scalars(sa.select(ClaimFile)).one()
        assert (photo.filename, photo.content_type) == ("IMG_0001.jpg", "image/jpeg")

    # Meine Dokumente: a filter, then "Gelesen" for a selection
    page.goto(base + "/portal/dokumente")
    # issue #26 item 12: the documents first — on a phone the first one is on the first screen, the
    # filters wait behind "Filtern"
    first = page.locator("table.documents tbody tr").first.locator("a").first
    expect(first).to_be_in_viewport()
    expect(page.get_by_label("Dokument", exact=True)).to_be_hidden()
    page.get_by_text("Filtern", exact=True).click()
    page.get_by_label("Dokument", exact=True).select_option(label="Schadenmeldung")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.get_by_text("1 Dokument, neueste zuerst.")).to_be_visible()
    page.locator(".select-cell input").first.check()
    page.get_by_role("button", name="Gelesen", exact=True).click()
    expect(page.get_by_text("1 Dokument als gelesen markiert.")).to_be_visible()
    expect(page.get_by_label("Dokument", exact=True)).to_have_value("schadenmeldung")  # the filter kept

    # Vertragsdaten ändern: a move, on the phone
    # (wait for the new page's heading first: wait_for_load_state right after a click may still see
    # the old, loaded page and measure a document that is being replaced)
    page.get_by_role("link", name="Meine Daten").click()
    expect(page.get_by_role("heading", name="Meine Daten", exact=True)).to_be_visible()
    page.wait_for_load_state("load")
    problems += _fits(page, "my data")
    page.get_by_role("link", name="Vertragsdaten ändern").click()
    expect(page.get_by_role("heading", name="Vertragsdaten ändern")).to_be_visible()
    page.wait_for_load_state("load")
    problems += _fits(page, "change address")
    page.get_by_label("Straße/Hausnr.").fill("Invalidenstraße 3")
    page.get_by_label("Neue IBAN").fill("DE02 1203 0000 0000 2020 51")
    page.get_by_role("button", name="Änderung speichern").click()
    expect(
        page.get_by_text("Für die neue Bankverbindung ist ein neues SEPA-Lastschriftmandat nötig.").first
    ).to_be_visible()
    expect(page.get_by_label("Straße/Hausnr.")).to_have_value("Invalidenstraße 3")  # kept
    problems += _fits(page, "change address with errors")
    page.get_by_label("Für die neue Bankverbindung: Ich erteile das SEPA-Lastschriftmandat.").check()
    page.get_by_role("button", name="Änderung speichern").click()
    expect(page.get_by_text(re.compile(r"Ihre Änderung ist gespeichert \(Nachtrag Nr\. 1\)"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("Invalidenstraße 3"))).to_be_visible()
    for name, path in (
        ("change e-mail", "/portal/daten/email"),
        ("change mobile", "/portal/daten/mobil"),
        ("security", "/portal/sicherheit"),
        ("two-factor set-up", "/portal/sicherheit/einrichten"),
    ):
        page.goto(base + path)
        problems += _fits(page, name)
    assert page.get_by_label("Code aus der App").get_attribute("autocomplete") == "one-time-code"
    page.goto(base + "/portal/daten/mobil")
    assert page.get_by_label("Neue Mobilnummer").get_attribute("type") == "tel"

    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_text("Sie wurden abgemeldet.")).to_be_visible()  # before the next goto cuts it off
    for name, path in (("login", "/portal/anmelden"), ("forgot", "/portal/passwort-vergessen")):
        page.goto(base + path)
        problems += _fits(page, name)
    page.goto(base + "/portal/anmelden")
    assert page.get_by_label("Passwort").get_attribute("autocomplete") == "current-password"
    assert not problems, "\n".join(problems)

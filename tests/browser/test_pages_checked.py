"""Every page of every role, in the states a user meets them (with data, with errors), passes
axe-core's WCAG 2.1 A/AA rules in Chromium and the Nu HTML Checker (vnu.jar) on the HTML as served.
htmx's hx-* attributes are the one thing the checker's messages may be about.

And what a person sees (issue #26 items 1–5), at 1280 and at 390 px (layout_checks.js): no word or
date split over two lines, no table cell narrower than its longest word, no sideways scrolling at
390 px; a page loaded with GET and no query shows no field error and no error summary; no raw
technical text (an SMTP reply, a Python exception) outside the back office's details toggles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from calculator.models import CustomerRecord
from contracts.models import Claim, Contract
from core import clock
from messaging import worker
from onboarding.models import PortalAccount
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, RS_ANSWERS, csrf_token, missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VNU = ROOT / ".tools" / "vnu.jar"
LAYOUT_CHECKS = (Path(__file__).parent / "layout_checks.js").read_text(encoding="utf-8")
WIDTHS = (1280, 390)  # laptop and phone
# raw technical text a user must not meet: an SMTP reply, an exception, Python's None (issue #26 item 5)
TECHNICAL = re.compile(
    r"\bSMTP \d{3}\b|\b[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b|Recipient|Traceback|Exception\b|\bError:|\bNone\b"
)
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
HTMX_ATTRIBUTE = re.compile(r"Attribute “hx-[a-z-]+”")
START = (clock.now() + timedelta(days=7)).strftime("%d.%m.%Y")
ANTRAG = {
    "vertragsbeginn": START,
    "kontoinhaber": "Jürgen Müller",
    "iban": "DE89370400440532013000",
    "sepa_mandat": "y",
    **ANTRAG_DECLARATIONS,
}


def _login(client, email: str) -> None:
    response = client.post(
        "/anmelden",
        data={"csrf_token": csrf_token(client, "/anmelden"), "email": email, "password": "Demo-Passwort-1!"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def _quote_and_apply(client, answers, product, delivery) -> tuple[str, str]:
    offer = client.post(
        f"/rechner/{product}/berechnen", data={"csrf_token": csrf_token(client, f"/rechner/{product}/"), **answers}
    ).location.rsplit("/")[-1]
    url = f"/angebote/{offer}/antrag"
    application = client.post(url, data={"csrf_token": csrf_token(client, url), **ANTRAG, **delivery})
    assert application.status_code == 302, application.get_data(as_text=True)
    return offer, application.location


class Checker:
    def __init__(self, page: Page, base: str, out: Path) -> None:
        self.page, self.base, self.out = page, base, out
        self.axe = Axe()
        self.violations: list[str] = []
        self.seen = 0

    def _check(self, name: str, html: str, *, unsubmitted: bool = False) -> None:
        self.seen += 1
        (self.out / f"{self.seen:02d}-{name}.html").write_text(html, encoding="utf-8")
        result = self.axe.run(self.page, options=WCAG)
        for violation in result.response["violations"]:
            targets = [", ".join(n["target"]) for n in violation["nodes"]][:3]
            self.violations.append(f"{name}: {violation['id']} ({violation['help']}) at {targets}")
        self._layout(name)
        if unsubmitted:  # item 3: nobody sent anything, so nothing can be wrong yet
            shown = self.page.evaluate(
                """() => [...document.querySelectorAll('.field__error, .error-summary')]
                   .filter((e) => e.textContent.trim() && e.getClientRects().length)
                   .map((e) => e.textContent.trim().slice(0, 60))"""
            )
            self.violations += [f"{name}: an error on a page nobody submitted: {text!r}" for text in shown]
        # item 5: raw technical text, except inside a <details> (the back office's technical toggle)
        text = self.page.evaluate(
            """() => { const copy = document.body.cloneNode(true);
                       copy.querySelectorAll('details, script, style, template').forEach((e) => e.remove());
                       return copy.innerText; }"""
        )
        self.violations += [f"{name}: technical text {m.group(0)!r}" for m in TECHNICAL.finditer(text)]

    def _layout(self, name: str) -> None:
        """Items 1, 2 and 4 at both widths (the page laid out again, not reloaded)."""
        size = self.page.viewport_size or {"width": 1280, "height": 800}
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": size["height"]})
            findings = self.page.evaluate(LAYOUT_CHECKS)
            self.violations += [f"{name} @{width}px: {finding}" for finding in findings]
        self.page.set_viewport_size(size)

    def visit(self, name: str, path: str, status: int = 200, *, settle: bool = False) -> None:
        """goto waits for "load" (stylesheet applied, deferred scripts such as the charts run);
        settle=True also waits for requests the page starts by itself (htmx hx-trigger="load"),
        which costs half a second of quiet network — only where a page does that."""
        response = self.page.goto(self.base + path)
        assert response is not None
        assert response.status == status, f"{path}: {response.status}"
        if settle:
            self.page.wait_for_load_state("networkidle")
        self._check(name, response.text(), unsubmitted="?" not in path and status == 200)

    def submit(self, name: str, button: str, status: int = 200) -> None:
        """The page a form submit leads to (an error page, a confirmation)."""
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button).first.click()
        response = navigation.value
        assert response is not None
        assert response.status == status, f"{name}: {response.status}"
        self._check(name, response.text())

    def login(self, email: str) -> None:
        self.page.context.clear_cookies()
        self.page.goto(self.base + "/anmelden")
        self.page.get_by_label("E-Mail-Adresse").fill(email)
        self.page.get_by_label("Passwort").fill("Demo-Passwort-1!")
        self.page.get_by_role("button", name="Anmelden").click()


@pytest.fixture
def vnu_jar() -> Path:
    if not VNU.exists() or shutil.which("java") is None:
        missing(f"the Nu HTML Checker ({VNU}) or java")
    return VNU


def test_every_page_passes_axe_and_the_nu_html_checker(
    page: Page, portal_server, smtp_server, twilio_server, vnu_jar, tmp_path
):
    app, base = portal_server
    broker = app.test_client()
    _login(broker, "vermittler@demo.example")
    offer, portal_application = _quote_and_apply(
        broker,
        KFZ_ANSWERS,
        "kfz",
        {"zustellung": "portal", "kunde_email": "k@example.org", "kunde_mobil": "0151 12345678"},
    )
    _quote_and_apply(broker, RS_ANSWERS, "rs", {"zustellung": "post"})
    _, referred = _quote_and_apply(broker, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs", {"zustellung": "post"})
    moved = broker.post(  # the same person at another address: the offer asks which Kunde it is
        "/rechner/kfz/berechnen",
        data={"csrf_token": csrf_token(broker, "/rechner/kfz/"), **KFZ_ANSWERS, "strasse": "Invalidenstraße 3"},
    ).location
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        kunde = s.scalar(sa.select(CustomerRecord.public_id).order_by(CustomerRecord.id))
    delivered = worker.run(app, once=True)  # the link e-mail and the post letter
    assert delivered["retry"] == delivered["failed"] == 0, delivered
    link = re.search(
        r"http://portal\.test(/zugang/[\w-]+)", smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    ).group(1)
    # an invitation the customer's mail server refused, as real servers word it (the worklists show it)
    _quote_and_apply(
        broker,
        {**KFZ_ANSWERS, "vorname": "Erika", "name": "Abgewiesen"},
        "kfz",
        {"zustellung": "portal", "kunde_email": "niemand@example.org", "kunde_mobil": "0151 22334455"},
    )
    smtp_server.inbox.mode = "reject"
    smtp_server.inbox.reject_reply = (
        "550 5.1.1 <niemand@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert worker.run(app, once=True)["failed"] >= 1
    smtp_server.inbox.mode = "ok"
    pages_dir = tmp_path / "pages"
    pages_dir.mkdir()
    check = Checker(page, base, pages_dir)

    # public pages
    for name, path in (("login", "/anmelden"), ("impressum", "/impressum"), ("datenschutz", "/datenschutz")):
        check.visit(name, path)
    check.visit("not-found", "/gibt-es-nicht", status=404)
    check.visit("login-again", "/anmelden")
    check.page.get_by_label("E-Mail-Adresse").fill("x@example.org")
    check.page.get_by_label("Passwort").fill("falsch")
    check.submit("login-error", "Anmelden")

    # broker
    check.login("vermittler@demo.example")
    application_path = portal_application.replace("http://localhost", "")
    contract_links = broker.get(application_path).get_data(as_text=True)
    contract = re.search(r'href="(/vertraege/[\w-]+)"', contract_links).group(1)
    for name, path in (
        ("broker-home", "/vermittler/"),
        ("calculator-start", "/rechner/"),
        ("quote-kfz", "/rechner/kfz/"),
        ("quote-rs", "/rechner/rs/"),
        ("vehicle-search", "/fahrzeuge/suche?q=golf"),
        ("offer", f"/angebote/{offer}"),
        ("offer-edit", f"/angebote/{offer}/bearbeiten"),
        ("offer-variants", f"/angebote/{offer}/varianten"),
        ("clients", "/kunden/?q=M%C3%BCller"),
        ("clients-none", "/kunden/?q=Niemand"),
        ("client", f"/kunden/{kunde}"),
        ("offer-client-choice", moved),
        ("quote-for-client", f"/rechner/rs/?kunde={kunde}"),
        ("offers", "/angebote/"),
        ("applications", "/antraege/"),
        ("application", application_path),
        ("contracts", "/vertraege/"),
        ("contract", contract),
        ("bestand", "/bestand/"),
        ("switch", f"{contract}/zustellweg"),
        ("password-change", "/passwort-aendern"),
    ):
        check.visit(name, path)
    check.visit("offer-again", f"/angebote/{offer}")
    check.page.get_by_label("E-Mail des Kunden").fill("kunde@")
    check.submit("offer-mail-errors", "Per E-Mail senden", status=422)
    check.visit("quote-kfz-empty", "/rechner/kfz/")
    check.submit("quote-kfz-errors", "Berechnen", status=422)
    # a first price with assumptions (live), and "Berechnen" asking to confirm them
    check.visit("quote-kfz-first", "/rechner/kfz/")
    for label, value in (("HSN", "0603"), ("TSN", "BPM"), ("PLZ", "10115"), ("Geburtsdatum", "01.01.1972")):
        check.page.get_by_label(label, exact=True).fill(value)
    check.page.get_by_label("SF-Klasse Haftpflicht").select_option("0")
    check.page.get_by_role("heading", name="Vorläufiger Beitrag").wait_for()
    check.page.wait_for_load_state("networkidle")
    check._check("quote-kfz-assumptions", check.page.content())
    check.submit("quote-kfz-assumed-errors", "Berechnen", status=422)
    # Vertrag ändern and Kündigen: the forms, their errors, and the contract with its history
    check.visit("contract-change", f"{contract}/aenderung")
    check.page.get_by_label("Straße/Hausnr.").fill("")
    check.submit("contract-change-errors", "Änderung speichern", status=422)
    check.page.get_by_label("Straße/Hausnr.").fill("Neue Allee 7")
    check.submit("contract-change-preview", "Änderung prüfen")
    check.submit("contract-with-history", "Änderung speichern")
    check.visit("contract-at-a-date", f"{contract}?stand=01.01.2020")
    check.visit("contract-cancel", f"{contract}/kuendigen")
    check.submit("contract-cancel-errors", "Kündigung erfassen", status=422)
    # the Antrag with what the law wants before it (issue #24): the page and its errors
    fresh = broker.post(
        "/rechner/kfz/berechnen", data={"csrf_token": csrf_token(broker, "/rechner/kfz/"), **KFZ_ANSWERS}
    ).location.rsplit("/")[-1]
    check.visit("antrag", f"/angebote/{fresh}/antrag")
    check.submit("antrag-errors", "Online beantragen", status=422)

    # agency manager
    check.login("agenturleiter@demo.example")
    for name, path in (
        ("manager-home", "/agentur/"),
        ("bulk", "/agentur/umstellung"),
        ("bestand-manager", "/bestand/"),
    ):
        check.visit(name, path)
    check.page.locator("input[name=vertrag]").first.check()
    check.submit("bulk-preview", "Ausgewählte auf Kunden-Portal umstellen")
    # the dashboard (issue #17): charts drawn, tables, an empty period, a wrong one, the click-through
    for name, path in (
        ("figures", "/agentur/kennzahlen"),
        ("figures-sorted", "/agentur/kennzahlen?sortierung=aktiviert&richtung=ab"),
        ("figures-empty-period", "/agentur/kennzahlen?von=2020-01-01&bis=2020-01-31"),
        ("bestand-funnel", f"/bestand/?schritt=versendet&von=2020-01-01&bis={clock.now().date().isoformat()}"),
    ):
        check.visit(name, path)
    check.visit("figures-errors", "/agentur/kennzahlen?von=2026-07-01&bis=2026-06-01", status=422)
    # API-Zugänge (issue #30): the page, its errors, a new client with its secret shown once (the list
    # with it), the client's webhook log; the API's reference page
    check.visit("api-clients", "/agentur/api-zugaenge/")
    check.submit("api-clients-errors", "Zugang anlegen", status=422)
    check.page.get_by_label("Name des Zugangs").fill("Vergleichsrechner Check24-Anbindung")
    check.page.locator("input[value=quotes]").check()
    check.page.locator("input[value='documents:read']").check()
    check.submit("api-client-created", "Zugang anlegen", status=201)
    log = check.page.get_by_role("link", name="Webhooks").first.get_attribute("href")
    assert log is not None
    check.visit("api-webhooks", log)
    check.visit("api-reference", "/api/v1/")

    # back office
    check.login("innendienst@demo.example")
    for name, path in (
        ("backoffice-home", "/innendienst/"),
        ("referrals", "/innendienst/risikopruefung"),
        ("referred-application", referred.replace("http://localhost", "")),
        ("messages", "/innendienst/nachrichten"),
        ("postausgang", "/innendienst/postausgang"),
    ):
        check.visit(name, path)
    check.page.locator("input[name=brief]").first.check()
    check.submit("postausgang-confirm", "Ausgewählte als zur Post gegeben markieren …")
    check.visit("figures-all", "/innendienst/kennzahlen")
    check.visit("renewals", "/innendienst/hauptfaelligkeit")
    check.page.get_by_label("Hauptfälligkeit").fill("31.02.2027")
    check.submit("renewals-errors", "Probelauf starten", status=422)
    check.page.get_by_label("Hauptfälligkeit").fill((clock.now() + timedelta(days=10)).strftime("%d.%m.%Y"))
    check.submit("renewals-preview-started", "Probelauf starten")
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    check.visit("renewals-preview", "/innendienst/hauptfaelligkeit")
    check.submit("renewals-started", "Jetzt durchführen")

    # customer
    check.page.context.clear_cookies()
    check.visit("access-link", link, settle=True)  # it asks for the SMS code by itself
    worker.run(app, once=True)
    code = re.search(r"(\d{6})", twilio_server.messages[-1]["Body"]).group(1)
    check.page.get_by_label("E-Mail-Adresse").fill("k@example.org")
    check.page.get_by_label("Zugangs-Code").fill("000000")
    check.page.get_by_label("Passwort", exact=True).fill("Kaffee-Tasse-77!")
    check.page.get_by_label("Passwort wiederholen").fill("Kaffee-Tasse-77!")
    check.page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    check.page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    check.submit("access-link-wrong-code", "Weiter", status=422)
    check.page.get_by_label("E-Mail-Adresse").fill("k@example.org")
    check.page.get_by_label("Zugangs-Code").fill(code)
    check.page.get_by_label("Passwort", exact=True).fill("Kaffee-Tasse-77!")
    check.page.get_by_label("Passwort wiederholen").fill("Kaffee-Tasse-77!")
    check.page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    check.page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    check.submit("portal-documents-first", "Weiter")
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        own = s.scalar(sa.select(Contract.public_id).where(Contract.customer_email == "k@example.org"))
    for name, path in (
        ("portal-documents", "/portal/dokumente"),
        ("portal-documents-invoices", "/portal/dokumente?ansicht=rechnungen"),
        ("portal-documents-filter-error", "/portal/dokumente?datum=31.02.2026&bis=01.01.2026&name=M"),
        ("portal-contracts", "/portal/vertraege"),
        ("portal-contract", f"/portal/vertraege/{own}"),
        ("portal-password", "/portal/passwort-aendern"),
    ):
        check.visit(name, path)
    # Schaden melden: the form, its errors, and the claim in the back office's list
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        s.execute(
            sa.update(Contract)
            .where(Contract.public_id == own)
            .values(start_date=clock.now().date() - timedelta(days=30))
        )
        s.commit()
    check.visit("portal-claim", f"/portal/vertraege/{own}/schaden")
    check.submit("portal-claim-errors", "Schaden melden", status=422)
    check.page.get_by_label("Unfall mit einem anderen Fahrzeug oder Beteiligten").check()
    check.page.get_by_label("Schadentag").fill((clock.now() - timedelta(days=1)).strftime("%d.%m.%Y"))
    check.page.get_by_label("Schadenort").fill("Marienplatz, München")
    check.page.get_by_label("Wie kam es dazu?").fill("Beim Ausparken ein anderes Auto gestreift.")
    check.submit("portal-claim-reported", "Schaden melden")
    check.visit("portal-claims", "/portal/schaeden")
    # Meine Daten: address change (errors, saved), new e-mail (link page), new mobile (code page)
    check.visit("portal-data", "/portal/daten")
    check.visit("portal-contact", "/portal/kontakt")
    check.submit("portal-contact-errors", "Nachricht senden", status=422)
    check.page.get_by_label("Vertrag").select_option(index=1)
    check.page.get_by_label("Thema").select_option("rechnung")
    check.page.get_by_label("Ihre Nachricht").fill("Warum ist die Rechnung höher als im Vorjahr?")
    check.submit("portal-contact-sent", "Nachricht senden")
    check.visit("portal-consent", "/portal/zustimmung")  # asked after a new version of the texts
    check.submit("portal-consent-errors", "Zustimmen und weiter", status=422)
    check.visit("portal-change-address", "/portal/daten/anschrift")
    check.page.get_by_label("Ort").fill("Hamburg")
    check.submit("portal-change-address-errors", "Änderung speichern", status=422)
    check.page.get_by_label("Ort").fill("Berlin")
    check.page.get_by_label("Straße/Hausnr.").fill("Invalidenstraße 3")
    check.submit("portal-change-address-saved", "Änderung speichern")
    check.visit("portal-change-email", "/portal/daten/email")
    check.submit("portal-change-email-errors", "Bestätigungslink senden", status=422)
    check.page.get_by_label("Neue E-Mail-Adresse").fill("k.neu@example.org")
    check.submit("portal-change-email-sent", "Bestätigungslink senden")
    worker.run(app, once=True)
    confirm = re.search(
        r"http://portal\.test(/portal/email-bestaetigen/[\w-]+)",
        smtp_server.inbox.messages[-1].get_body(("plain",)).get_content(),
    ).group(1)
    check.visit("portal-confirm-email", confirm)
    check.visit("portal-confirm-email-unknown", "/portal/email-bestaetigen/unbekannt", status=404)
    check.visit("portal-change-mobile", "/portal/daten/mobil")
    check.page.get_by_label("Neue Mobilnummer").fill("089 1234567")
    check.submit("portal-change-mobile-errors", "Code per SMS senden", status=422)
    check.page.get_by_label("Neue Mobilnummer").fill("0160 98765432")
    check.submit("portal-confirm-mobile", "Code per SMS senden")
    check.page.get_by_label("Bestätigungs-Code").fill("12")
    check.submit("portal-confirm-mobile-errors", "Mobilnummer bestätigen", status=422)
    # two-factor login: set-up with its QR code, errors, recovery codes, the login's second step
    check.visit("portal-security", "/portal/sicherheit")
    check.visit("portal-totp-setup", "/portal/sicherheit/einrichten")
    check.page.get_by_label("Code aus der App").fill("1")
    check.submit("portal-totp-setup-errors", "Einschalten", status=422)
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        stored = s.scalar(sa.select(PortalAccount.totp_secret).where(PortalAccount.email == "k@example.org"))
        secret = app.extensions["onboarding_settings"].box.decrypt(stored)
    check.page.get_by_label("Code aus der App").fill(pyotp.TOTP(secret).now())
    check.submit("portal-recovery-codes", "Einschalten")
    check.visit("portal-security-on", "/portal/sicherheit")
    check.page.context.clear_cookies()
    check.page.goto(base + "/portal/anmelden")
    check.page.get_by_label("E-Mail-Adresse oder Vertragsnummer").fill("k@example.org")
    check.page.get_by_label("Passwort").fill("Kaffee-Tasse-77!")
    check.submit("portal-second-factor", "Anmelden")
    check.page.get_by_label("Code aus der Authenticator-App").fill("000000")
    check.submit("portal-second-factor-errors", "Anmelden", status=422)
    check.visit("portal-second-factor-recovery", "/portal/anmelden/code?wiederherstellung=1")
    check.page.context.clear_cookies()
    check.visit("link-used", link, status=410)
    check.visit("portal-login", "/portal/anmelden")
    check.visit("portal-forgot", "/portal/passwort-vergessen")
    # self-registration (issue #29): the form, its errors, the answer, the texts, the confirmation page
    check.visit("portal-register", "/portal/registrieren")
    check.page.get_by_label("Versicherungsschein-Nummer").fill("BV 47#11")
    check.page.get_by_label("Ihr Geburtsdatum").fill("01.01.2090")
    check.page.get_by_label("E-Mail-Adresse", exact=True).fill("yilmaz@example.org")
    check.submit("portal-register-errors", "Jetzt registrieren", status=422)
    check.page.get_by_label("Versicherungsschein-Nummer").fill("BV-4711003")
    check.page.get_by_label("Ihr Geburtsdatum").fill("05.07.1990")
    check.page.get_by_label("E-Mail-Adresse wiederholen").fill("yilmaz@example.org")
    check.page.get_by_label("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.").check()
    check.page.get_by_label("Ich habe die Datenschutzhinweise zur Kenntnis genommen.").check()
    check.submit("portal-registered", "Jetzt registrieren")
    check.visit("portal-terms", "/portal/nutzungsbedingungen")
    check.visit("portal-privacy", "/portal/datenschutz")
    worker.run(app, once=True)
    registration = re.search(
        r"http://portal\.test(/zugang/[\w-]+)", smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    ).group(1)
    check.visit("registration-confirm", registration)
    check.submit("registration-confirmed", "E-Mail-Adresse bestätigen")
    check.login("innendienst@demo.example")
    check.visit("claims", "/innendienst/schadenmeldungen")
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        claim = s.scalar(sa.select(Claim.public_id).order_by(Claim.id.desc()).limit(1))
    check.visit("claim", f"/innendienst/schadenmeldungen/{claim}")
    check.submit("claim-errors", "Stand speichern", status=422)
    check.page.get_by_label("reguliert (mit Zahlung)").check()
    check.page.get_by_label("Gezahlter Betrag in €").fill("1.200,00")
    check.submit("claim-paid", "Stand speichern")
    check.visit("contact-open", "/innendienst/kontakt")
    check.submit("contact-answered", "Antwort senden")  # an empty answer: said, back on the contract's page
    check.visit("sf-confirmations", "/innendienst/sf-bestaetigung")
    check.visit("evbs", "/innendienst/evb")
    check.submit("evbs-errors", "Widerrufen", status=422)
    check.visit("two-factor-reset", "/innendienst/zwei-faktor?kennung=k%40example.org")
    check.submit("two-factor-reset-errors", "Zwei-Faktor-Anmeldung zurücksetzen", status=422)

    assert check.seen >= 40
    assert not check.violations, "\n".join(check.violations)
    result = subprocess.run(
        ["java", "-jar", str(vnu_jar), "--errors-only", "--format", "json", str(pages_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout)["messages"]
    problems = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if not HTMX_ATTRIBUTE.search(m["message"])
    ]
    assert not problems, "\n".join(problems)

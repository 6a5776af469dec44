"""Issue #24's journey in Chromium, one Kfz contract over two insurance years, every PDF read back with
its amounts to the cent: the Antrag with what the law wants before it (§§ 7, 19, 61 VVG) for a
contract beginning 01.10., whose first Beitragsrechnung charges the 92 days to 01.01. pro rata; a
paid claim; the renewal with its Rückstufung; a late Vollkasko claim's Nachstufung; a new tariff's
increase with its Beitragsmitteilung (§ 40 VVG); the end after the vehicle's sale with the refund.

The app's clock moves forward between the steps (from 20.09.2027: only forward, or the browser
would find the session cookie expired) — time-machine, the live server runs in this
process; each step logs in again, as the idle timeout ends the session. The customer's claim
reports are made by the claims service (the portal's form has its own journey, test_portal_phone)."""

from __future__ import annotations

import io
import re
import shutil
from datetime import date, datetime, time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from calculator.tariffs import TariffCatalog
from calculator.tariffs.catalog import DEFAULT_DIRECTORY
from contracts import claims
from contracts.models import ClaimKind, Contract, Document
from contracts.settings import current as contract_settings
from core.formatting import TIMEZONE
from messaging import worker
from tests.helpers import KFZ_ANSWERS, use_tariffs

pytestmark = pytest.mark.browser

YEARLY = {**KFZ_ANSWERS, "zahlweise": "jaehrlich"}  # SF 12 / 10 from a prior insurer, paid yearly


def _at(time_machine, day: date) -> None:
    time_machine.move_to(datetime.combine(day, time(9), TIMEZONE), tick=True)


def _login(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/anmelden")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill("Demo-Passwort-1!")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


def _eur(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " €"


def _pdf(page: Page, base: str, app, number: str, title: str) -> str:
    """The document, fetched over HTTP as the logged-in user, as text."""
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        public_id = s.scalar(
            sa.select(Document.public_id)
            .join(Contract, Contract.id == Document.contract_id)
            .where(Contract.number == number, Document.title == title)
            .order_by(Document.id.desc())
            .limit(1)
        )
    assert public_id, title
    response = page.request.get(f"{base}/dokumente/{public_id}")
    assert response.status == 200
    assert response.headers["cache-control"] == "private, no-store"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.body())).pages)
    return text.replace("\xa0", " ")


def _contract(app, number: str) -> Contract:
    with app.app_context(), app.extensions["database"].sessionmaker(expire_on_commit=False) as s:
        found = s.scalar(sa.select(Contract).where(Contract.number == number))
        assert found is not None
        s.expunge(found)
        return found


def _report(app, number: str, kind: ClaimKind, occurred: date, today: date) -> str:
    with app.test_request_context(), app.extensions["database"].sessionmaker() as s:
        contract = s.scalar(sa.select(Contract).where(Contract.number == number))
        claim = claims.report_claim(
            s,
            contract,
            claims.ClaimReport(kind, occurred, "Köln", "Beim Einparken gegen einen Poller gefahren."),
            [],
            limits=claims.UploadLimits(5, 1024 * 1024),
            today=today,
            reporter=contract.customer_email or "Kunde",
            catalog=contract_settings().catalog,
        )
        s.commit()
        return claim.number or ""


def _settle(page: Page, base: str, claim_number: str, amount: str) -> None:
    """The back office in the browser: the claim's page, "reguliert (mit Zahlung)" with the amount."""
    page.goto(base + "/innendienst/schadenmeldungen?alle=1")
    page.get_by_role("link", name=claim_number).click()
    page.get_by_label("reguliert (mit Zahlung)").check()
    page.get_by_label("Gezahlter Betrag in €").fill(amount)
    page.get_by_role("button", name="Stand speichern").click()
    expect(page.get_by_text(f"Schaden {claim_number}: reguliert (mit Zahlung).")).to_be_visible()


def _renew(page: Page, base: str, app, due: date) -> None:
    page.goto(base + "/innendienst/hauptfaelligkeit")
    page.get_by_label("Hauptfälligkeit").fill(due.strftime("%d.%m.%Y"))
    page.get_by_role("button", name="Probelauf starten").click()  # issue #26 item 25: a dry run first
    expect(page.get_by_text(f"Probelauf zum {due:%d.%m.%Y} gestartet")).to_be_visible()
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    page.reload()
    expect(page.get_by_text("Es wurde nichts geändert.")).to_be_visible()
    page.get_by_role("button", name="Jetzt durchführen").click()
    expect(page.get_by_text(f"Verlängerung zum {due:%d.%m.%Y} gestartet")).to_be_visible()
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    expect(page.get_by_text("abgeschlossen").first).to_be_visible(timeout=10_000)


def test_one_kfz_contract_over_two_years_with_every_amount_right(page: Page, portal_server, time_machine, tmp_path):
    app, base = portal_server
    _at(time_machine, date(2027, 9, 20))

    # --- the offer and the Antrag, starting 01.10.2027 ------------------------------------------
    _login(page, base, "vermittler@demo.example")
    page.goto(base + "/rechner/kfz/")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    quoted = page.request.post(base + "/rechner/kfz/berechnen", form={"csrf_token": token, **YEARLY})
    assert quoted.ok, (quoted.status, re.findall(r'class="field__error"[^>]*>([^<]+)<', quoted.text()))
    offer_url = quoted.url
    page.goto(offer_url)
    page.get_by_role("link", name="Antrag stellen").click()
    page.get_by_label("Vertragsbeginn").fill("01.10.2027")
    page.get_by_label("Neuzulassung").check()
    page.get_by_label("Fahrzeug-Identifizierungsnummer (FIN)").fill("WVWZZZ1KZ8W123456")
    page.get_by_label("Kontoinhaber").fill("Jürgen Müller")
    page.get_by_label("IBAN", exact=True).fill("DE89 3704 0044 0532 0130 00")
    page.get_by_label("Ich erteile das SEPA-Lastschriftmandat.").check()
    page.get_by_label("Gründe für den Rat").fill("Neuwertiges Fahrzeug, Kunde will eigene Schäden versichern")
    page.get_by_label("Der Kunde hat die Beratungsdokumentation vor Antragstellung in Textform erhalten.").check()
    page.get_by_label("Der Kunde hat die Mitteilung nach § 19 Abs. 5 VVG").check()
    page.get_by_label("per Post").check()
    page.get_by_role("button", name="Online beantragen").click()
    expect(page.get_by_text("policiert")).to_be_visible()
    page.get_by_role("link", name="Vertrag VR-").click()
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Vertrag ")
    contract = _contract(app, number)
    annual = contract.annual_total
    first = (annual * 92 / Decimal(365)).quantize(Decimal("0.01"))
    invoice = _pdf(page, base, app, number, "Beitragsrechnung")
    assert f"Beitrag vom 01.10.2027 bis 01.01.2028 {_eur(first)}" in invoice
    policy = _pdf(page, base, app, number, "Versicherungsschein")
    assert "erstes Versicherungsjahr vom 01.10.2027 bis 01.01.2028, danach jährlich zum 01.01." in policy
    assert "FIN WVWZZZ1KZ8W123456" in policy
    assert "Widerrufsbelehrung" in policy
    antrag = _pdf(page, base, app, number, "Antrag")
    assert "Mitteilung nach § 19 Abs. 5 VVG" in antrag

    # --- a paid Haftpflicht claim, then the renewal on 20.11.: SF KH down by the KH table --------
    _at(time_machine, date(2027, 10, 20))
    kh_claim = _report(app, number, ClaimKind.KH, date(2027, 10, 18), date(2027, 10, 20))
    _login(page, base, "innendienst@demo.example")
    # the prior insurer confirms SF 12 / 10 (else the worker would set SF 0 after 90 days)
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="SF-Bestätigung").click()
    page.get_by_role("row").filter(has_text=number).get_by_role("button", name="Bestätigen oder berichtigen").click()
    expect(page.get_by_text(f"SF-Klassen zum Vertrag {number} bestätigt.")).to_be_visible()
    _settle(page, base, kh_claim, "1.850,00")
    _at(time_machine, date(2027, 11, 20))
    _login(page, base, "innendienst@demo.example")
    _renew(page, base, app, date(2028, 1, 1))
    renewed = _contract(app, number)
    kh_table = app.extensions["tariffs"].get(renewed.tariff_version).rueckstufung_kh
    assert renewed.risk["sf_kh"] == kh_table[next(k for k in kh_table if k.key == "12")][0].key
    assert renewed.risk["sf_vk"] == "11"  # the Vollkasko was claim-free
    renewal_invoice = _pdf(page, base, app, number, "Beitragsrechnung 2028")
    assert f"Jahresbeitrag bisher {_eur(annual)}" in renewal_invoice
    assert f"Jahresbeitrag neu {_eur(renewed.annual_total)}" in renewal_invoice
    assert "Änderung durch SF-Klasse +" in renewal_invoice

    # --- a Vollkasko claim of 15.12., paid after the renewal: Nachstufung with a Nachberechnung --
    _at(time_machine, date(2027, 12, 18))
    vk_claim = _report(app, number, ClaimKind.VK, date(2027, 12, 15), date(2027, 12, 18))
    _login(page, base, "innendienst@demo.example")
    _settle(page, base, vk_claim, "2.400,00")
    expect(page.get_by_text("Nachstufung: Nachtrag Nr. 1 zum Vertrag.")).to_be_visible()
    restated = _contract(app, number)
    vk_table = app.extensions["tariffs"].get(restated.tariff_version).rueckstufung_vk
    assert restated.risk["sf_vk"] == vk_table[next(k for k in vk_table if k.key == "10")][0].key
    charged = restated.annual_total - renewed.annual_total
    restate_invoice = _pdf(page, base, app, number, "Beitragsrechnung Nachtrag Nr. 1")
    assert f"Nachberechnung vom 01.01.2028 bis 01.01.2029 {_eur(charged)}" in restate_invoice

    # --- a new tariff from 01.01.2029, 15 % dearer in Haftpflicht: the Beitragsmitteilung --------
    source = (DEFAULT_DIRECTORY / "kfz-2026-01.toml").read_text()
    shutil.copytree(DEFAULT_DIRECTORY / "texts", tmp_path / "tariffs" / "texts")
    (tmp_path / "tariffs" / "kfz-2029-01.toml").write_text(
        source.replace('version = "KFZ-2026-01"', 'version = "KFZ-2029-01"')
        .replace("valid_from = 2026-01-01", "valid_from = 2029-01-01")
        .replace('kh = "520.00"', 'kh = "598.00"')
    )
    use_tariffs(app, TariffCatalog.load([DEFAULT_DIRECTORY, tmp_path / "tariffs"]))  # as TARIFF_EXTRA_DIRS does
    _at(time_machine, date(2028, 11, 20))
    _login(page, base, "innendienst@demo.example")
    _renew(page, base, app, date(2029, 1, 1))
    increased = _contract(app, number)
    assert increased.tariff_version == "KFZ-2029-01"
    notice = _pdf(page, base, app, number, "Beitragsmitteilung 2029")
    assert f"Jahresbeitrag bisher {_eur(restated.annual_total)}" in notice
    assert f"Jahresbeitrag ab 01.01.2029 {_eur(increased.annual_total)}" in notice
    tariff_part = re.search(r"Änderung durch Tarif \+([\d.]+,\d\d) €", notice)
    assert tariff_part is not None
    assert "innerhalb eines Monats nach Zugang dieser Mitteilung zum 01.01.2029" in notice

    # --- sold on 10.03.2029: the contract ends that day, the unused premium comes back -----------
    _at(time_machine, date(2029, 3, 15))
    _login(page, base, "vermittler@demo.example")
    page.goto(f"{base}/vertraege/{increased.public_id}/kuendigen")
    page.get_by_label("Fahrzeug verkauft oder abgemeldet", exact=True).check()
    page.get_by_label("Fahrzeug verkauft oder abgemeldet am").fill("10.03.2029")
    page.get_by_role("button", name="Kündigung erfassen").click()
    expect(page.get_by_text("Der Vertrag endet zum 10.03.2029")).to_be_visible()
    expect(page.get_by_text("beendet am 10.03.2029").first).to_be_visible()
    days = (date(2030, 1, 1) - date(2029, 3, 10)).days  # paid yearly to 01.01.2030: 297 days
    refund = (increased.annual_total * days / Decimal(365)).quantize(Decimal("0.01"))
    refund_invoice = _pdf(page, base, app, number, "Beitragsrechnung Nachtrag Nr. 2")
    assert f"Erstattung vom 10.03.2029 bis 01.01.2030 ({days} Tage) {_eur(refund)}" in refund_invoice
    confirmation = _pdf(page, base, app, number, "Kündigungsbestätigung")
    assert "Der Vertrag endet am 10.03.2029" in confirmation

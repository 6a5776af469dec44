"""The contract lifecycle in Chromium: a broker changes a contract on a phone (390 px) and sees the
Nachtrag at once; the back office starts the yearly renewal, watches it finish (htmx polling while
the worker runs) and downloads the report; the post customer's new documents wait in the Postausgang."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from contracts.models import Contract
from core import clock
from core.formatting import TIMEZONE
from messaging import worker
from messaging.models import Kind, OutboxMessage

pytestmark = pytest.mark.browser


def _login(page: Page, base: str, email: str) -> None:
    """Log out the way a user does (clearing cookies races with the responses still arriving, each of
    which refreshes the session cookie), then log in."""
    logout = page.get_by_role("button", name="Abmelden")
    if logout.count():
        logout.click()
        page.wait_for_url("**/anmelden**")
    page.goto(base + "/anmelden")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill("Demo-Passwort-1!")
    page.get_by_role("button", name="Anmelden").click()


def _fits_a_phone(page: Page) -> None:
    """No sideways scrolling at 390 px — measured once the page has its stylesheet: a new page's text
    is there (and found by expect) before its CSS is applied, and unstyled it is wider."""
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_change_on_a_phone_and_the_yearly_renewal(page: Page, portal_server, time_machine):
    app, base = portal_server
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        due = s.scalar(sa.select(Contract.main_due).where(Contract.number == "BV-4711002"))
    if due - clock.today() > timedelta(days=60):
        # the renewal starts at most two months ahead: the app's clock goes forward to six weeks
        # before the demo Kfz contract's Hauptfälligkeit (forward only: the browser's cookies hold)
        time_machine.move_to(datetime.combine(due - timedelta(days=42), time(9), TIMEZONE), tick=True)
    page.set_viewport_size({"width": 390, "height": 844})
    _login(page, base, "vermittler@demo.example")
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Verträge").click()
    page.get_by_role("link", name="BV-4711002").click()
    page.get_by_role("link", name="Vertrag ändern").click()
    # the form first: measured right after the click, the old document may be mid-replacement
    expect(page.get_by_label("Straße/Hausnr.")).to_have_value("Am Markt 12")
    _fits_a_phone(page)
    page.get_by_label("PLZ").fill("80331")
    page.get_by_label("Straße/Hausnr.").fill("Marienplatz 8")
    page.get_by_label("IBAN").fill("DE02 1203 0000 0000 2020 51")
    page.get_by_role("button", name="Änderung speichern").click()
    # a new IBAN needs a new mandate: said next to the field, the typed street stays
    expect(page.locator("#sepa_mandat-error")).to_contain_text("neues SEPA-Lastschriftmandat nötig")
    expect(page.get_by_label("Straße/Hausnr.")).to_have_value("Marienplatz 8")
    page.get_by_label("Ich erteile das SEPA-Lastschriftmandat.").check()
    page.get_by_role("button", name="Änderung prüfen").click()
    preview = page.get_by_role("status").filter(has_text="Vorschau")
    expect(preview).to_contain_text("Marienplatz 8, 80331 München")
    expect(preview).to_contain_text("Noch ist nichts gespeichert.")
    _fits_a_phone(page)
    page.get_by_role("button", name="Änderung speichern").click()
    expect(page.get_by_text("Nachtrag Nr. 1 erstellt")).to_be_visible()
    expect(page.get_by_role("link", name="Nachtrag Nr. 1")).to_be_visible()
    _fits_a_phone(page)

    page.set_viewport_size({"width": 1280, "height": 900})
    _login(page, base, "innendienst@demo.example")
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Hauptfälligkeit").click()
    page.get_by_label("Hauptfälligkeit").fill(due.strftime("%d.%m.%Y"))
    # issue #26 item 25: a Probelauf first; the page, polling, shows its result without a reload
    page.get_by_role("button", name="Probelauf starten").click()
    expect(page.get_by_text(f"Probelauf zum {due:%d.%m.%Y} gestartet")).to_be_visible()
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    expect(page.get_by_text("Es wurde nichts geändert.")).to_be_visible(timeout=10_000)
    expect(page.locator("#renewal-preview")).to_contain_text("Beitrag steigt")
    page.get_by_role("button", name="Jetzt durchführen").click()
    expect(page.get_by_text(f"Verlängerung zum {due:%d.%m.%Y} gestartet")).to_be_visible()
    expect(page.locator("td[data-label=Fortschritt]").first).to_contain_text("0 von")

    worker.run(app, once=True)  # the worker renews (one step per pass) …
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    # … and the page, polling, shows the run finished without a reload
    expect(page.get_by_text("abgeschlossen")).to_be_visible(timeout=10_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="Bericht (CSV)").click()
    report = download.value.path().read_text(encoding="utf-8-sig")
    rows = {r[0]: r for r in csv.reader(io.StringIO(report), delimiter=";")}
    assert rows["BV-4711002"][3] == "verlängert"
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711002"))
        letter = s.scalar(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == Kind.LETTER, OutboxMessage.related_id == contract.public_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        titles = [d.title for d in contract.documents]
    assert titles[-2:] == [f"Versicherungsschein {due.year}", f"Beitragsrechnung {due.year}"]
    assert len(letter.attachments) == 2  # the post customer's letter with both

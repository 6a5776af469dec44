"""The agency manager's Kennzahlen in Chromium (issue #17): both charts drawn by Chart.js under our
CSP (no console error), their data tables, readable at laptop width and at 390 px without sideways
scrolling, a bar of the funnel chart clicked through to the Bestand with exactly its contracts, and
"Erinnerung senden" for the selection there."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from agency import services as agency
from contracts.models import Contract
from core import db
from core.users import User
from demo.seed import DEMO_PASSWORD
from onboarding.settings import current as current_settings

pytestmark = pytest.mark.browser


def _invite_two(app) -> list[str]:
    """The manager switches two of the demo's existing contracts to the portal (links sent today)."""
    with app.app_context():
        s = db.session()
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        numbers = ["BV-4711001", "BV-4711002"]
        for number, email in zip(numbers, ["helga@example.org", "stefan@example.org"], strict=True):
            contract = s.scalar(sa.select(Contract).where(Contract.number == number))
            agency.switch_to_portal(s, manager, contract, email, "0151 23456789", current_settings())
        s.commit()
    return numbers


def _login(page: Page, base: str) -> None:
    page.goto(base + "/anmelden")
    page.get_by_label("E-Mail-Adresse").fill("agenturleiter@demo.example")
    page.get_by_label("Passwort").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Startseite Agenturleiter")


def _charts_drawn(page: Page) -> None:
    expect(page.locator("figure.chart--drawn")).to_have_count(2)
    for canvas in page.locator("canvas[data-chart]").all():
        box = canvas.bounding_box()
        assert box is not None
        assert box["height"] > 150
        assert box["width"] > 200


def test_the_dashboard_at_laptop_and_phone_width(portal_server, page: Page, tmp_path):
    app, base = portal_server
    numbers = _invite_two(app)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 900})
    _login(page, base)
    expect(page.get_by_role("heading", name="Digitalquote")).to_be_visible()  # on the start page already
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Kennzahlen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kennzahlen der Agentur")
    _charts_drawn(page)
    funnel = page.get_by_role("table", name="Onboarding-Trichter")
    expect(funnel.get_by_role("row", name="Link versendet")).to_contain_text("2")
    page.get_by_text("Daten als Tabelle").click()  # the share chart's figures behind the toggle
    expect(page.get_by_role("table", name="Digitalquote je Monat")).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard-laptop.png"), full_page=True)  # to look at when it fails

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _charts_drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)

    # a click on the first bar ("Link versendet") opens the Bestand with exactly those contracts
    point = page.evaluate(
        """() => {
            const canvas = document.getElementById("chart-funnel");
            canvas.scrollIntoView({block: "center"});
            const bar = Chart.getChart(canvas).getDatasetMeta(0).data[0];
            const box = canvas.getBoundingClientRect();
            return {x: box.left + (bar.base + bar.x) / 2, y: box.top + bar.y};
        }"""
    )
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Bestand")
    assert "schritt=versendet" in page.url
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(2)
    for number in numbers:
        expect(page.get_by_role("link", name=number)).to_be_visible()
    for box in page.locator("input[name=vertrag]").all():
        box.check()
    page.get_by_role("button", name="Erinnerung senden").click()
    expect(page.get_by_text("Erinnerung an 2 Kunden versendet")).to_be_visible()
    assert "schritt=versendet" in page.url  # back on the same filtered list
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    assert errors == []

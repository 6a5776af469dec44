"""Headless Chromium against a live server with the demo data (`flask demo seed`)."""

import pytest
from playwright.sync_api import Page, expect

from demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser

JOURNEYS = [
    ("vermittler@demo.example", "/vermittler/", "Startseite Vermittler", "/innendienst/"),
    ("agenturleiter@demo.example", "/agentur/", "Startseite Agenturleiter", "/innendienst/"),
    ("innendienst@demo.example", "/innendienst/", "Startseite Innendienst", "/agentur/"),
]


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.parametrize(("email", "home", "heading", "foreign"), JOURNEYS)
def test_demo_user_logs_in_sees_start_page_and_is_refused_another_role(
    page: Page, base_url: str, console_errors: list[str], email, home, heading, foreign
):
    page.goto("/")
    expect(page).to_have_url(f"{base_url}/anmelden")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()

    expect(page).to_have_url(f"{base_url}{home}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(
        page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Startseite")
    ).to_have_attribute("aria-current", "page")

    assert console_errors == []  # no CSP violation, no script error, no missing resource
    response = page.goto(foreign)
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Zugriff verweigert")

    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_text("Sie wurden abgemeldet.")).to_be_visible()


def test_login_works_by_keyboard_alone_and_errors_take_the_focus(page: Page, base_url: str):
    page.goto("/anmelden")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_focused()
    page.get_by_label("E-Mail-Adresse").focus()
    page.keyboard.type("vermittler@demo.example")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Passwort")).to_be_focused()
    page.keyboard.type("falsch")
    page.keyboard.press("Enter")

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("E-Mail-Adresse oder Passwort ungültig.")
    expect(summary).to_be_focused()
    expect(page.get_by_label("E-Mail-Adresse")).to_have_value("vermittler@demo.example")  # nothing lost

    page.get_by_label("Passwort").focus()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Startseite Vermittler")

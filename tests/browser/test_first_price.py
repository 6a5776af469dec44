"""Broker productivity (issue #16, item 1): the first Kfz price after at most six answers on one
page load, its assumptions marked until confirmed; a reload and the back button keep what was
typed; the Rechtsschutz price after one answer."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_quote_journey import broker_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _count_loads(page: Page) -> list[str]:
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url) if frame == page.main_frame else None)
    return loads


def test_the_first_kfz_price_after_six_answers_and_one_page_load(broker_page: Page):  # noqa: F811
    page = broker_page
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    loads = _count_loads(page)
    page.goto("/rechner/kfz/")
    answers = 0
    page.get_by_label("HSN", exact=True).fill("0603")
    answers += 1
    page.get_by_label("TSN", exact=True).fill("BPM")
    answers += 1
    page.get_by_label("PLZ", exact=True).fill("10115")
    answers += 1
    page.get_by_label("Geburtsdatum").fill("01.01.1972")
    answers += 1
    page.get_by_label("Es besteht oder bestand eine Vorversicherung.").check()
    answers += 1
    page.get_by_label("SF-Klasse Haftpflicht").select_option(label="SF 10")
    answers += 1
    premium = page.locator("#premium")
    expect(premium).to_contain_text("jährlich:")
    expect(premium.get_by_role("heading", name="Vorläufiger Beitrag")).to_be_visible()
    expect(premium).to_contain_text("12.000 km")
    expect(premium).to_contain_text("Alter des Antragstellers")
    assert answers <= 6
    assert len(loads) == 1, loads  # the quote page itself, nothing since
    first = premium.locator(".premium__total strong").inner_text()

    # a reload keeps what was typed, and the price
    page.reload()
    expect(page.get_by_label("HSN", exact=True)).to_have_value("0603")
    expect(page.get_by_label("SF-Klasse Haftpflicht")).to_have_value("10")
    expect(page.get_by_label("Es besteht oder bestand eine Vorversicherung.")).to_be_checked()
    expect(page.get_by_label("Vorversicherer", exact=True)).to_be_visible()  # its block re-rendered
    expect(premium.locator(".premium__total strong")).to_have_text(first)
    # away and back
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Angebote").click()
    page.go_back()
    expect(page.get_by_label("Geburtsdatum")).to_have_value("01.01.1972")
    expect(premium.locator(".premium__total strong")).to_have_text(first)

    # "Annahmen übernehmen": the assumed answers in the form, the price no longer preliminary
    premium.get_by_role("button", name="Annahmen übernehmen").click()
    expect(page.get_by_label("Jährliche Fahrleistung (km)")).to_have_value("12000")
    expect(page.get_by_label("Alter des jüngsten Fahrers")).to_have_value("54")
    expect(premium.get_by_role("heading", name="Beitrag", exact=True)).to_be_visible()
    expect(premium.locator(".premium__total strong")).to_have_text(first)
    assert not errors, errors


def test_the_first_legal_price_after_one_answer(broker_page: Page):  # noqa: F811
    page = broker_page
    page.goto("/rechner/rs/")
    page.get_by_label("Tätigkeit").select_option(label="nichtselbständig")
    expect(page.locator("#premium")).to_contain_text(re.compile(r"jährlich: [\d.,]+\s€"))
    page.reload()  # the draft works for Rechtsschutz too
    expect(page.get_by_label("Tätigkeit")).to_have_value("employed")
    expect(page.locator("#premium")).to_contain_text(re.compile(r"jährlich: [\d.,]+\s€"))

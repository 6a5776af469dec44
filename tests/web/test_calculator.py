"""The calculator over HTTP: live premium (htmx fragment), the full-page fallback, bad input."""

import re
from datetime import date

import pytest

from calculator.forms import PRICING_FIELDS
from calculator.tariffs import (
    Classes,
    DriverCircle,
    KfzCover,
    KfzRisk,
    Parking,
    PaymentFrequency,
    Product,
    SFClass,
    TariffCatalog,
    Usage,
)
from core.formatting import eur
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, csrf_token

pytestmark = pytest.mark.usefixtures("demo_reference")
HX = {"HX-Request": "true"}


def _post(client, url, answers, page="/rechner/kfz/", **kwargs):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **answers}, **kwargs)


def _expected_golf_berlin_total() -> str:
    """The same risk priced directly by the tariff core (demo classes: Golf 16/20/19, Berlin 11/12/8)."""
    tariff = TariffCatalog.load().kfz(date.today())
    risk = KfzRisk(
        KfzCover.KH_VK,
        SFClass("12"),
        SFClass("10"),
        Classes(16, 20, 19),
        Classes(11, 12, 8),
        40,
        DriverCircle.VN_PARTNER,
        12000,
        Usage.PRIVATE,
        Parking.GARAGE,
        150,
        500,
        False,
        PaymentFrequency.MONTHLY,
    )
    return eur(tariff.price(risk).total)


def test_quote_page_has_the_accessible_names_scripts_look_for(broker_client):
    page = broker_client.get("/rechner/kfz/").get_data(as_text=True)
    for label in ("HSN", "TSN", "PLZ", "Geburtsdatum", "Zahlweise"):
        assert re.search(rf'<label class="field__label" for="\w+">{label}</label>', page), label  # exact name
    assert '<a href="/rechner/" aria-current="true">Neues Angebot</a>' in page  # navigation, its section


def test_live_premium_fragment_prices_as_soon_as_the_risk_is_complete(broker_client):
    # the price's answers, and the prior insurance the SF classes stand on
    prior = ("vorversicherung", "vv_versicherer", "vv_gekuendigt_durch", "vv_schaeden")
    answers = {k: KFZ_ANSWERS[k] for k in (*PRICING_FIELDS[Product.KFZ], *prior) if k in KFZ_ANSWERS}
    response = _post(broker_client, "/rechner/kfz/live", {**answers, "_changed": "tsn"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not html.lstrip().startswith("<!doctype")  # a fragment, not a page
    assert f"monatlich: {_expected_golf_berlin_total()}" in html
    assert "inkl. 19% Vers.-Steuer" in html
    assert 'Tarifstand <span class="nowrap">KFZ-2026-01</span>' in html
    # the vehicle block is updated out of band because TSN changed
    assert '<div id="block-vehicle" class="block vehicle-info" aria-live="polite" hx-swap-oob="true">' in html
    assert "VOLKSWAGEN-VW GOLF" in html
    # the changed answer's message slot is shown anew (empty: it is fine) and so are the answers a tariff's
    # refusal lands on; an answer the price does not touch (the name) is left alone (issue #28 item 4)
    assert '<p class="field__error" id="tsn-error" hx-swap-oob="true"></p>' in html
    assert '<p class="field__error" id="rabattschutz-error" hx-swap-oob="true"></p>' in html
    assert 'id="vorname-error"' not in html


def test_live_shows_the_error_of_a_typed_answer_only(broker_client):
    response = _post(
        broker_client, "/rechner/kfz/live", {"geburtsdatum": "31.09.2013", "_changed": "geburtsdatum"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert (
        'id="geburtsdatum-error" hx-swap-oob="true">Den 31.09.2013 gibt es nicht im Kalender. '
        "Bitte prüfen Sie das Datum.</p>"
    ) in html
    # the answers checked against the birth date get their messages anew (empty: not given yet)
    assert '<p class="field__error" id="juengster_fahrer-error" hx-swap-oob="true"></p>' in html
    assert 'id="vorname-error"' not in html  # not touched by the birth date
    assert "Der Beitrag erscheint, sobald" in html


def test_a_number_too_long_for_any_count_is_an_error_at_its_field(broker_client):
    """Found by the fuzz net (issue #25 item 8): 400 nines as Kilometerstand made wtforms' NumberRange
    raise OverflowError — HTTP 500 on the live premium and on Berechnen."""
    nines = "9" * 400
    live = _post(
        broker_client,
        "/rechner/kfz/live",
        {**KFZ_ANSWERS, "kilometerstand": nines, "_changed": "kilometerstand"},
        headers=HX,
    )
    assert live.status_code == 200
    assert 'id="kilometerstand-error" hx-swap-oob="true">Keine gültige, ganze Zahl' in live.get_data(as_text=True)
    full = _post(broker_client, "/rechner/kfz/berechnen", {**KFZ_ANSWERS, "vv_schaeden": nines})
    assert full.status_code == 422
    assert nines in full.get_data(as_text=True)  # what was typed stays in the field


def test_unknown_vehicle_gets_no_price(broker_client):
    answers = {**KFZ_ANSWERS, "hsn": "0603", "tsn": "ZZZ", "_changed": "tsn"}
    html = _post(broker_client, "/rechner/kfz/live", answers, headers=HX).get_data(as_text=True)
    assert "Fahrzeug nicht gefunden – bitte HSN/TSN prüfen" in html
    assert "Gesamtbeitrag" not in html


def test_vehicle_without_typklasse_gets_no_price(broker_client):
    answers = {**KFZ_ANSWERS, "hsn": "0005", "tsn": "AAO", "_changed": "tsn"}
    html = _post(broker_client, "/rechner/kfz/live", answers, headers=HX).get_data(as_text=True)
    assert "Für dieses Fahrzeug können wir derzeit kein Angebot machen" in html
    assert "Gesamtbeitrag" not in html


def test_plz_change_offers_the_places_of_that_plz(broker_client):
    html = _post(broker_client, "/rechner/kfz/live", {"plz": "56357", "_changed": "plz"}, headers=HX).get_data(
        as_text=True
    )
    block = re.search(r'<div id="block-ort" class="block" hx-swap-oob="true">.*?</div>\s*</div>', html, re.S).group(0)
    assert [m for m in re.findall(r">([^<>]+)</option>", block)] == [
        "Bitte wählen",
        "Auel",
        "Berg",
        "Bogel",
        "Holzhausen an der Haide",
    ]
    single = _post(broker_client, "/rechner/kfz/live", {"plz": "10115", "_changed": "plz"}, headers=HX)
    assert re.search(r'<option selected value="\d+">Berlin</option>', single.get_data(as_text=True))


def test_partner_questions_appear_for_couples_only(broker_client):
    paar = _post(
        broker_client,
        "/rechner/rs/live",
        {**RS_ANSWERS, "deckung": "paar", "_changed": "deckung"},
        page="/rechner/rs/",
        headers=HX,
    ).get_data(as_text=True)
    assert "Vorname des Partners" in paar
    assert "Mitversicherter Ehe- bzw. Lebenspartner" in paar
    single = _post(
        broker_client, "/rechner/rs/live", {**RS_ANSWERS, "_changed": "deckung"}, page="/rechner/rs/", headers=HX
    ).get_data(as_text=True)
    assert '<div id="block-partner" class="block" hx-swap-oob="true">' in single
    assert "Vorname des Partners" not in single


def test_bad_input_gets_german_field_errors_and_keeps_what_was_typed(broker_client):
    answers = {**KFZ_ANSWERS, "hsn": "06A3", "plz": "101155", "geburtsdatum": "31.09.2013", "vorname": "Jürgen"}
    response = _post(broker_client, "/rechner/kfz/berechnen", answers)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="hsn-error">Die HSN besteht aus genau 4 Ziffern.</p>' in page
    assert 'id="plz-error">Die PLZ besteht aus genau 5 Ziffern.</p>' in page
    assert 'id="geburtsdatum-error">Den 31.09.2013 gibt es nicht im Kalender. Bitte prüfen Sie das Datum.</p>' in page
    for typed in ('value="06A3"', 'value="101155"', 'value="31.09.2013"', 'value="Jürgen"', 'value="45000"'):
        assert typed in page
    assert '<a href="#hsn">HSN: Die HSN besteht aus genau 4 Ziffern.</a>' in page  # error summary


@pytest.mark.parametrize(("born", "valid"), [("29.02.2012", False), ("29.02.1972", True), ("29.02.2013", False)])
def test_birth_date_is_checked_against_the_real_calendar(broker_client, born, valid):
    html = _post(
        broker_client, "/rechner/kfz/live", {"geburtsdatum": born, "_changed": "geburtsdatum"}, headers=HX
    ).get_data(as_text=True)
    error = re.search(r'id="geburtsdatum-error" hx-swap-oob="true">([^<]*)<', html).group(1)
    if valid:
        assert error == ""
    elif born == "29.02.2013":
        assert error == "Den 29.02.2013 gibt es nicht im Kalender. Bitte prüfen Sie das Datum."
    else:  # a real day, but the applicant would be a child
        assert error == "Der Antragsteller muss mindestens 18 Jahre alt sein."


def test_rabattschutz_refused_with_the_reason_next_to_the_field(broker_client):
    answers = {**KFZ_ANSWERS, "rabattschutz": "y", "juengster_fahrer": "21", "_changed": "rabattschutz"}
    html = _post(broker_client, "/rechner/kfz/live", answers, headers=HX).get_data(as_text=True)
    assert re.search(
        r'id="rabattschutz-error" hx-swap-oob="true">Rabattschutz ist nicht möglich: '
        r"Der jüngste Fahrer muss mindestens 23 Jahre alt sein.</p>",
        html,
    )
    assert "Gesamtbeitrag" not in html


def test_plain_post_without_javascript_gives_the_offer_page(broker_client):
    response = _post(broker_client, "/rechner/kfz/berechnen", KFZ_ANSWERS | {"ort": ""})
    # Berlin has one place: it is chosen without asking
    assert response.status_code == 302
    page = broker_client.get(response.location).get_data(as_text=True)
    assert f'monatlich</th><td class="num"><strong>{_expected_golf_berlin_total()}</strong>' in page.replace(
        '<br><span class="muted">inkl. 19% Vers.-Steuer</span>', ""
    )
    for text in (
        "PDF erstellen",
        "Speichern unter",
        "Neues Angebot",
        "Daten ändern",
        "VOLKSWAGEN-VW GOLF",
        "Jürgen",
        "Tarifstand KFZ-2026-01",
    ):
        assert text in page


def test_rs_quote_shows_the_membership_line_without_tax(broker_client):
    response = _post(broker_client, "/rechner/rs/berechnen", RS_ANSWERS, page="/rechner/rs/")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "Mitgliedsbeitrag Kraftfahrer-Schutz e.V. (ohne Versicherungsteuer)" in page
    assert "Mitgliedschaftsbeginn" in page
    assert "17.04.2019" in page


def test_rs_needs_the_membership_start_when_the_tariff_requires_membership(broker_client):
    answers = {**RS_ANSWERS, "mitgliedschaftsbeginn": ""}
    page = _post(broker_client, "/rechner/rs/berechnen", answers, page="/rechner/rs/").get_data(as_text=True)
    assert 'id="mitgliedschaftsbeginn-error">Bitte geben Sie den Beginn der Mitgliedschaft ein.</p>' in page


def test_risk_profession_still_prices_but_marks_risikopruefung(broker_client):
    response = _post(broker_client, "/rechner/rs/berechnen", {**RS_ANSWERS, "risikoberuf": "ja"}, page="/rechner/rs/")
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "Risikoprüfung erforderlich" in page
    assert "Antragsteller gehört einer Risiko-Berufsgruppe an." in page
    assert "Gesamtbeitrag" in page


def test_vehicle_typeahead_fragment(broker_client):
    html = broker_client.get("/fahrzeuge/suche?q=golf", headers=HX).get_data(as_text=True)
    assert 'data-pick-hsn="0603" data-pick-tsn="BPM"' in html
    # issue #26 item 11: two hits named alike ("VOLKSWAGEN-VW GOLF") are told apart by HSN/TSN
    assert html.count("VOLKSWAGEN-VW GOLF") >= 2
    assert '<span class="muted">HSN 0603 · TSN BPM</span>' in html
    full = broker_client.get("/fahrzeuge/suche?q=golf").get_data(as_text=True)
    assert "<h1>Fahrzeug suchen</h1>" in full  # without JavaScript: a page
    assert '<td data-label="HSN">0603</td>' in full


def test_calculator_is_refused_to_the_back_office(backoffice_client):
    assert backoffice_client.get("/rechner/kfz/").status_code == 403
    assert backoffice_client.get("/angebote/").status_code == 403


def test_unknown_product_is_404(broker_client):
    assert broker_client.get("/rechner/leben/").status_code == 404


def _live(client, answers, changed):
    return _post(client, "/rechner/kfz/live", {**answers, "_changed": changed}, headers=HX).get_data(as_text=True)


def test_switching_the_cover_back_and_forth_keeps_what_the_broker_typed(broker_client):
    vk = {**KFZ_ANSWERS, "sf_vk": "10", "sb_vk": "1000", "rabattschutz": "y"}
    to_tk = _live(broker_client, {**vk, "kfz_deckung": "kh_tk"}, "kfz_deckung")
    # the VK answers are still in the form (hidden), and the price no longer has a Rabattschutz
    assert re.search(
        r'<div hidden>\s*<div class="field[^"]*">\s*<div class="field__head"><label[^>]*for="sf_vk"', to_tk
    )
    assert '<option selected value="10">SF 10</option>' in to_tk
    assert '<option selected value="1000">1.000 €</option>' in to_tk
    assert "Rabattschutz" not in to_tk.split('id="premium"')[1].split("</section>")[0]
    assert "monatlich:" in to_tk  # priced: the ticked Rabattschutz does not apply to Teilkasko
    back = _live(broker_client, {**vk, "kfz_deckung": "kh_vk"}, "kfz_deckung")
    assert '<option selected value="10">SF 10</option>' in back
    assert "monatlich:" in back
    assert "Rabattschutz" in back.split('id="premium"')[1].split("</section>")[0]


def test_without_a_price_the_premium_box_names_the_missing_answers(broker_client):
    html = _live(broker_client, {**KFZ_ANSWERS, "sf_kh": "", "sf_vk": ""}, "sf_kh")
    box = html.split('id="premium"')[1].split("</section>")[0]
    assert "monatlich:" not in box
    assert '<a href="#sf_kh">SF-Klasse Haftpflicht</a>' in box


# what the new quote page sends without being asked (its presets), as the browser does
PRESETS = {
    "vorversicherung": "keine",
    "nutzung": "private",
    "abstellplatz": "street",
    "fahrerkreis": "vn_partner",
    "kfz_deckung": "kh_vk",
    "sb_tk": "150",
    "sb_vk": "500",
    "zahlweise": "jaehrlich",
}
FIRST_PRICE = {
    **PRESETS,
    "hsn": "0603",
    "tsn": "BPM",
    "plz": "10115",
    "geburtsdatum": "01.01.1972",
    "vorversicherung": "ja",  # SF 10 was earned somewhere
    "sf_kh": "10",
}


def test_a_first_kfz_price_after_six_answers_with_its_assumptions_marked(broker_client):
    """Vehicle (HSN, TSN), PLZ, birth date, prior insurance and SF-Klasse KH: a preliminary price; mileage, youngest
    driver and SF-Klasse VK are assumed and listed until the broker confirms them."""
    html = _live(broker_client, FIRST_PRICE, "sf_kh")
    box = html.split('id="premium"')[1].split("</section>")[0]
    assert "Vorläufiger Beitrag" in box
    assert "monatlich:" in box or "jährlich:" in box
    assert '<a href="#fahrleistung">Jährliche Fahrleistung (km)</a>: 12.000 km' in box
    assert "Alter des jüngsten Fahrers</a>: 54 Jahre (Alter des Antragstellers)" in box
    assert '<a href="#sf_vk">SF-Klasse Vollkasko</a>: wie Haftpflicht' in box
    # the same price as with the assumed answers typed in
    typed = {**FIRST_PRICE, "fahrleistung": "12000", "juengster_fahrer": "54", "sf_vk": "10"}
    full = _live(broker_client, typed, "sf_vk").split('id="premium"')[1].split("</section>")[0]
    assert "Vorläufiger Beitrag" not in full
    total = re.compile(r"premium__total.*?<strong>([^<]+)</strong>", re.S)
    assert total.search(box).group(1) == total.search(full).group(1)


def test_an_offer_is_never_made_of_unconfirmed_assumptions(broker_client):
    answers = {**KFZ_ANSWERS, "fahrleistung": "", "juengster_fahrer": "", "sf_vk": ""}
    refused = _post(broker_client, "/rechner/kfz/berechnen", answers)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Angenommen: 12.000 km. Bitte prüfen" in html
    assert 'name="fahrleistung" type="text" value="12000"' in html or 'value="12000"' in html  # filled in
    taken = _post(broker_client, "/rechner/kfz/berechnen", {**answers, "_annahmen": "1"})
    assert taken.status_code == 200  # "Annahmen übernehmen": filled in, shown, nothing stored yet
    assert "Vorläufiger Beitrag" not in taken.get_data(as_text=True)
    confirmed = _post(
        broker_client,
        "/rechner/kfz/berechnen",
        {**answers, "fahrleistung": "12000", "juengster_fahrer": "54", "sf_vk": "10"},
    )
    assert confirmed.status_code == 302


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vorversicherung": "keine", "sf_kh": "10"}, "sf_kh", "setzt eine Vorversicherung voraus"),
        ({"vorversicherung": "keine", "sf_kh": "0", "sf_vk": "M"}, "sf_vk", "setzt eine Vorversicherung voraus"),
        ({"fuehrerschein": "01.06.2022", "sf_kh": "12"}, "sf_kh", "seit dem Führerschein sind es höchstens 4"),
        ({"geburtsdatum": "01.01.2000", "sf_kh": "12"}, "sf_kh", "seit dem 17. Geburtstag sind es höchstens 9"),
        ({"juengster_fahrer": "60"}, "juengster_fahrer", "nicht älter sein als der Antragsteller (54 Jahre)"),
        ({"fahrerkreis": "vn", "juengster_fahrer": "40"}, "juengster_fahrer", "der Antragsteller selbst (54 Jahre)"),
        ({"fuehrerschein": "01.01.1980"}, "fuehrerschein", "frühestens mit 17 Jahren"),
        ({"fuehrerschein": "01.01.2090"}, "fuehrerschein", "liegt in der Zukunft"),
    ],
)
def test_kfz_plausibility_across_answers(broker_client, changes, field, message, monkeypatch):
    import datetime as dt

    from core import clock

    monkeypatch.setattr(clock, "today", lambda: dt.date(2026, 11, 25))  # the ages below, whatever the day
    html = _live(broker_client, {**KFZ_ANSWERS, **changes}, field)
    slot = re.search(rf'<p class="field__error" id="{field}-error"[^>]*>([^<]*)</p>', html)
    assert slot, html
    assert message in slot.group(1)
    assert "monatlich:" not in html.split('id="premium"')[1].split("</section>")[0]


def test_plausible_answers_are_priced(broker_client):
    html = _live(broker_client, {**KFZ_ANSWERS, "fuehrerschein": "01.06.1990", "vorversicherung": "ja"}, "sf_kh")
    assert "monatlich:" in html


def test_the_live_message_slots_are_the_page_s_error_slots(app):
    """quote.html writes the out-of-band slots out rather than calling macros/forms.html's error_slot
    (speed, issue #28 item 4): both give the same markup, also for a message that needs escaping."""
    from jinja2_fragments.flask import render_block

    from calculator.quotes import new_form

    with app.test_request_context():
        form = new_form(Product.KFZ, today=date(2026, 12, 7))
        form.hsn.errors = ["Die HSN <4 Ziffern> & mehr", "zweite"]
        macro = app.jinja_env.get_template("macros/forms.html").module.error_slot(form.hsn, oob=True)
        block = render_block("calculator/quote.html", "oob_error_slots", oob=True, error_fields=[form.hsn])
    assert block.strip() == str(macro).strip()
    assert "&lt;4 Ziffern&gt; &amp; mehr zweite" in block

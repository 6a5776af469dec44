"""Quotes and offers through the API: the same premium and messages as the pages (the same
service, calculator.quotes.evaluate), problems as RFC 9457 documents with pointers."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from calculator import quotes
from calculator.tariffs import Product
from core import clock
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS

pytestmark = pytest.mark.usefixtures("demo_reference")


def _json_answers(answers: dict) -> dict:
    """The pages' answers as an integrator sends them: numbers as numbers, dates as JJJJ-MM-TT."""
    out = {}
    for key, value in answers.items():
        if key in ("vv_schaeden", "kilometerstand", "fahrleistung", "juengster_fahrer"):
            out[key] = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\d\d\.\d\d\.\d{4}", value):
            day, month, year = value.split(".")
            out[key] = f"{year}-{month}-{day}"
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(("product", "answers"), [(Product.KFZ, KFZ_ANSWERS), (Product.RS, RS_ANSWERS)])
def test_an_api_quote_prices_as_the_calculator_page_does(app, session, broker_api, product, answers):
    response = broker_api.post(f"/quotes/{product.value}", {"answers": _json_answers(answers)})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    with app.test_request_context():  # the page's own evaluation of the same answers
        page = quotes.evaluate(
            session, app.extensions["contract_settings"].catalog, product, MultiDict(answers), today=clock.today()
        )
    assert page.premium is not None
    assert body["premium"] == page.premium.to_dict()
    assert body["complete"] is True
    assert body["premium"]["total"] == str(page.premium.total)


def test_a_missing_price_answer_is_a_problem_document_with_german_pointers(broker_api):
    answers = _json_answers(KFZ_ANSWERS)
    answers["plz"] = "99999"
    del answers["sf_kh"]
    response = broker_api.post("/quotes/kfz", {"answers": answers})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    pointers = {e["pointer"]: e["detail"] for e in response.json["errors"]}
    assert "/answers/plz" in pointers
    assert "/answers/sf_kh" in pointers
    assert all(detail and detail[0].isupper() for detail in pointers.values())


def test_unknown_fields_and_wrong_types_are_named_in_german(broker_api):
    response = broker_api.post("/quotes/rs", {"answers": {"plz": 80331, "unbekannt": "x"}})
    assert response.status_code == 422
    pointers = {e["pointer"]: e["detail"] for e in response.json["errors"]}
    assert pointers["/answers/unbekannt"] == "Dieses Feld gibt es nicht."
    assert pointers["/answers/plz"] == "Bitte als Text angeben."


def test_an_assumed_answer_is_priced_but_not_complete(broker_api):
    answers = _json_answers(KFZ_ANSWERS)
    del answers["fahrleistung"]
    response = broker_api.post("/quotes/kfz", {"answers": answers})
    assert response.status_code == 200
    assert response.json["complete"] is False
    assert response.json["assumptions"][0]["field"] == "fahrleistung"
    offer = broker_api.post("/offers", {"product": "kfz", "answers": answers})
    assert offer.status_code == 422
    assert offer.json["errors"][0]["pointer"] == "/answers/fahrleistung"


def test_an_offer_is_stored_named_and_read_back_with_its_pdf(broker_api, session, broker):
    response = broker_api.post("/offers", {"product": "rs", "answers": _json_answers(RS_ANSWERS), "name": "Familie"})
    assert response.status_code == 201, response.get_data(as_text=True)
    offer = response.json
    assert offer["name"] == "Familie"
    assert offer["applicant"] == "Änne Schröder"
    again = broker_api.get(f"/offers/{offer['id']}")
    assert again.json["premium"] == offer["premium"]
    pdf = broker_api.get(f"/offers/{offer['id']}/pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")


def test_vehicle_lookup_by_hsn_and_tsn(broker_api):
    found = broker_api.get("/vehicles/0603/BPM")
    assert found.status_code == 200
    assert found.json["hsn"] == "0603"
    assert broker_api.get("/vehicles/0603/ZZZ").status_code == 404


def test_offer_variants_are_priced_as_the_comparison_page_and_one_is_kept(broker_api, app, session):
    """The page's Angebotsvergleich (calculator.variants.compare): the same prices per column; the
    chosen variant becomes an offer of its own."""
    offer = broker_api.post("/offers", {"product": "kfz", "answers": _json_answers(KFZ_ANSWERS)}).json
    body = {"variants": [{"sb_vk": "1000", "sb_tk": "300"}, {"kfz_deckung": "kh"}], "choose": 2}
    response = broker_api.post(f"/offers/{offer['id']}/variants", body)
    assert response.status_code == 200, response.get_data(as_text=True)
    columns = response.json["columns"]
    assert [c["title"] for c in columns] == ["Angebot", "Variante 1", "Variante 2"]
    assert columns[0]["premium"] == offer["premium"]
    assert columns[1]["premium"]["total"] != offer["premium"]["total"]
    chosen = response.json["chosen_offer"]
    assert chosen["premium"] == columns[2]["premium"]
    assert chosen["id"] != offer["id"]
    wrong = broker_api.post(f"/offers/{offer['id']}/variants", {"variants": [{"kfz_deckung": "xx"}], "choose": 1})
    assert wrong.status_code == 422
    assert wrong.json["errors"][0]["pointer"] == "/variants/0"


def test_dates_are_jjjj_mm_tt_and_the_calendar_is_the_forms_rule(broker_api):
    answers = _json_answers(KFZ_ANSWERS)
    answers["geburtsdatum"] = 19720229  # a number is no date (not seconds since 1970)
    typed = broker_api.post("/quotes/kfz", {"answers": answers})
    assert typed.status_code == 422
    assert {e["pointer"]: e["detail"] for e in typed.json["errors"]} == {
        "/answers/geburtsdatum": "Bitte als Datum JJJJ-MM-TT angeben."
    }
    answers["geburtsdatum"] = "1972-02-30"  # the form's own check, in its words (the price does not
    no_day = broker_api.post("/quotes/kfz", {"answers": answers})  # need it: a message beside the price)
    assert no_day.status_code == 200
    assert no_day.json["complete"] is False
    details = {e["pointer"]: e["detail"] for e in no_day.json["messages"]}
    assert details["/answers/geburtsdatum"] == "Den 30.02.1972 gibt es nicht im Kalender. Bitte prüfen Sie das Datum."

"""The live premium binds and shows only what the changed answer touches (calculator.live, issue #28
item 4); the full path (quotes.evaluate over the whole form, as "Berechnen" runs it) is the reference.

On random answer sets — valid, invalid and empty answers of every field — and a random answer changed:
1. the live premium box (premium, assumptions, missing answers, Risikoprüfung, vehicle) and every
   message and block it shows equal the full path's for the new answers;
2. every message it leaves alone on the page is the one the full path shows for the new answers as for
   the old ones — so a page updated only by live responses shows what the full check would.
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from calculator import live, quotes
from calculator.forms import FORMS
from calculator.quotes import Quote
from calculator.tariffs import (
    Cover,
    DriverCircle,
    KfzCover,
    Occupation,
    Parking,
    PaymentFrequency,
    Product,
    RsDeductible,
    RsModule,
    Usage,
)
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS

pytestmark = pytest.mark.usefixtures("demo_reference")

TODAY = date(2026, 12, 7)
EXAMPLES = int(os.environ.get("LIVE_EXAMPLES", "300"))  # a deeper search: LIVE_EXAMPLES=8000 (80 s)
DATES = ["", "29.02.1972", "01.01.2000", "01.06.2010", "31.09.2013", "1.1.1950", "01.01.2090", "heute"]
SF = ["", "0", "1/2", "M", "S", "4", "10", "12", "35", "x"]


def _values(enum: type, *extra: str) -> list[str]:
    return [e.value for e in enum] + list(extra)


COMMON = {
    "anrede": ["", "herr", "x"],
    "vorname": ["", "Jürgen"],
    "name": ["", "Müller"],
    "geburtsdatum": DATES,
    "strasse": ["", "Hauptstraße 1"],
    "plz": ["", "10115", "56357", "80331", "99999", "1011"],
    "ort": ["", "999999"],  # + the real place ids, below
    "taetigkeit": _values(Occupation, "", "x"),
    "vorversicherung": ["", "ja", "keine"],
    "vv_versicherer": ["", "HUK-COBURG"],
    "vv_vertragsnummer": ["", "123"],
    "vv_gekuendigt_durch": ["", "vn", "versicherer", "ungekuendigt", "x"],
    "vv_schaeden": ["", "0", "3", "x"],
    "zahlweise": _values(PaymentFrequency, "", "x"),
}
KFZ = {
    **COMMON,
    "hsn": ["", "0603", "0005", "9999", "06"],
    "tsn": ["", "BPM", "bpm", "AAO", "ZZZ", "X"],
    "erstzulassung": ["", "01.03.2020", "01.01.2090"],
    "kilometerstand": ["", "45000", "-1"],
    "fahrleistung": ["", "12000", "500", "60000", "99000", "200000"],
    "nutzung": _values(Usage, "", "x"),
    "abstellplatz": _values(Parking, "", "x"),
    "fahrerkreis": _values(DriverCircle, "", "x"),
    "juengster_fahrer": ["", "17", "18", "22", "40", "60", "x"],
    "fuehrerschein": ["", "01.06.1990", "01.06.2022", "01.01.2090", "01.01.1980", "31.02.2000"],
    "kfz_deckung": _values(KfzCover, "", "x"),
    "sf_kh": SF,
    "sf_vk": SF,
    "sb_tk": ["", "0", "150", "300", "500", "7"],
    "sb_vk": ["", "300", "500", "1000"],
    "rabattschutz": ["", "y"],
    "evb": ["", "A1B2C3D", "x"],
}
RS = {
    **COMMON,
    "deckung": _values(Cover, "", "x"),
    "partner_vorname": ["", "Anna"],
    "partner_name": ["", "Schröder"],
    "partner_geburtsdatum": DATES,
    "risikoberuf": ["", "ja", "nein"],
    "risikoberuf_partner": ["", "ja", "nein"],
    "bausteine": [[], ["privat"], ["privat", "verkehr"], ["beruf"], _values(RsModule), ["x"]],
    "selbstbeteiligung": _values(RsDeductible, "", "x"),
    "mitgliedschaftsbeginn": ["", "17.04.2019", "01.01.1800", "x"],
}
ANSWERS = {Product.KFZ: KFZ, Product.RS: RS}
BASE = {
    Product.KFZ: {**KFZ_ANSWERS, "fuehrerschein": "01.06.1990", "rabattschutz": "y"},
    Product.RS: {**RS_ANSWERS, "deckung": "paar", "partner_vorname": "Anna", "partner_name": "Schröder"},
}


@pytest.fixture
def places(session) -> list[str]:
    from calculator import reference

    return [str(p.id) for plz in ("10115", "56357", "80331") for p in reference.places_for(session, plz)]


@st.composite
def _answer_sets(draw: st.DrawFn, product: Product, places: list[str]) -> tuple[dict[str, object], str, object]:
    """A complete, valid quote with a few answers (any of them) replaced by random ones, then one
    answer changed: most sets price, so the tariff's own refusals and the checks across answers come up."""
    fields = {**ANSWERS[product], "ort": ["", "999999", *places]}
    answers: dict[str, object] = dict(BASE[product])
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=5, unique=True)):
        answers[name] = draw(st.sampled_from(fields[name]))
    changed = draw(st.sampled_from(sorted(fields)))
    return answers, changed, draw(st.sampled_from(fields[changed]))


def _formdata(answers: dict[str, object]) -> MultiDict[str, str]:
    data: MultiDict[str, str] = MultiDict()
    for name, value in answers.items():
        for one in value if isinstance(value, list) else [value]:
            data.add(name, one)
    return data


def _given(name: str, formdata: MultiDict[str, str]) -> bool:
    return any(v.strip() for v in formdata.getlist(name))


def _shown(quote: Quote, name: str, formdata: MultiDict[str, str], changed: str) -> list[str]:
    """The message the page shows at an answer after the full check: only for an answer given (or the
    one just changed) and part of the quote."""
    form = quote.form
    if not form.relevant(name) or (name != changed and not _given(name, formdata)):
        return []
    return list(form[name].errors)


def _box(quote: Quote) -> tuple[object, ...]:
    premium = quote.premium
    return (
        None
        if premium is None
        else (premium.total, premium.annual_total, [(x.label, x.amount) for x in premium.lines]),
        quote.assumptions,
        quote.missing,
        quote.referral_reasons,
        quote.vehicle,
        quote.vehicle_message,
    )


def _check(app, session, product: Product, answers, changed: str, new_value: object) -> None:
    catalog = app.extensions["tariffs"]
    before = _formdata(answers)
    after = _formdata({**answers, changed: new_value})
    with app.test_request_context():
        old = quotes.evaluate(session, catalog, product, before, today=TODAY)
        full = quotes.evaluate(session, catalog, product, after, today=TODAY)
        update = live.update(session, catalog, product, after, changed, today=TODAY)
    # 1. what the live response shows is what the full check shows
    assert _box(update.quote) == _box(full)
    rendered = {f.name for f in update.error_fields}
    for name in rendered:
        assert list(update.quote.form[name].errors) == _shown(full, name, after, changed), name
    for block in update.blocks:
        for name in live.BLOCK_FIELDS[block]:
            assert update.quote.form.relevant(name) == full.form.relevant(name), name
            assert list(update.quote.form[name].errors) == _shown(full, name, after, changed), name
            if name == "ort":
                assert update.quote.form.ort.choices == full.form.ort.choices
    # 2. a message it leaves alone stays right
    rendered |= {name for block in update.blocks for name in live.BLOCK_FIELDS[block]}
    for field in full.form:
        if field.name in rendered or field.name == changed:
            continue
        assert _shown(full, field.name, after, changed) == _shown(old, field.name, before, changed), (
            f"the message at {field.name} changed with {changed} but is not shown anew"
        )


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_kfz_live_premium_shows_what_the_full_check_shows(app, session, places, data):
    answers, changed, new_value = data.draw(_answer_sets(Product.KFZ, places))
    _check(app, session, Product.KFZ, answers, changed, new_value)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_rs_live_premium_shows_what_the_full_check_shows(app, session, places, data):
    answers, changed, new_value = data.draw(_answer_sets(Product.RS, places))
    _check(app, session, Product.RS, answers, changed, new_value)


def test_the_live_form_binds_only_what_the_price_and_the_change_need():
    """The point of the live path: a change of the name binds the price's answers and the name only."""
    names = live.needed(Product.KFZ, "vorname")
    assert names is not None
    assert {"vorname", "sf_kh", "geburtsdatum"} <= names
    assert not names & {"name", "strasse", "anrede", "kilometerstand", "erstzulassung", "evb", "vv_versicherer"}
    every = [n for n in dir(FORMS[Product.KFZ]) if hasattr(getattr(FORMS[Product.KFZ], n), "_formfield")]
    assert len(names) < len(every) * 3 // 4
    assert live.needed(Product.KFZ, live.EVERYTHING) is None  # a restored draft: everything
    assert live.needed(Product.KFZ, "no_such_field") is None


def test_a_restored_draft_shows_every_block_and_message(app, session):
    with app.test_request_context():
        update = live.update(
            session, app.extensions["tariffs"], Product.KFZ, _formdata(KFZ_ANSWERS), live.EVERYTHING, today=TODAY
        )
    assert set(update.blocks) == {"ort", "prior", "kfz-cover", "vehicle"}
    assert {f.name for f in update.error_fields} >= {"vorname", "name", "kilometerstand", "evb", "sf_kh"}

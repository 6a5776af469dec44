"""Kunden (issue #16, item 3): one customer record behind offers, Anträge and contracts — created at
the first offer, matched on name + birth date + address, an ambiguous match confirmed by the broker
(never merged silently); the typeahead search by name, birth date, Vertragsnummer and e-mail; the
customer page; "Neues Angebot für diesen Kunden"; an existing customer's access code by letter;
nobody sees another agency's (or another broker's) customers."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from calculator.models import CustomerNameWord, CustomerRecord, Offer
from contracts.models import Claim, ClaimKind, Contract, Document
from core.users import Role
from onboarding.models import CodeChannel, OnboardingStart
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, csrf_token, login
from tests.web.test_applications import PORTAL, apply, quote

pytestmark = pytest.mark.usefixtures("demo_reference")
HX = {"HX-Request": "true"}


def _offer(session, public_id) -> Offer:
    return session.scalar(sa.select(Offer).where(Offer.public_id == public_id))


def test_the_first_offer_makes_the_customer_and_the_next_finds_him(broker_client, session):
    first = _offer(session, quote(broker_client))
    client = session.get(CustomerRecord, first.client_id)
    assert (client.first_name, client.last_name, client.city) == ("Jürgen", "Müller-Lüdenscheidt", "Berlin")
    assert client.search_key == "mueller luedenscheidt juergen"
    second = _offer(session, quote(broker_client, {**KFZ_ANSWERS, "strasse": " Hauptstraße  1 "}))
    assert second.client_id == client.id  # the same person: linked, nothing to confirm
    apply(broker_client, first.public_id, PORTAL)
    page = broker_client.get(f"/kunden/{client.public_id}").get_data(as_text=True)
    assert page.count("/angebote/") >= 2
    contract = session.scalar(sa.select(Contract))
    assert contract.client_id == client.id
    assert contract.number in page
    assert "Link versendet" in page
    session.refresh(client)
    assert client.email == "juergen.mueller@example.org"


def test_an_ambiguous_match_waits_for_the_broker(broker_client, session):
    first = _offer(session, quote(broker_client))
    moved = _offer(session, quote(broker_client, {**KFZ_ANSWERS, "strasse": "Invalidenstraße 3"}))
    assert moved.client_id is None  # the same name and birth date elsewhere: not merged silently
    url = f"/angebote/{moved.public_id}"
    page = broker_client.get(url).get_data(as_text=True)
    assert "Kunde zuordnen" in page
    assert "Hauptstraße 1, 10115 Berlin" in page
    forged = broker_client.post(f"{url}/kunde", data={"csrf_token": csrf_token(broker_client, url), "kunde": "x" * 32})
    assert forged.status_code == 422
    assert "Bitte wählen Sie einen der angezeigten Kunden" in forged.get_data(as_text=True)
    existing = session.get(CustomerRecord, first.client_id)
    chosen = broker_client.post(
        f"{url}/kunde", data={"csrf_token": csrf_token(broker_client, url), "kunde": existing.public_id}
    )
    assert chosen.location == url
    session.expire_all()
    assert moved.client_id == existing.id
    other = _offer(session, quote(broker_client, {**KFZ_ANSWERS, "strasse": "Andere Straße 9"}))
    other_url = f"/angebote/{other.public_id}"
    broker_client.post(f"{other_url}/kunde", data={"csrf_token": csrf_token(broker_client, other_url), "kunde": "neu"})
    session.expire_all()
    assert other.client_id not in (None, existing.id)
    assert session.get(CustomerRecord, other.client_id).city == "Berlin"
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerRecord)) == 2


def _search(client, q):
    html = client.get("/kunden/", query_string={"q": q}, headers=HX).get_data(as_text=True)
    return re.findall(r'<a href="/kunden/[\w-]+">([^<]+)</a>', html)


def test_the_typeahead_finds_by_name_birth_date_contract_number_and_email(broker_client, session):
    offer_id = quote(broker_client)
    quote(broker_client, RS_ANSWERS, "rs")
    apply(broker_client, offer_id, PORTAL)
    contract = session.scalar(sa.select(Contract))
    assert _search(broker_client, "müller-lü") == ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, "Mueller") == ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, "29.02.1972") == ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, contract.number.lower()) == ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, "juergen.mueller@") == ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, "Schmidt") == []
    assert _search(broker_client, "m") == []  # one letter: not yet
    page = broker_client.get("/kunden/?q=Mueller").get_data(as_text=True)  # without JavaScript: the page
    assert "<h1>Kunden</h1>" in page
    assert "Müller-Lüdenscheidt, Jürgen" in page
    wildcard = _search(broker_client, "%")
    assert wildcard == []


def test_a_new_offer_for_the_customer_is_prefilled_and_linked(broker_client, session):
    client = session.get(CustomerRecord, _offer(session, quote(broker_client)).client_id)
    form = broker_client.get(f"/rechner/rs/?kunde={client.public_id}").get_data(as_text=True)
    assert 'value="Müller-Lüdenscheidt"' in form
    assert 'value="29.02.1972"' in form
    assert f'name="_kunde" value="{client.public_id}"' in form
    answers = {**RS_ANSWERS, "_kunde": client.public_id}
    response = broker_client.post(
        "/rechner/rs/berechnen", data={"csrf_token": csrf_token(broker_client, "/rechner/rs/"), **answers}
    )
    new = _offer(session, response.location.rsplit("/", 1)[1])
    assert new.client_id == client.id


def test_an_existing_customer_gets_the_access_code_by_letter(broker_client, session):
    first = quote(broker_client)
    apply(broker_client, first, PORTAL)
    second = quote(broker_client, {**KFZ_ANSWERS, "hsn": "8566", "tsn": "AWR"})
    apply(broker_client, second, {**PORTAL, "kunde_email": "juergen.neu@example.org"})
    channels = session.scalars(sa.select(OnboardingStart.code_channel).order_by(OnboardingStart.id)).all()
    assert channels == [CodeChannel.SMS, CodeChannel.LETTER]


def test_nobody_sees_another_agencys_or_another_brokers_customers(
    app, broker_client, make_agency, make_user, agency, session
):
    client = session.get(CustomerRecord, _offer(session, quote(broker_client)).client_id)
    for outsider in (make_user(Role.BROKER, make_agency("Andere Agentur")), make_user(Role.BROKER, agency)):
        browser = app.test_client()
        login(browser, outsider.email)
        assert browser.get(f"/kunden/{client.public_id}").status_code == 404
        assert _search(browser, "Müller") == []
        assert f"kunde={client.public_id}" not in browser.get(f"/rechner/kfz/?kunde={client.public_id}").get_data(
            as_text=True
        )
        assert "_kunde" not in browser.get(f"/rechner/kfz/?kunde={client.public_id}").get_data(as_text=True)
    manager = app.test_client()
    login(manager, make_user(Role.MANAGER, agency).email)
    assert manager.get(f"/kunden/{client.public_id}").status_code == 200  # his agency's


def test_any_part_of_the_name_finds_the_customer(broker_client, session):
    """Issue #26 item 8: "Lüdenscheidt" finds "Müller-Lüdenscheidt", the first name finds him too —
    by the indexed name parts, not a scan; the scope still holds (another broker finds nobody)."""
    quote(broker_client)
    quote(broker_client, RS_ANSWERS, "rs")
    him = ["Müller-Lüdenscheidt, Jürgen"]
    assert _search(broker_client, "Lüdenscheidt") == him
    assert _search(broker_client, "luedensch") == him
    assert _search(broker_client, "Lüdenscheidt Jü") == him
    assert _search(broker_client, "Jürgen") == him
    assert _search(broker_client, "denscheidt") == []  # a part of a name is found from its beginning
    assert _search(broker_client, "Schröder") == ["Schröder, Änne"]
    client = session.scalar(sa.select(CustomerRecord).where(CustomerRecord.last_name == "Müller-Lüdenscheidt"))
    assert sorted(
        w.word for w in session.scalars(sa.select(CustomerNameWord).where(CustomerNameWord.client_id == client.id))
    ) == [
        "juergen",
        "luedenscheidt juergen",
        "mueller luedenscheidt juergen",
    ]


def test_the_customer_page_shows_contact_portal_state_claims_and_documents(broker_client, session):
    """Issue #26 item 8: e-mail, mobile, address, portal state, contracts, offers, claims and documents
    on one page."""
    offer_id = quote(broker_client)
    apply(broker_client, offer_id, PORTAL)
    contract = session.scalar(sa.select(Contract))
    session.add(
        Claim(
            contract_id=contract.id,
            agency_id=contract.agency_id,
            owner_id=contract.owner_id,
            number="SN-2026-0000042",
            kind=ClaimKind.TK,
            occurred_on=contract.start_date,
            place="Berlin",
            description="Steinschlag in der Frontscheibe",
        )
    )
    session.commit()
    client = session.get(CustomerRecord, contract.client_id)
    page = broker_client.get(f"/kunden/{client.public_id}").get_data(as_text=True)
    assert 'href="mailto:juergen.mueller@example.org"' in page
    assert "0151" in page
    assert 'href="tel:' in page
    assert "Hauptstraße 1, 10115 Berlin" in page
    assert re.search(r"<dt>Kunden-Portal</dt><dd>eingeladen</dd>", page)
    assert "SN-2026-0000042" in page
    assert "Teilkaskoschaden" in page
    documents = session.scalars(sa.select(Document).where(Document.contract_id == contract.id)).all()
    assert documents
    assert all(f"/dokumente/{d.public_id}" in page for d in documents)

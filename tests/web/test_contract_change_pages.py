"""Vertrag ändern, Kündigen and the back office's Hauptfälligkeit page over HTTP: German messages next
to the field with everything typed kept, the optimistic check, the history and the data at a date,
the rights of each role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts import lifecycle
from contracts.models import Contract
from core import clock
from core.formatting import date_de
from messaging import worker
from tests.helpers import csrf_token
from tests.web.test_applications import POST, apply, quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def _contract(broker_client, session) -> Contract:
    apply(broker_client, quote(broker_client), POST)
    contract = session.scalar(sa.select(Contract))
    assert contract is not None
    return contract


def _form(client, url: str) -> dict[str, str]:
    """The change form's fields as the page prefills them."""
    html = client.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([\w]+)"[^>]*value="([^"]*)"', html))
    for name, value in re.findall(r'<select[^>]*name="([\w]+)".*?<option selected value="([^"]*)"', html, re.S):
        fields[name] = value
    return fields


def _effective(contract: Contract) -> str:
    today = clock.today()
    return max(contract.start_date, today).strftime("%d.%m.%Y")


def test_a_change_with_bad_input_keeps_what_was_typed_then_brings_a_nachtrag(broker_client, session):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/aenderung"
    form = _form(broker_client, url)
    assert form["strasse"] == "Hauptstraße 1"
    assert form["hsn"] == "0603"
    assert form["version"] == "1"

    bad = {**form, "wirksam_ab": _effective(contract), "strasse": "Neue Allee 7", "iban": "DE00 1234"}
    response = broker_client.post(url, data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Die IBAN ist ungültig" in html
    assert 'value="Neue Allee 7"' in html  # nothing typed is lost

    good = {**form, "wirksam_ab": _effective(contract), "hsn": "0588", "tsn": "BDP"}
    preview = broker_client.post(url, data={**good, "aktion": "pruefen"})  # "Änderung prüfen"
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Vorschau: Nachtrag ab" in html
    assert "AUDI Q7 (HSN 0588, TSN BDP)" in html
    assert "Nachberechnung bis zur Hauptfälligkeit" in html
    assert 'value="BDP"' in html  # the form as typed, ready to save
    session.expire_all()
    assert session.get(Contract, contract.id).version == 1  # nothing saved by the preview
    assert session.get(Contract, contract.id).documents[-1].title == "Verbraucherinformationen"  # policing's last

    response = broker_client.post(url, data={**good, "aktion": "speichern"})
    assert response.status_code == 302
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "Nachtrag Nr. 1 erstellt" in page
    assert "Vertragsänderung – Nachtrag Nr. 1" in page
    assert "Fahrzeug: VOLKSWAGEN-VW GOLF (HSN 0603, TSN BPM) → AUDI Q7 (HSN 0588, TSN BDP)" in page
    assert ">Nachtrag Nr. 1</a>" in page  # the document, at once on the contract

    # the same form sent again (an old tab): the optimistic check refuses it, the input stays
    stale = broker_client.post(url, data={**good, "strasse": "Altes Tab 1"})
    assert stale.status_code == 422
    assert "inzwischen geändert" in stale.get_data(as_text=True)
    assert 'value="Altes Tab 1"' in stale.get_data(as_text=True)


def test_the_contract_page_shows_its_data_at_a_date(broker_client, session):
    """(The data before a change, day by day, is in the service tests; here the page.)"""
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/aenderung"
    form = _form(broker_client, url)
    effective = contract.start_date  # the contract begins in two weeks: a change from its first day
    data = {**form, "wirksam_ab": effective.strftime("%d.%m.%Y"), "strasse": "Neue Allee 7"}
    assert broker_client.post(url, data=data).status_code == 302

    def at(day: str) -> str:
        page = broker_client.get(f"/vertraege/{contract.public_id}?stand={day}").get_data(as_text=True)
        return page.split("Vertragshistorie")[1].split("<table")[0]

    assert "Neue Allee 7, 10115 Berlin" in at(f"{effective:%d.%m.%Y}")
    assert "Nachtrag Nr. 1" in at(f"{effective:%d.%m.%Y}")
    assert "bestand der Vertrag noch nicht" in at(f"{effective - timedelta(days=1):%d.%m.%Y}")
    assert "Bitte im Format TT.MM.JJJJ" in at("32.13.2026")


def test_a_kuendigung_needs_a_reason_and_then_ends_the_contract(broker_client, session):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/kuendigen"
    page = broker_client.get(url).get_data(as_text=True)
    assert "Fahrzeug verkauft oder abgemeldet" in page  # a Kfz contract
    token = csrf_token(broker_client, url)
    missing = broker_client.post(
        url, data={"csrf_token": token, "version": "1", "bemerkung": "Kunde zieht ins Ausland"}
    )
    assert missing.status_code == 422
    assert "Bitte wählen Sie den Grund der Kündigung." in missing.get_data(as_text=True)
    assert "Kunde zieht ins Ausland" in missing.get_data(as_text=True)
    no_date = broker_client.post(
        url, data={"csrf_token": token, "version": "1", "grund": "wechsel", "eingegangen_am": "", "bemerkung": ""}
    )
    assert no_date.status_code == 422
    assert "Bitte geben Sie an, wann die Kündigung eingegangen ist." in no_date.get_data(as_text=True)
    today = date_de(clock.today())
    done = broker_client.post(
        url, data={"csrf_token": token, "version": "1", "grund": "wechsel", "eingegangen_am": today, "bemerkung": ""}
    )
    assert done.status_code == 302
    session.refresh(contract)
    # zum Ablauf: the next Hauptfälligkeit, or the one after it when the month's notice is missed
    assert contract.ends_on in (contract.main_due, lifecycle.add_year(contract.main_due))
    page = broker_client.get(done.location).get_data(as_text=True)
    assert f"endet am {contract.ends_on:%d.%m.%Y}" in page
    assert ">Kündigungsbestätigung</a>" in page
    assert "Kündigen</a>" not in page  # once is enough


def test_the_hauptfaelligkeit_page_is_the_back_office_s(app, broker_client, backoffice_client, session):
    assert broker_client.get("/innendienst/hauptfaelligkeit").status_code == 403
    url = "/innendienst/hauptfaelligkeit"
    page = backoffice_client.get(url).get_data(as_text=True)
    assert "Noch keine Verlängerung gestartet." in page
    token = csrf_token(backoffice_client, url)
    wrong = backoffice_client.post(url, data={"csrf_token": token, "faellig_am": "31.02.2027"})
    assert wrong.status_code == 422
    assert "Den 31.02.2027 gibt es nicht im Kalender" in wrong.get_data(as_text=True)
    too_early = backoffice_client.post(url, data={"csrf_token": token, "faellig_am": "01.01.2099"})
    assert too_early.status_code == 422
    assert "höchstens 62 Tage" in too_early.get_data(as_text=True)
    due = clock.today() + timedelta(days=10)
    # issue #26 item 25: the renewal only after a finished Probelauf
    direct = backoffice_client.post(url, data={"csrf_token": token, "faellig_am": f"{due:%d.%m.%Y}", "aktion": "start"})
    assert direct.status_code == 422
    assert "Bitte starten Sie zuerst den Probelauf" in direct.get_data(as_text=True)
    probe = backoffice_client.post(url, data={"csrf_token": token, "faellig_am": f"{due:%d.%m.%Y}"})
    assert probe.status_code == 302
    page = backoffice_client.get(url).get_data(as_text=True)
    assert f"Probelauf zum {due:%d.%m.%Y} gestartet" in page
    assert ">Jetzt durchführen<" not in page  # still computing: no button yet
    while worker.run(app, once=True) != {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}:
        pass
    page = backoffice_client.get(url).get_data(as_text=True)
    assert "Es wurde nichts geändert." in page
    assert ">Jetzt durchführen<" in page
    started = backoffice_client.post(
        url, data={"csrf_token": token, "faellig_am": f"{due:%d.%m.%Y}", "aktion": "start"}
    )
    assert started.status_code == 302
    page = backoffice_client.get(url).get_data(as_text=True)
    assert f"Verlängerung zum {due:%d.%m.%Y} gestartet" in page
    report = re.search(r'href="(/innendienst/hauptfaelligkeit/[\w-]+/bericht\.csv)"', page).group(1)
    response = backoffice_client.get(report)
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).lstrip("\ufeff").startswith("Vertragsnummer;Versicherungsnehmer")
    assert broker_client.get(report).status_code == 403


def test_an_imported_contract_without_iban_changes_its_address_without_one(broker_client, broker, manager, session):
    """Found walking the page: imported contracts may come without a bank account; the change form
    demanded an IBAN before any address change."""
    from tests.helpers import demo_stock

    contract = demo_stock(session, broker, manager)["BV-4711001"]
    assert contract.iban is None
    url = f"/vertraege/{contract.public_id}/aenderung"
    form = _form(broker_client, url)
    assert form["iban"] == ""
    response = broker_client.post(url, data={**form, "strasse": "Domplatz 1", "aktion": "speichern"})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.refresh(contract)
    assert (contract.customer["street"], contract.iban) == ("Domplatz 1", None)
    (version,) = [v for v in contract.versions if v.seq == 1]
    assert [c["label"] for c in version.changes] == ["Anschrift"]  # no phantom "Kontoinhaber"


def test_a_first_bank_account_shows_leer_as_the_old_value_in_the_history(broker_client, broker, manager, session):
    """Issue #26 item 19: the history read "Bankverbindung: , IBAN →" for a contract without an account."""
    from tests.helpers import demo_stock

    contract = demo_stock(session, broker, manager)["BV-4711001"]
    url = f"/vertraege/{contract.public_id}/aenderung"
    form = _form(broker_client, url)
    data = {**form, "kontoinhaber": "Helga Brandt", "iban": "DE89370400440532013000", "sepa_mandat": "y"}
    response = broker_client.post(url, data={**data, "aktion": "speichern"})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = broker_client.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    assert "Bankverbindung: (leer) → Helga Brandt, IBAN" in page
    assert ", IBAN  →" not in page


def test_a_sale_asks_its_date_at_the_field_and_ends_the_contract_on_it(broker_client, session):
    """Issue #24 item 3 over HTTP: "Fahrzeug verkauft oder abgemeldet" with a date before the start
    gets its German message beside the field, everything typed kept; a right date ends the contract
    on that day and the flash names the refund."""
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/kuendigen"
    token = csrf_token(broker_client, url)
    before = date_de(contract.start_date - timedelta(days=1))
    wrong = broker_client.post(
        url,
        data={
            "csrf_token": token,
            "version": "1",
            "grund": "fahrzeug",
            "verkauft_am": before,
            "bemerkung": "an Händler",
        },
    )
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert re.search(r'id="verkauft_am-error">Das Datum kann nicht vor dem Vertragsbeginn', page)
    assert f'value="{before}"' in page
    assert "an Händler" in page
    session.refresh(contract)
    assert contract.ends_on is None
    sold = date_de(contract.start_date + timedelta(days=10))
    done = broker_client.post(
        url, data={"csrf_token": token, "version": "1", "grund": "fahrzeug", "verkauft_am": sold, "bemerkung": ""}
    )
    assert done.status_code == 302
    session.refresh(contract)
    assert date_de(contract.ends_on) == sold
    page = broker_client.get(done.location).get_data(as_text=True)
    assert "Erstattung:" in page
    assert f"endet am {sold}" in page


def test_a_kuendigung_is_withdrawn_from_the_contract_page_and_only_by_who_may_see_it(
    app, broker_client, session, make_user, make_agency
):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/kuendigen"
    token = csrf_token(broker_client, url)
    today = date_de(clock.today())
    broker_client.post(
        url, data={"csrf_token": token, "version": "1", "grund": "kunde", "eingegangen_am": today, "bemerkung": ""}
    )
    session.refresh(contract)
    assert contract.ends_on is not None
    page = broker_client.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    assert "Kündigung zurücknehmen" in page
    withdraw = f"/vertraege/{contract.public_id}/kuendigung-zuruecknehmen"

    from core.users import Role
    from tests.helpers import login

    other = app.test_client()
    login(other, make_user(Role.MANAGER, make_agency("Nord")).email)
    refused = other.post(withdraw, data={"csrf_token": csrf_token(other, "/vertraege/"), "version": "2"})
    assert refused.status_code == 404
    session.refresh(contract)
    assert contract.ends_on is not None

    done = broker_client.post(withdraw, data={"csrf_token": token, "version": str(contract.version)})
    assert done.status_code == 302
    session.refresh(contract)
    assert contract.ends_on is None
    page = broker_client.get(done.location).get_data(as_text=True)
    assert "Kündigung zurückgenommen: Der Vertrag läuft weiter (Nachtrag Nr. 2)." in page
    assert "Kündigen</a>" in page

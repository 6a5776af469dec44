"""The dashboard's pages (issue #17): the manager's start page and Kennzahlen with charts and their
tables, click-through into the Bestand and "Erinnerung senden" for a selection, CSV exports, the
back office's view across agencies with the outbox's health, bad periods, and who may see what."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import sqlalchemy as sa

from contracts.models import Contract
from messaging.models import OutboxMessage, State
from onboarding.models import AccessLink
from tests.helpers import csrf_token

JUNE_ARGS = "von=2026-06-01&bis=2026-06-30"


def _cell(html: str, label: str) -> str:
    """The count cell of a funnel row (the `th` with the step's label)."""
    row = html.split(f'<th scope="row" data-label="Schritt">{label}</th>')[1].split("</tr>")[0]
    return re.search(r'data-label="Verträge">(.*?)</td>', row, re.S).group(1)


def test_the_manager_sees_his_figures_with_charts_and_tables(agency_data, manager_client):
    html = manager_client.get(f"/agentur/kennzahlen?{JUNE_ARGS}").get_data(as_text=True)
    assert "Kennzahlen der Agentur" in html
    assert "chart-4.6.1.umd.min.js" in html
    share = json.loads(unescape(re.search(r"data-chart='([^']+)'", html).group(1)))
    assert (share["labels"][0], share["labels"][-1]) == ("Aug. 2025", "Juli 2026 (heute)")
    # April: nothing imported yet; May: 12 running, none digital; June and now: 2 of 11 (X ended)
    assert share["values"][-4:] == [None, 0.0, round(100 * 2 / 11, 1), round(100 * 2 / 11, 1)]
    assert "Daten als Tabelle" in html
    assert "<strong>7</strong> Verträge erhielten einen Zugangslink" in html
    assert "Median bis zur Aktivierung: <strong>3,5 Tage</strong>" in html
    link = re.search(r'href="([^"]+)">2</a>', _cell(html, "aktiviert")).group(1)
    assert "schritt=aktiviert" in link
    assert "von=2026-06-01" in link
    stock = manager_client.get(unescape(link)).get_data(as_text=True)
    numbers = set(re.findall(r">(?:<span class=\"nowrap\">)?(BV-\d+)(?:</span>)?</a>", stock))
    assert numbers == {agency_data["A"].number, agency_data["G"].number}
    assert "Einladungen 01.06.2026 – 30.06.2026: aktiviert" in stock
    assert "seit mehr als 14 Tagen offen" in html


def test_the_start_page_opens_with_the_worklist_and_shows_the_figures_below(agency_data, manager_client):
    """Issue #26 item 16: what waits for the agency manager first, the figures after it (the
    worklist was ~3,000 px down, under the charts)."""
    html = manager_client.get("/agentur/").get_data(as_text=True)
    assert 'id="share-title"' in html
    assert 'id="funnel-title"' in html
    assert "chart-4.6.1.umd.min.js" in html
    assert html.index('id="arbeitsliste-title"') < html.index('id="share-title"')


def test_reminders_for_a_selection_from_the_bestand(agency_data, manager_client, session):
    c = agency_data
    url = f"/bestand/?schritt=wartend&{JUNE_ARGS}"
    listed = manager_client.get(url).get_data(as_text=True)
    assert set(re.findall(r">(?:<span class=\"nowrap\">)?(BV-\d+)(?:</span>)?</a>", listed)) == {
        c["D"].number,
        c["H"].number,
    }
    before = session.scalar(sa.select(sa.func.count()).select_from(AccessLink))
    response = manager_client.post(
        "/bestand/erinnerung",
        data={
            "csrf_token": csrf_token(manager_client, url),
            "vertrag": [c["D"].public_id, c["H"].public_id, c["A"].public_id],
            "zurueck": url,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == url  # back to the same filtered list
    page = manager_client.get(url).get_data(as_text=True)
    assert "Erinnerung an 2 Kunden versendet" in page
    assert f"{c['A'].number}: Der Kunde ist im Kunden-Portal bereits aktiv." in page
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == before + 2
    mails = session.scalars(
        sa.select(OutboxMessage.related_id).where(OutboxMessage.template == "access_link", OutboxMessage.id > 0)
    ).all()
    assert mails.count(c["D"].public_id) == 3  # first link, the re-sent one, the reminder


def test_a_reminder_never_reaches_another_agency(agency_data, broker_client, session):
    foreign = session.scalar(sa.select(Contract).where(Contract.number == "BV-4711004"))
    links = session.scalar(sa.select(sa.func.count()).select_from(AccessLink))
    broker_client.post(
        "/bestand/erinnerung",
        data={"csrf_token": csrf_token(broker_client, "/bestand/"), "vertrag": [foreign.public_id]},
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == links
    assert "Bitte wählen Sie mindestens einen Vertrag aus." in broker_client.get("/bestand/").get_data(as_text=True)


def test_csv_exports(agency_data, manager_client):
    funnel = manager_client.get(f"/agentur/kennzahlen/trichter.csv?{JUNE_ARGS}")
    assert funnel.status_code == 200
    assert funnel.headers["Content-Type"].startswith("text/csv")
    assert "Onboarding-Trichter-2026-06-01-2026-06-30.csv" in funnel.headers["Content-Disposition"]
    text = funnel.get_data(as_text=True)
    assert "01.06.2026 – 30.06.2026;aktiviert;2;28,6;1" in text
    table = manager_client.get(f"/agentur/kennzahlen/tabelle.csv?{JUNE_ARGS}").get_data(as_text=True)
    assert table.splitlines()[0].lstrip("\ufeff").startswith("Vermittler;Link versendet;")
    assert ";7;4;3;2;28,6;1;1;1;2;3,5;" in table
    assert manager_client.get("/agentur/kennzahlen/anderes.csv").status_code == 404
    wrong = manager_client.get("/agentur/kennzahlen/trichter.csv?von=2026-07-01&bis=2026-06-01")
    assert wrong.status_code == 422
    assert "Das Ende des Zeitraums liegt vor seinem Beginn." in wrong.get_data(as_text=True)


def test_the_back_office_sees_all_agencies_and_the_outbox(agency_data, backoffice_client, session):
    html = backoffice_client.get(f"/innendienst/kennzahlen?{JUNE_ARGS}").get_data(as_text=True)
    assert "Kennzahlen aller Agenturen" in html
    assert "Postausgang und Nachrichten" in html
    failed = session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.state == State.FAILED)
    )
    assert re.search(rf"Fehlgeschlagen</dt><dd><a [^>]+>{failed}</a>", html)
    queued, ready = (
        session.scalar(sa.select(sa.func.count()).where(OutboxMessage.state == state))
        for state in (State.PENDING, State.READY)
    )
    assert (queued, ready) != (0, 0)  # the hand-built agency's messages wait for the worker
    assert f"Warten auf Versand</dt><dd>{queued}</dd>" in html
    assert re.search(rf'Briefe im Postausgang</dt><dd><a href="/innendienst/postausgang">{ready}</a>', html)
    assert "<strong>8</strong> Verträge erhielten einen Zugangslink" in html
    assert "Andere Agentur" in html
    assert "/bestand/?" not in html  # the back office has no Bestand to click into
    csv = backoffice_client.get(f"/innendienst/kennzahlen/tabelle.csv?{JUNE_ARGS}").get_data(as_text=True)
    assert csv.lstrip("\ufeff").startswith("Agentur;")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("von=2026-07-01&bis=2026-06-01", "Das Ende des Zeitraums liegt vor seinem Beginn."),
        ("von=2020-01-01&bis=2026-06-01", "Der Zeitraum darf höchstens 5 Jahre lang sein."),
        ("von=32.13.2026&bis=", "Bitte geben Sie den Beginn als Datum ein (TT.MM.JJJJ)."),
    ],
)
def test_a_wrong_period_is_said_at_its_field_and_kept(agency_data, manager_client, query, message):
    response = manager_client.get(f"/agentur/kennzahlen?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    typed = dict(part.split("=") for part in query.split("&"))
    assert f'value="{typed["von"]}"' in html  # what was typed stays
    assert "Onboarding-Trichter" not in html.split('id="funnel-title"')[1].split("</section>")[0]
    assert 'id="share-title"' in html  # the share does not depend on the period


def test_quick_periods_link_to_their_dates(agency_data, manager_client):
    html = manager_client.get("/agentur/kennzahlen").get_data(as_text=True)  # "today" is 5 July 2026
    assert 'href="/agentur/kennzahlen?von=2026-06-06&amp;bis=2026-07-05">letzte 30 Tage</a>' in html
    assert 'href="/agentur/kennzahlen?von=2026-04-07&amp;bis=2026-07-05" aria-current="true">letzte 90 Tage' in html
    assert 'href="/agentur/kennzahlen?von=2025-07-06&amp;bis=2026-07-05">letzte 12 Monate</a>' in html
    assert 'href="/agentur/kennzahlen?von=2026-01-01&amp;bis=2026-07-05">dieses Jahr</a>' in html


def test_an_empty_period_says_so(agency_data, manager_client):
    html = manager_client.get("/agentur/kennzahlen?von=2026-08-01&bis=2026-08-31").get_data(as_text=True)
    assert "wurden keine Zugangslinks versendet" in html
    assert 'id="chart-funnel"' not in html


def test_brokers_and_customers_get_no_dashboard(agency_data, broker_client, manager_client, client):
    assert broker_client.get("/agentur/kennzahlen").status_code == 403
    assert broker_client.get("/agentur/kennzahlen/trichter.csv").status_code == 403
    assert broker_client.get("/innendienst/kennzahlen").status_code == 403
    assert manager_client.get("/innendienst/kennzahlen").status_code == 403
    assert manager_client.get("/innendienst/kennzahlen/tabelle.csv").status_code == 403
    assert client.get("/agentur/kennzahlen").status_code == 302  # to the login


def test_another_agencys_broker_filter_shows_nothing(agency_data, manager_client, session):
    from core.users import User

    foreign = session.scalar(sa.select(User).where(User.email == "fremd@example.org"))
    html = manager_client.get(f"/bestand/?schritt=versendet&vermittler={foreign.public_id}&{JUNE_ARGS}").get_data(
        as_text=True
    )
    assert "Keine Verträge gefunden." in html
    assert "unbekannter Vermittler" in html


def test_the_period_is_typed_and_shown_as_tt_mm_jjjj(agency_data, manager_client):
    """Text fields in the German date format, as every date field of the app (a browser's date picker
    would show its own locale's format); links carry ISO dates, both are read."""
    for query in (JUNE_ARGS, "von=01.06.2026&bis=30.06.2026", "von=1.6.2026&bis=30.6.2026"):
        html = manager_client.get(f"/agentur/kennzahlen?{query}").get_data(as_text=True)
        assert 'id="von" name="von" type="text" inputmode="numeric"' in html
        assert 'value="01.06.2026"' in html, query
        assert 'value="30.06.2026"' in html, query
        assert "<strong>7</strong> Verträge erhielten einen Zugangslink" in html


@pytest.mark.parametrize(
    "query",
    ["von=9999-12-25&bis=9999-12-31", "von=0001-01-01&bis=0001-01-02", "von=01.01.0001&bis=", "von=&bis=31.12.9999"],
)
def test_a_period_in_year_9999_or_0001_is_said_at_its_field_not_a_server_error(
    agency_data, manager_client, backoffice_client, query
):
    """Issue #25 item 6: such periods overflowed the date arithmetic (ValueError/OverflowError) on the
    page, both CSV exports, the back office's figures and the Bestand click-through."""
    page = manager_client.get(f"/agentur/kennzahlen?{query}")
    assert page.status_code == 422
    assert "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben." in page.get_data(as_text=True)
    for client, url in (
        (manager_client, f"/agentur/kennzahlen/trichter.csv?{query}"),
        (manager_client, f"/agentur/kennzahlen/tabelle.csv?{query}"),
        (backoffice_client, f"/innendienst/kennzahlen?{query}"),
        (manager_client, f"/bestand/?schritt=versendet&{query}"),
    ):
        assert client.get(url).status_code < 500, url

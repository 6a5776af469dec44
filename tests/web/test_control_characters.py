"""Issue #25 item 4: NUL and other C0 control characters in a text field or a query string reached
PostgreSQL ("A string literal cannot contain NUL") and gave HTTP 500. Forms take them out at once and
say so at the field; a query string with one is refused with a German message."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from contracts.models import Contract
from tests.helpers import csrf_token
from tests.web.test_applications import POST, apply, quote
from tests.web.test_contract_change_pages import _contract, _form

pytestmark = pytest.mark.usefixtures("demo_reference")


def test_a_nul_in_a_change_is_said_at_its_field_and_nothing_is_stored(broker_client, session):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/aenderung"
    fields = _form(broker_client, url)
    response = broker_client.post(
        url, data={**fields, "csrf_token": csrf_token(broker_client, url), "kontoinhaber": "Jürgen\x00 Müller"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="kontoinhaber-error"[^>]*>[^<]*Bitte ohne Steuerzeichen eingeben', html)
    assert 'value="Jürgen Müller"' in html  # the rest of what was typed stays
    session.refresh(contract)
    assert contract.version == 1


def test_a_nul_in_a_kuendigung_remark_never_reaches_the_database(broker_client, session):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/kuendigen"
    response = broker_client.post(
        url,
        data={
            "csrf_token": csrf_token(broker_client, url),
            "version": "1",
            "grund": "sonstiges",
            "bemerkung": "zieht\x00 um\x07",
            "eingegangen_am": "",
        },
    )
    assert response.status_code == 422
    assert "Bitte ohne Steuerzeichen eingeben" in response.get_data(as_text=True)
    assert session.scalar(sa.select(Contract.ends_on)) is None


@pytest.mark.parametrize(
    "url",
    ["/kunden/?q=a%00b", "/bestand/?vermittler=%00", "/vertraege/?seite=1%00", "/angebote/?x%00=1"],
)
def test_a_query_string_with_a_control_character_is_refused_in_german(manager_client, url):
    response = manager_client.get(url)
    assert response.status_code == 400
    assert "Die Adresse enthält Steuerzeichen." in response.get_data(as_text=True)


def test_an_antrag_with_a_nul_keeps_the_rest_and_says_why(broker_client, session):
    response = apply(broker_client, quote(broker_client), {**POST, "kontoinhaber": "Jürgen\x00Müller"})
    assert response.status_code == 422
    assert "Bitte ohne Steuerzeichen eingeben" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


def test_tabs_and_line_breaks_in_a_text_area_are_no_control_characters(broker_client, session):
    contract = _contract(broker_client, session)
    url = f"/vertraege/{contract.public_id}/kuendigen"
    response = broker_client.post(
        url,
        data={
            "csrf_token": csrf_token(broker_client, url),
            "version": "1",
            "grund": "sonstiges",
            "bemerkung": "Zeile 1\r\nZeile\t2",
            "eingegangen_am": re.search(
                r'name="eingegangen_am"[^>]*value="([^"]+)"', broker_client.get(url).get_data(as_text=True)
            ).group(1),
        },
    )
    assert response.status_code == 302


def test_an_overlong_search_is_refused_with_a_german_message(backoffice_client, app):
    """Issue #25 item 8 (found by the fuzz test): a 100 KiB search term reached SQLite's LIKE
    ("pattern too complex") and gave 500; a value above QUERY_VALUE_MAX_LENGTH is a German 400."""
    longest = app.config["QUERY_VALUE_MAX_LENGTH"]
    response = backoffice_client.get("/innendienst/nachrichten", query_string={"q": "x" * (100 * 1024)})
    assert response.status_code == 400
    assert f"höchstens {longest} Zeichen" in response.get_data(as_text=True)
    assert backoffice_client.get("/innendienst/nachrichten", query_string={"q": "x" * longest}).status_code == 200

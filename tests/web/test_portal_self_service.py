"""The portal's "Meine Dokumente" as in the seed (filters Name, Vorname, Datum or Zeitraum, Dokument;
Gelesen/Ungelesen for a selection; the unread count in the navigation) and "Meine Verträge" with the
contract's details and the broker's contact (issue #15, items 2 and 3)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from contracts.documents import add_document
from contracts.models import Document, DocumentKind
from core.formatting import TIMEZONE
from tests.helpers import csrf_token
from tests.web.test_onboarding import _active_customer, police  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("demo_reference")


def _ids(html: str) -> list[str]:
    return re.findall(r'name="dokument" value="([^"]+)"', html)


@pytest.fixture
def customer(outbox_app, police, twilio_server, session, time_machine):  # noqa: F811
    """An active customer with his Versicherungsschein and Beitragsrechnung (policed on 2 March) and
    two later documents (20 March, 2 April)."""
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=True)
    contract, client = _active_customer(outbox_app, police, twilio_server)
    with outbox_app.app_context():
        later = [
            add_document(session, contract, DocumentKind.ENDORSEMENT, "Nachtrag Nr. 1", b"%PDF-1.4 a"),
            add_document(session, contract, DocumentKind.INVOICE, "Beitragsrechnung Nachtrag Nr. 1", b"%PDF-1.4 b"),
        ]
    # dated later (moving the clock would end the customer's session after its idle time)
    for document, day in zip(later, (datetime(2026, 3, 20, 10, 0), datetime(2026, 4, 2, 10, 0)), strict=True):
        document.created_at = day.replace(tzinfo=TIMEZONE)
    session.commit()
    return contract, client


# what policing filed on 2 March, newest first: the Vertragsinformationen, the Antrag, the Beitragsrechnung
# and the Versicherungsschein
POLICED = [
    "Verbraucherinformationen",
    "Informationsblatt zu Versicherungsprodukten (IPID)",
    "Allgemeine Bedingungen für die Kfz-Versicherung (AKB)",
    "Beratungsdokumentation",
    "Antrag",
    "Beitragsrechnung",
    "Versicherungsschein",
]


def _titles(client, query: str = "") -> list[str]:
    html = client.get(f"/portal/dokumente{query}").get_data(as_text=True)
    return re.findall(r'<a href="/portal/dokumente/[\w-]+">([^<]+)</a>', html)


def test_the_filters_combine_and_a_wrong_date_is_said_at_its_field(customer):
    _contract, client = customer
    assert _titles(client) == ["Beitragsrechnung Nachtrag Nr. 1", "Nachtrag Nr. 1", *POLICED]
    assert _titles(client, "?datum=20.03.2026") == ["Nachtrag Nr. 1"]  # one day
    assert _titles(client, "?datum=01.03.2026&bis=31.03.2026") == ["Nachtrag Nr. 1", *POLICED]
    assert _titles(client, "?datum=01.03.2026&bis=31.03.2026&dokument=rechnung") == ["Beitragsrechnung"]
    assert _titles(client, "?name=müller-lüd&vorname=JÜR&dokument=nachtrag") == ["Nachtrag Nr. 1"]
    assert _titles(client, "?name=Schmidt") == []
    wrong = client.get("/portal/dokumente?datum=31.02.2026&dokument=rechnung")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 200
    assert "Den 31.02.2026 gibt es nicht im Kalender" in html
    assert 'value="31.02.2026"' in html  # kept as typed
    assert re.findall(r'<a href="/portal/dokumente/[\w-]+">([^<]+)</a>', html) == [
        "Beitragsrechnung Nachtrag Nr. 1",
        "Beitragsrechnung",
    ]  # the other filter still applies
    backwards = client.get("/portal/dokumente?datum=31.03.2026&bis=01.03.2026").get_data(as_text=True)
    assert "Das Ende des Zeitraums liegt vor seinem Anfang." in backwards


def test_documents_and_invoices_apart_as_the_seed_has_them(customer):
    """Seed 000: "Unter dem Menüpunkt „Dokumente“ … Versicherungsschein und alle weiteren
    Vertragsdokumente. Ihre Rechnungen finden Sie unter dem Menüpunkt „Rechnungen“." — newest first."""
    _contract, client = customer
    assert _titles(client, "?ansicht=rechnungen") == ["Beitragsrechnung Nachtrag Nr. 1", "Beitragsrechnung"]
    documents = [t for t in POLICED if t != "Beitragsrechnung"]
    assert _titles(client, "?ansicht=dokumente") == ["Nachtrag Nr. 1", *documents]
    assert _titles(client, "?ansicht=rechnungen&datum=02.03.2026") == ["Beitragsrechnung"]  # filters still apply
    html = client.get("/portal/dokumente?ansicht=rechnungen").get_data(as_text=True)
    assert re.search(r'<a href="[^"]*ansicht=rechnungen[^"]*" aria-current="page">Rechnungen</a>', html)
    assert 'name="ansicht" value="rechnungen"' in html  # filtering stays in the view
    assert 'name="f_ansicht" value="rechnungen"' in html  # so do marking and saving


def test_paging_keeps_the_filters(outbox_app, customer, session):
    contract, client = customer
    with outbox_app.app_context():
        for n in range(11):
            add_document(session, contract, DocumentKind.INVOICE, f"Rechnung {n}", b"%PDF-1.4 r")
    session.commit()
    html = client.get("/portal/dokumente?anzahl=10&dokument=rechnung&vorname=J%C3%BCrgen").get_data(as_text=True)
    assert "Seite 1 von 2" in html  # 13 invoices, 10 a page
    following = re.search(r'<a href="(/portal/dokumente\?[^"]+)">weiter', html).group(1).replace("&amp;", "&")
    assert all(p in following for p in ("seite=2", "anzahl=10", "dokument=rechnung", "vorname=J%C3%BCrgen"))
    second = client.get(following).get_data(as_text=True)
    assert len(_ids(second)) == 3
    assert 'name="f_dokument" value="rechnung"' in second  # marking comes back to the same list
    assert 'name="f_seite" value="2"' in second


def test_a_plain_visit_of_meine_dokumente_shows_no_error(customer):
    """Issue #26 item 3: every plain visit (also right after activation) said "Keine gültige Auswahl."
    under Dokument and Status — filters not sent are "alle"."""
    _contract, client = customer
    for url in ("/portal/dokumente", "/portal/dokumente?seite=1", "/portal/dokumente?name=M%C3%BCller"):
        page = client.get(url).get_data(as_text=True)
        assert "Keine gültige Auswahl" not in page
        assert not re.search(r'class="field__error"[^>]*>[^<\s]', page), url
        assert "error-summary" not in page


def test_gelesen_and_ungelesen_for_a_selection_and_the_count_in_the_navigation(customer, session):
    _contract, client = customer
    page = client.get("/portal/dokumente").get_data(as_text=True)
    assert '<span class="badge">9<span class="visually-hidden"> ungelesen</span></span>' in page
    ids = _ids(page)
    token = csrf_token(client, "/portal/dokumente")
    done = client.post(
        "/portal/dokumente/markieren",
        data={"csrf_token": token, "aktion": "gelesen", "dokument": ids[:3], "f_dokument": "", "f_name": "Müller"},
    )
    assert done.status_code == 302
    assert done.location == "/portal/dokumente?name=M%C3%BCller"  # back to the same list
    page = client.get(done.location).get_data(as_text=True)
    assert "3 Dokumente als gelesen markiert." in page
    assert '<span class="badge">6<span class="visually-hidden"> ungelesen</span></span>' in page
    client.post("/portal/dokumente/markieren", data={"csrf_token": token, "aktion": "ungelesen", "dokument": ids[:1]})
    assert session.scalar(sa.select(Document.read_at).where(Document.public_id == ids[0])) is None
    assert _titles(client, "?status=ungelesen") == ["Beitragsrechnung Nachtrag Nr. 1", *POLICED[1:]]
    nothing = client.post("/portal/dokumente/markieren", data={"csrf_token": token, "aktion": "gelesen"})
    assert "Bitte wählen Sie mindestens ein Dokument aus." in client.get(nothing.location).get_data(as_text=True)


def test_another_customer_s_documents_cannot_be_marked(outbox_app, customer, police, session):  # noqa: F811
    _, client = customer
    other, _ = police(email="b@example.org", mobile="0151 22222222")
    theirs = session.scalar(sa.select(Document).where(Document.contract_id == other.id))
    token = csrf_token(client, "/portal/dokumente")
    client.post(
        "/portal/dokumente/markieren", data={"csrf_token": token, "aktion": "gelesen", "dokument": [theirs.public_id]}
    )
    session.refresh(theirs)
    assert theirs.read_at is None
    assert client.get(f"/portal/vertraege/{other.public_id}").status_code == 404


def test_contract_details_with_cover_vehicle_premium_documents_and_the_broker(customer, broker, session):
    contract, client = customer
    broker.phone = "+49 89 12345670"
    session.commit()
    overview = client.get("/portal/vertraege").get_data(as_text=True)
    assert f'href="/portal/vertraege/{contract.public_id}"' in overview
    page = client.get(f"/portal/vertraege/{contract.public_id}").get_data(as_text=True)
    assert "VOLKSWAGEN-VW GOLF (HSN 0603, TSN BPM)" in page
    assert "SF 12" in page  # SF-Klasse KH
    assert "Vollkasko" in page
    assert "Typklassen" in page
    assert "Kfz-Haftpflicht" in page  # a premium line
    assert broker.full_name in page
    assert 'href="tel:+498912345670"' in page
    assert f'href="mailto:{broker.email}"' in page
    assert page.index("Beitragsrechnung Nachtrag Nr. 1") < page.index("Versicherungsschein</a>")  # newest first


def test_meine_dokumente_shows_the_documents_first_and_the_filters_behind_filtern(customer):
    """Issue #26 item 12: the list comes before the filters, which wait behind "Filtern" — closed on
    a plain visit, open while a filter is set or a filter is wrong."""
    _contract, client = customer
    plain = client.get("/portal/dokumente").get_data(as_text=True)
    assert '<details class="panel filter-toggle">' in plain  # closed
    assert "<summary>Filtern" in plain
    first_document = plain.index('href="/portal/dokumente/')
    assert plain.index("<h1>Meine Dokumente</h1>") < plain.index("<summary>Filtern") < first_document
    assert first_document < plain.index("Vertragsdaten ändern</a>")  # the actions after the list
    for url in ("/portal/dokumente?dokument=rechnung", "/portal/dokumente?datum=31.02.2026"):
        page = client.get(url).get_data(as_text=True)
        assert '<details class="panel filter-toggle" open>' in page, url

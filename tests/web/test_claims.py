"""Schaden melden in the portal (issue #15, item 4): a claim with photos and PDFs checked by their
content, a Schadennummer, the confirmation in the portal and by e-mail; German messages for bad
input with nothing stored half; the broker sees it on the contract, the back office marks it
handled; Kfz claims count at the renewal."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from contracts import claims
from contracts.models import Claim, ClaimFile, ClaimKind, Contract, Document, DocumentKind
from core import clock, storage
from core.users import Role
from messaging.models import OutboxMessage
from tests.helpers import csrf_token, login
from tests.web.test_onboarding import _active_customer, police  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("demo_reference")

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 300


def _today():
    return clock.today()


@pytest.fixture
def running(outbox_app, police, twilio_server, session):  # noqa: F811
    """An active customer whose Kfz contract began 60 days ago."""
    contract, client = _active_customer(outbox_app, police, twilio_server)
    contract.start_date = _today() - timedelta(days=60)
    session.commit()
    return contract, client


def _report(client, contract, files=(), **fields):
    url = f"/portal/vertraege/{contract.public_id}/schaden"
    data = {
        "csrf_token": csrf_token(client, url),
        "art": "unfall",
        "datum": (_today() - timedelta(days=2)).strftime("%d.%m.%Y"),
        "ort": "Parkplatz Marienplatz, München",
        "beschreibung": "Beim Ausparken das Auto hinter mir am Kotflügel gestreift.",
        "gegner": "Erika Musterfrau, M-XY 123, HUK",
        "polizei": "nein",
        **fields,
        "dateien": [(io.BytesIO(data), name) for name, data in files],
    }
    return client.post(url, data=data, content_type="multipart/form-data")


def test_sniffing_goes_by_the_content():
    assert claims.sniff(JPEG) == ("image/jpeg", "jpg")
    assert claims.sniff(PNG) == ("image/png", "png")
    assert claims.sniff(HEIC) == ("image/heic", "heic")
    assert claims.sniff(PDF) == ("application/pdf", "pdf")
    assert claims.sniff(b"MZ\x90\x00 an exe") is None
    assert claims.sniff(b"<html>") is None


def test_a_claim_with_photos_gets_a_number_a_confirmation_and_an_email(outbox_app, running, session):
    contract, client = running
    response = _report(client, contract, files=[("unfall.jpg", JPEG), ("skizze.pdf", PDF), ("IMG_0001.HEIC", HEIC)])
    assert response.status_code == 302
    claim = session.scalar(sa.select(Claim).where(Claim.contract_id == contract.id))
    assert re.fullmatch(r"SN-\d{4}-\d{7}", claim.number)
    page = client.get(response.location).get_data(as_text=True)
    assert f"Ihre Schadennummer: {claim.number}" in page
    assert [(f.filename, f.content_type) for f in claim.files] == [
        ("unfall.jpg", "image/jpeg"),
        ("skizze.pdf", "application/pdf"),
        ("IMG_0001.heic", "image/heic"),
    ]
    assert (claim.police, claim.other_party) == (False, "Erika Musterfrau, M-XY 123, HUK")
    confirmation = session.scalar(
        sa.select(Document).where(Document.contract_id == contract.id, Document.kind == DocumentKind.CLAIM)
    )
    with outbox_app.app_context():
        text = " ".join(PdfReader(io.BytesIO(storage.load(confirmation.storage_key))).pages[0].extract_text().split())
    assert claim.number in text
    assert "Beim Ausparken" in text
    assert "unfall.jpg" in text
    mail = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == f"claim-received:{claim.public_id}")
    )
    assert mail.recipient == "kunde@example.org"
    assert claim.number in mail.subject
    # that e-mail says it: no second "Neue Dokumente" e-mail for the confirmation
    assert session.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "new_documents")) == 0
    assert "Schadenmeldung " + claim.number in client.get("/portal/dokumente").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "files", "message"),
    [
        ({"datum": "01.01.2099"}, (), "Das Schadendatum liegt in der Zukunft."),
        ({"datum": "01.01.2000"}, (), "liegt vor dem Vertragsbeginn"),
        ({"datum": "31.02.2026"}, (), "gibt es nicht im Kalender"),
        ({"ort": ""}, (), "Bitte geben Sie an, wo der Schaden passiert ist."),
        ({}, [("foto.jpg", b"this is not a photo at all")], "ist kein Foto (JPEG, PNG, HEIC) und kein PDF"),
        ({}, [("rechnung.pdf", b"MZ\x90\x00" + b"\x00" * 100)], "ist kein Foto"),
        ({}, [("leer.jpg", b"")], "ist leer"),
        ({}, [(f"f{n}.jpg", JPEG) for n in range(6)], "höchstens 5 Dateien"),
        ({"art": "vollkasko-extra"}, (), "Bitte wählen Sie, was passiert ist."),
    ],
)
def test_bad_input_is_said_in_german_keeps_what_was_typed_and_stores_nothing(running, session, fields, files, message):
    contract, client = running
    response = _report(client, contract, files=files, beschreibung="Mein Text bleibt stehen, bitte.", **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert "Mein Text bleibt stehen, bitte." in html
    assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ClaimFile)) == 0


def test_a_file_too_big_is_refused(outbox_app, running, session):
    contract, client = running
    outbox_app.config["CLAIM_UPLOAD_MAX_MB"] = 1
    response = _report(client, contract, files=[("gross.jpg", JPEG + b"\x00" * (1024 * 1024))])
    # werkzeug's test client spools a body this big to a temporary file of its own: closed here
    response.request.environ["wsgi.input"].close()
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "ist größer als 1 MB" in html
    assert "bitte wählen Sie sie noch einmal aus" in html


def test_rights_broker_view_and_back_office(app, outbox_app, running, police, session, broker, make_user, make_agency):  # noqa: F811
    contract, client = running
    other, _ = police(email="b@example.org", mobile="0151 22222222")
    assert client.get(f"/portal/vertraege/{other.public_id}/schaden").status_code == 404  # not his
    _report(client, contract, files=[("unfall.jpg", JPEG)])
    claim = session.scalar(sa.select(Claim))
    file = claim.files[0]

    own = outbox_app.test_client()
    login(own, broker.email)
    page = own.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    assert claim.number in page
    assert own.get(f"/schadenmeldungen/dateien/{file.public_id}").data == JPEG
    stranger = outbox_app.test_client()
    login(stranger, make_user(Role.BROKER, make_agency("Fremd")).email)
    assert stranger.get(f"/schadenmeldungen/dateien/{file.public_id}").status_code == 404
    assert own.get("/innendienst/schadenmeldungen").status_code == 403
    assert client.get(f"/schadenmeldungen/dateien/{file.public_id}").status_code in (302, 403)  # customers: no

    office = outbox_app.test_client()
    login(office, make_user(Role.BACKOFFICE).email)
    listing = office.get("/innendienst/schadenmeldungen").get_data(as_text=True)
    assert claim.number in listing
    token = csrf_token(office, "/innendienst/schadenmeldungen")
    office.post("/innendienst/schadenmeldungen/bearbeitet", data={"csrf_token": token, "schaden": [claim.public_id]})
    assert claim.number not in office.get("/innendienst/schadenmeldungen").get_data(as_text=True)
    assert "in Bearbeitung" in office.get("/innendienst/schadenmeldungen?alle=1").get_data(as_text=True)
    session.refresh(claim)
    assert claim.handled_at is not None
    assert session.get(Contract, contract.id) is not None


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Foto\x00.jpg", "Foto.jpg"),  # a NUL gave HTTP 500 at the upload (PostgreSQL)
        ("../../etc/passwd.pdf", "etc passwd.jpg"),  # no path; the extension is the sniffed type's
        ("Schadenfoto_Kotflügel.jpeg", "Schadenfoto_Kotflügel.jpg"),
        ("x" * 300 + ".jpg", "x" * 116 + ".jpg"),
    ],
)
def test_upload_names_are_made_safe_and_their_downloads_work(app, outbox_app, running, session, broker, name, stored):
    """Issue #25 item 5: names normalised at upload (NFC, no control characters, no path, a length
    limit, the extension of the sniffed type), downloads with a safe Content-Disposition."""
    contract, client = running
    response = _report(client, contract, files=[(name, JPEG)])
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    file = session.scalars(sa.select(ClaimFile).order_by(ClaimFile.id.desc())).first()
    assert file.filename == stored
    own = app.test_client()
    login(own, contract.owner.email)
    download = own.get(f"/schadenmeldungen/dateien/{file.public_id}")
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert download.data == JPEG


def test_a_stored_name_with_a_line_break_still_downloads_with_a_safe_header(app, running, session):
    """A name stored before (CR/LF, as a browser may send it) broke the download's header: HTTP 500."""
    contract, client = running
    _report(client, contract, files=[("Foto.jpg", JPEG)])
    file = session.scalars(sa.select(ClaimFile).order_by(ClaimFile.id.desc())).first()
    file.filename = "Foto\r\nX-Evil: 1.jpg"
    session.commit()
    own = app.test_client()
    login(own, contract.owner.email)
    download = own.get(f"/schadenmeldungen/dateien/{file.public_id}")
    assert download.status_code == 200
    assert "X-Evil" not in download.headers
    assert "\n" not in download.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("name", "extension", "safe"),
    [
        ("Foto\r\nX-Evil: 1.png", "jpg", "Foto X-Evil 1.jpg"),
        ("Re\u0301sume\u0301.pdf", "pdf", "Résumé.pdf"),  # NFC: one code point per letter
        ("\x00\x01", "pdf", "Datei.pdf"),
        ("Bericht 2026.final", None, "Bericht 2026.final"),
    ],
)
def test_safe_filename(name, extension, safe):
    from core.downloads import safe_filename

    assert safe_filename(name, extension) == safe


def test_was_ist_passiert_in_plain_words_mapped_to_the_cover_that_pays(outbox_app, running, session):
    """Issue #26 item 14: the customer chooses what happened in his words; the tariff maps it to
    Haftpflicht, Teilkasko or Vollkasko (AKB A.1, A.2.2, A.2.3) — the kind that decides the
    Rückstufung — and the form asks each thing once; photos straight from the camera."""
    contract, client = running
    form = client.get(f"/portal/vertraege/{contract.public_id}/schaden").get_data(as_text=True)
    for words in ("Unfall mit einem anderen Fahrzeug", "Glasbruch", "Wildunfall", "Diebstahl", "Sturm, Hagel"):
        assert words in form, words
    assert "Haftpflichtschaden (Schaden bei anderen)" not in form  # not the insurer's words
    assert form.count(">Was ist passiert?<") <= 1
    assert "Wie kam es dazu?" in form
    assert 'accept="image/*' in form
    assert 'capture="environment"' in form
    assert _report(client, contract, art="glas").status_code == 302
    claim = session.scalar(sa.select(Claim).where(Claim.contract_id == contract.id))
    assert (claim.kind, claim.event, claim.benefit) == (ClaimKind.TK, "glas", "Teilkasko")
    assert claim.what == "Glasbruch (z. B. Steinschlag in der Frontscheibe) – Teilkasko"
    assert claim.what in client.get("/portal/schaeden").get_data(as_text=True)


def test_a_contract_without_kasko_offers_no_kasko_events(outbox_app, running, session):
    """A Haftpflicht-only contract: the Teilkasko and Vollkasko events are not offered, and a forged
    one is refused at the field."""
    contract, client = running
    contract.risk = {**contract.risk, "cover": "kh"}
    session.commit()
    form = client.get(f"/portal/vertraege/{contract.public_id}/schaden").get_data(as_text=True)
    assert "Unfall mit einem anderen Fahrzeug" in form
    assert "Glasbruch" not in form
    assert "Vandalismus" not in form
    refused = _report(client, contract, art="glas")
    assert refused.status_code == 422
    assert "Bitte wählen Sie, was passiert ist." in refused.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0


def test_the_claim_page_shows_the_photos_and_the_history_and_the_list_filters(outbox_app, running, session, make_user):
    """Issue #26 item 23: the claim's own page with its photos (a viewer, not only file names; HEIC,
    which browsers can't show, stays a download) and its history; the list filters by status and age."""
    contract, client = running
    _report(client, contract, files=[("unfall.jpg", JPEG), ("IMG_0001.HEIC", HEIC)])
    claim = session.scalar(sa.select(Claim))
    office = outbox_app.test_client()
    login(office, make_user(Role.BACKOFFICE).email)
    url = f"/innendienst/schadenmeldungen/{claim.public_id}"
    paid = office.post(
        url,
        data={
            "csrf_token": csrf_token(office, url),
            "status": "reguliert_zahlung",
            "datum": _today().strftime("%d.%m.%Y"),
            "betrag": "1.200,00",
            "bemerkung": "",
        },
    )
    assert paid.status_code == 302, paid.get_data(as_text=True)
    page = office.get(url).get_data(as_text=True)
    jpeg, heic = claim.files
    assert f'<img src="/schadenmeldungen/dateien/{jpeg.public_id}"' in page
    assert f'<img src="/schadenmeldungen/dateien/{heic.public_id}"' not in page
    shown = office.get(f"/schadenmeldungen/dateien/{jpeg.public_id}")
    assert shown.headers["Content-Disposition"].startswith("inline")  # opens in the browser
    assert (
        office.get(f"/schadenmeldungen/dateien/{heic.public_id}")
        .headers["Content-Disposition"]
        .startswith("attachment")
    )
    history = page[page.index('id="verlauf-title"') :]
    assert history.index("Schaden gemeldet (Kunden-Portal)") < history.index(
        "Stand: reguliert (mit Zahlung), gezahlt 1.200,00"
    )
    assert "Schreiben an den Kunden: Schadenmeldung" in history

    def listed(query):
        html = office.get(f"/innendienst/schadenmeldungen{query}").get_data(as_text=True)
        return claim.number in html

    assert not listed("")  # no longer open: decided
    assert listed("?status=reguliert_zahlung")
    assert not listed("?status=abgelehnt")
    assert not listed("?status=alle&alter=7")  # reported today
    claim.reported_at = clock.now() - timedelta(days=8)
    session.commit()
    assert listed("?status=alle&alter=7")
    assert not listed("?status=alle&alter=14")
    assert listed("?status=unbekannt&alter=99") is False  # unknown values: the defaults (open only)

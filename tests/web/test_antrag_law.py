"""Issue #24 items 13, 14, 17, 18 and 19 over HTTP and in the PDFs read back: the Gefahrfragen
answered actively (§ 19 Abs. 1 VVG) with the separate notice of § 19 Abs. 5 VVG, the
Vertragsinformationen (§ 7 VVG, VVG-InfoV), the Kfz Antrag's FIN, Anlass and Kennzeichen, what the
Versicherungsschein names (insurer, Deckungssummen, Widerrufsbelehrung § 8 VVG, ARB Wartezeit),
and the eVB as the motor seed describes it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts import evb, lifecycle
from contracts.forms import normalize_plate, vin_problem
from contracts.models import Contract, Document, DocumentKind, Evb
from contracts.settings import current as contract_settings
from core import clock, storage
from core.formatting import date_de
from core.users import Role
from messaging.models import OutboxMessage
from tests.helpers import RS_ANSWERS, csrf_token, login
from tests.web.test_applications import PORTAL, POST, apply, pdf_text, quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def _contract(session) -> Contract:
    return session.scalars(sa.select(Contract).order_by(Contract.id.desc())).first()


def _pdf(app, session, contract, kind: DocumentKind) -> str:
    found = session.scalars(
        sa.select(Document).where(Document.contract_id == contract.id, Document.kind == kind).order_by(Document.id)
    ).first()
    with app.app_context():
        return pdf_text(storage.load(found.storage_key))


@pytest.mark.parametrize(
    ("vin", "problem"),
    [
        ("WVWZZZ1KZ8W123456", None),
        ("WVWZZZ1KZ8W12345", "genau 17 Zeichen (eingegeben: 16)"),
        ("WVWZZZ1KZ8W1234567", "genau 17 Zeichen (eingegeben: 18)"),
        ("WVWZZZ1KZ8WI23456", "ohne I, O und Q"),  # ISO 3779: no I, O, Q
        ("WVWZZZ1KZ8WO23456", "ohne I, O und Q"),
        ("WVWZZZ1KZ8W12345Q", "ohne I, O und Q"),
    ],
)
def test_a_fin_has_17_characters_without_i_o_and_q_iso_3779(vin, problem):
    found = vin_problem(vin)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("typed", "plate"),
    [("b ab 1234", "B-AB 1234"), ("M-XY 12E", "M-XY 12E"), ("HH A 1", "HH-A 1"), ("B 1234", None), ("ABCD-A 1", None)],
)
def test_a_kennzeichen_is_written_the_german_way(typed, plate):
    assert normalize_plate(typed) == plate


def test_no_gefahrfrage_has_a_pre_set_answer_section_19_vvg(broker_client):
    """§ 19 Abs. 1 VVG: the risk questions are answered actively — nothing is ticked on a new quote,
    and an unanswered one is said at its field."""
    page = broker_client.get("/rechner/rs/").get_data(as_text=True)
    for name in ("vorversicherung", "risikoberuf", "risikoberuf_partner"):
        assert not re.search(rf'<input[^>]*checked[^>]*name="{name}"|<input[^>]*name="{name}"[^>]*checked', page), name
    answers = {k: v for k, v in RS_ANSWERS.items() if k not in ("vorversicherung", "risikoberuf")}
    token = csrf_token(broker_client, "/rechner/rs/")
    response = broker_client.post("/rechner/rs/berechnen", data={"csrf_token": token, **answers})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="vorversicherung-error"[^>]*>Bitte beantworten Sie die Frage zur Vorversicherung', html)
    assert re.search(r'id="risikoberuf-error"[^>]*>Bitte beantworten Sie die Frage für den Antragsteller', html)
    couple = {**RS_ANSWERS, "deckung": "paar", "partner_vorname": "Ben", "partner_name": "Schröder"}
    couple["partner_geburtsdatum"] = "02.02.1984"
    response = broker_client.post("/rechner/rs/berechnen", data={"csrf_token": token, **couple})
    assert "Bitte beantworten Sie die Frage für den Partner." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"belehrung_19": ""}, "belehrung_19", "Ohne die gesonderte Mitteilung nach § 19 Abs. 5 VVG"),
        ({"vertragsinformationen_am": ""}, "vertragsinformationen_am", "wann der Kunde die Vertragsinformationen"),
        ({"vertragsinformationen_am": "01.01.2099"}, "vertragsinformationen_am", "nicht in der Zukunft"),
        ({"fin": ""}, "fin", "Bitte geben Sie die FIN ein"),
        ({"fin": "WVWZZZ1KZ8WO23456"}, "fin", "ohne I, O und Q"),
        ({"anlass": ""}, "anlass", "Bitte wählen Sie den Anlass"),
        ({"kennzeichen": "ABCDE 1"}, "kennzeichen", "B-AB 1234"),
    ],
)
def test_the_antrag_asks_what_the_law_needs_with_the_message_at_its_field(
    broker_client, session, changes, field, message
):
    offer = quote(broker_client)
    response = apply(broker_client, offer, {**PORTAL, "kennzeichen": "", **changes})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error"[^>]*>[^<]*{re.escape(message)}', html), html[:200]
    assert 'value="Jürgen Müller"' in html  # what was typed stays
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


def test_the_antrag_page_shows_the_separate_notice_and_the_vertragsinformationen(app, broker_client):
    offer = quote(broker_client)
    page = broker_client.get(f"/angebote/{offer}/antrag").get_data(as_text=True)
    assert 'aria-label="Mitteilung nach § 19 Abs. 5 VVG"' in page
    assert "Rücktritt:" in page
    assert 'name="belehrung_19"' in page
    assert "checked" not in re.search(r'<input[^>]*name="belehrung_19"[^>]*>', page).group(0)
    links = re.findall(r'href="(/vertragsinformationen/KFZ-2026-01/\w+\.pdf)"', page)
    assert len(links) == 3
    response = broker_client.get(links[1])
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    # the IPID's headings (Durchführungsverordnung (EU) 2017/1469)
    for heading in ("Was ist versichert?", "Was ist nicht versichert?", "Wo bin ich versichert?", "Wie kann ich den"):
        assert heading in text
    assert "DEMO-TEXT" in text
    assert app.config["INSURER_NAME"] in text
    assert broker_client.get("/vertragsinformationen/KFZ-2026-01/agb.pdf").status_code == 404
    assert broker_client.get("/vertragsinformationen/FREMD/avb.pdf").status_code == 404


def test_policing_files_the_antrag_with_every_question_and_the_policy_names_what_the_law_wants(
    app, broker_client, session
):
    """§ 19 VVG: the Antrag PDF repeats every question with the answer; § 7 VVG: the
    Vertragsinformationen in the folder; the Versicherungsschein names the Risikoträger, the
    Deckungssummen (at least the PflVG minimum), FIN, Kennzeichen, Anlass and the Widerrufsbelehrung
    (§ 8 VVG)."""
    assert apply(broker_client, quote(broker_client), {**POST, "kennzeichen": "b ab 1234"}).status_code == 302
    contract = _contract(session)
    kinds = [d.kind for d in contract.documents]
    assert kinds.count(DocumentKind.CONTRACT_INFO) == 3
    antrag = _pdf(app, session, contract, DocumentKind.APPLICATION)
    assert (
        "Bestehen oder bestanden für den Versicherungsnehmer und/oder eine mitversicherte Person Vorversicherungen?"
        in antrag
    )
    assert "ja – Versicherer HUK-COBURG" in antrag
    assert "Mitteilung nach § 19 Abs. 5 VVG" in antrag
    assert "Vertragsinformationen erhalten am 01.01.2026" in antrag
    assert "FIN WVWZZZ1KZ8W123456" in antrag
    policy = _pdf(app, session, contract, DocumentKind.POLICY)
    assert app.config["INSURER_NAME"] in policy
    assert "pauschal 100.000.000 € für Personen-, Sach- und Vermögensschäden" in policy
    assert "FIN WVWZZZ1KZ8W123456" in policy
    assert "Amtliches Kennzeichen B-AB 1234" in policy
    assert "Anlass Neuzulassung" in policy
    assert "Widerrufsbelehrung" in policy
    assert "innerhalb von 14 Tagen" in policy


def test_a_rechtsschutz_policy_and_offer_state_the_wartezeit_arb(app, broker_client, session):
    offer = quote(broker_client, RS_ANSWERS, "rs")
    page = broker_client.get(f"/angebote/{offer}").get_data(as_text=True)
    assert "Wartezeit (ARB): 3 Monate (Privat, Beruf, Wohnen/Miete); keine Wartezeit: Verkehr" in page
    assert apply(broker_client, offer, POST).status_code == 302
    contract = _contract(session)
    policy = _pdf(app, session, contract, DocumentKind.POLICY)
    assert "Wartezeit 3 Monate" in policy
    ends = lifecycle.months_before(contract.start_date, -3)  # Privat: three months from the start
    assert f"für Ihre Bausteine bis {date_de(ends)}" in policy


def test_no_evb_for_a_change_of_insurer_and_one_valid_past_a_late_start(app, broker_client, session):
    """The motor seed: an eVB is for the registration office — a Neuzulassung or a Halterwechsel,
    not a mere change of insurer; and valid at least until the start plus the tariff's margin (an
    eVB issued in March for an October start did expire in May)."""
    apply(broker_client, quote(broker_client), {**PORTAL, "anlass": "versichererwechsel"})
    assert _contract(session).evb is None
    today = clock.today()
    late = today + timedelta(days=200)
    apply(broker_client, quote(broker_client), {**PORTAL, "vertragsbeginn": date_de(late)})
    issued = _contract(session).evb
    assert issued.valid_until == late + timedelta(days=30)  # the tariff's evb_margin_days
    assert evb.valid_until(today, late, 90, 30) == late + timedelta(days=30)
    assert evb.valid_until(today, today, 90, 30) == today + timedelta(days=90)


def test_a_revoked_evb_is_announced_and_an_expired_one_no_longer_printed(
    app, broker_client, session, make_user, time_machine
):
    apply(broker_client, quote(broker_client), PORTAL)
    contract = _contract(session)
    office = app.test_client()
    login(office, make_user(Role.BACKOFFICE).email)
    with app.test_request_context():
        evb.revoke(session, make_user(Role.BACKOFFICE), contract.evb.public_id, "Falsches Fahrzeug")
    session.commit()
    sent = {
        m.recipient: m.subject
        for m in session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template.like("evb_revoked%")))
    }
    assert sent[contract.customer_email].startswith(f"eVB-Nummer {contract.evb.code} widerrufen")
    assert sent[contract.owner.email].endswith(f"(Vertrag {contract.number}, {contract.customer_name})")
    # an expired one: the Versicherungsschein issued after its end does not print it
    found = session.get(Evb, contract.evb.id)
    found.revoked_at = None
    found.valid_until = clock.today() - timedelta(days=1)
    session.commit()
    from contracts.documents import render_document

    with app.test_request_context():
        html = render_document(contract, DocumentKind.POLICY, contract_settings().catalog)
    assert "eVB-Nummer" not in html


def test_the_beratungsdokumentation_is_proposed_from_the_quote_required_and_filed(app, broker_client, session):
    """§§ 61, 62 VVG: wishes and needs, advice and reasons before the Antrag (proposed from the quote:
    product, cover, deductibles), handed over in Textform — as a PDF from the Antrag page — and filed
    in the contract's folder."""
    offer = quote(broker_client)
    page = broker_client.get(f"/angebote/{offer}/antrag").get_data(as_text=True)
    wishes = re.search(r'<textarea[^>]*name="wuensche"[^>]*>\s*([^<]*)</textarea>', page).group(1)
    assert "Kfz-Versicherung für VOLKSWAGEN-VW GOLF" in wishes
    advice_text = re.search(r'<textarea[^>]*name="rat"[^>]*>\s*([^<]*)</textarea>', page).group(1)
    assert "Empfohlen: Tarif Auto Komfort (Tarifstand KFZ-2026-01)" in advice_text
    missing = apply(broker_client, offer, {**PORTAL, "begruendung": "", "beratung_uebergeben": ""})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert re.search(r'id="begruendung-error"[^>]*>Bitte begründen Sie Ihren Rat \(§ 61 Abs\. 1 VVG\)', html)
    assert re.search(r'id="beratung_uebergeben-error"[^>]*>Der Kunde muss die Beratungsdokumentation', html)
    token = csrf_token(broker_client, f"/angebote/{offer}/antrag")
    preview = broker_client.post(
        f"/angebote/{offer}/beratung.pdf", data={"csrf_token": token, **PORTAL, "begruendung": "Wegen des Neuwagens"}
    )
    assert preview.mimetype == "application/pdf"
    assert "Wegen des Neuwagens" in pdf_text(preview.data)
    assert apply(broker_client, offer, PORTAL).status_code == 302
    contract = _contract(session)
    filed = _pdf(app, session, contract, DocumentKind.ADVICE)
    assert "Beratungsdokumentation" in filed
    assert "Kunde möchte eigene Schäden abgesichert wissen" in filed
    assert contract.application.advice["waived"] is False


def test_a_beratungsverzicht_is_a_separate_declaration_with_the_warning(app, broker_client, session):
    """§ 61 Abs. 2 VVG: a waiver only as a separate declaration, warning of the lost claim (§ 63)."""
    offer = quote(broker_client)
    waiver = {
        **PORTAL,
        "wuensche": "",
        "rat": "",
        "begruendung": "",
        "beratung_uebergeben": "",
        "beratungsverzicht": "y",
    }
    assert apply(broker_client, offer, waiver).status_code == 302
    contract = _contract(session)
    assert contract.application.advice == {"wishes": "", "advice": "", "reasons": "", "waived": True}
    text = _pdf(app, session, contract, DocumentKind.ADVICE)
    assert "Beratungsverzicht" in text
    assert "Schadensersatzanspruch nach § 63 VVG" in text

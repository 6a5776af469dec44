"""Onboarding and portal against the real SMTP server and the twilio client on the local stand-in."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from contracts.models import Contract, Document, DocumentKind
from core import clock
from messaging import worker
from messaging.models import OutboxMessage, State
from onboarding.access import check_new_password
from onboarding.invitations import invite_existing_customer
from onboarding.models import AccessCode, PortalAccount
from onboarding.settings import current as current_settings
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, POLICING_DOCUMENTS, csrf_token, login

pytestmark = pytest.mark.usefixtures("demo_reference")
START = (clock.now() + timedelta(days=14)).strftime("%d.%m.%Y")
PORTAL = {
    "vertragsbeginn": START,
    "kontoinhaber": "Jürgen Müller",
    "iban": "DE89370400440532013000",
    "sepa_mandat": "y",
    **ANTRAG_DECLARATIONS,
    "zustellung": "portal",
    "kunde_email": "kunde@example.org",
    "kunde_mobil": "0151 12345678",
}
PASSWORD = "Sonnen-Blume-42!"
HX = {"HX-Request": "true"}


@pytest.fixture
def police(outbox_app, broker, session, smtp_server):
    """Police a portal contract through the broker's pages; returns (contract, link path from the e-mail)."""

    def run(email="kunde@example.org", mobile="0151 12345678", answers=KFZ_ANSWERS):
        client = outbox_app.test_client()
        login(client, broker.email)
        offer = client.post(
            "/rechner/kfz/berechnen", data={"csrf_token": csrf_token(client, "/rechner/kfz/"), **answers}
        ).location.rsplit("/")[-1]
        url = f"/angebote/{offer}/antrag"
        response = client.post(
            url, data={"csrf_token": csrf_token(client, url), **PORTAL, "kunde_email": email, "kunde_mobil": mobile}
        )
        assert response.status_code == 302
        worker.run(outbox_app, once=True)
        mail = smtp_server.inbox.messages[-1]
        assert mail["Subject"] == "Ihr Zugang zum Kunden-Portal"
        link = re.search(r"http://portal\.test(/zugang/[\w-]+)", mail.get_body(("plain",)).get_content()).group(1)
        contract = session.scalars(sa.select(Contract).order_by(Contract.id.desc())).first()
        return contract, link

    return run


def sms_code(twilio_server) -> str:
    return re.search(r"Zugangs-Code für das Kunden-Portal: (\d{6})\.", twilio_server.messages[-1]["Body"]).group(1)


def activate(client, link, email="kunde@example.org", code="", password=PASSWORD, repeated=None):
    return client.post(
        link,
        data={
            "csrf_token": csrf_token(client, link),
            "email": email,
            "zugangscode": code,
            "passwort": password,
            "passwort2": repeated or password,
            # issue #29 item 7: the first activation asks for the consent to the portal's texts
            "nutzungsbedingungen": "y",
            "datenschutz": "y",
        },
    )


def request_code(client, link, resend=False):
    data = {"erneut": "1"} if resend else {}
    return client.post(f"{link}/code", data=data, headers={**HX, "X-CSRFToken": csrf_token(client, link)})


def test_sms_journey_link_code_password_portal(outbox_app, police, twilio_server, session):
    contract, link = police()
    customer_client = outbox_app.test_client()
    page = customer_client.get(link).get_data(as_text=True)
    assert "Wir senden Ihren Zugangs-Code per SMS an +49 151 •••• 678." in page
    assert f'hx-post="{link}/code" hx-trigger="load"' in page
    worker.run(outbox_app, once=True)
    assert twilio_server.messages == []  # a bare GET (a mail scanner's prefetch) sends nothing

    status = request_code(customer_client, link).get_data(as_text=True)
    assert "Wir haben Ihnen den Zugangs-Code per SMS an +49 151 •••• 678 gesendet." in status
    worker.run(outbox_app, once=True)
    (sms,) = twilio_server.messages
    assert sms["To"] == "+4915112345678"
    assert len(sms["Body"]) <= 160
    code = sms_code(twilio_server)
    assert session.scalar(sa.select(AccessCode.code_hmac)) != code  # stored as HMAC only

    response = activate(customer_client, link, email="Kunde@Example.org", code=code)
    assert response.status_code == 302
    assert response.location == "/portal/dokumente"
    documents = customer_client.get("/portal/dokumente").get_data(as_text=True)
    assert documents.count('<strong class="badge">Ungelesen</strong>') == POLICING_DOCUMENTS
    assert "V.-Schein" in documents
    assert contract.number in documents
    policy = session.scalar(sa.select(Document).where(Document.kind == DocumentKind.POLICY))
    opened = customer_client.get(f"/portal/dokumente/{policy.public_id}")
    assert opened.mimetype == "application/pdf"
    assert contract.number in " ".join(PdfReader(io.BytesIO(opened.data)).pages[0].extract_text().split())
    after = customer_client.get("/portal/dokumente?status=gelesen").get_data(as_text=True)
    assert "Versicherungsschein" in after
    assert "Beitragsrechnung" not in after
    assert contract.number in customer_client.get("/portal/vertraege").get_data(as_text=True)
    # the link is dead after activation and says what to do next
    used = outbox_app.test_client().get(link)
    assert used.status_code == 410
    assert "Ihr Kunden-Portal ist bereits aktiviert" in used.get_data(as_text=True)


def test_the_sixth_attempt_is_refused_even_with_the_right_code(outbox_app, police, twilio_server):
    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    code = sms_code(twilio_server)
    for _ in range(4):
        page = activate(client, link, code="000000" if code != "000000" else "111111").get_data(as_text=True)
        assert "E-Mail-Adresse oder Zugangs-Code ungültig." in page
    fifth = activate(client, link, email="fremd@example.org", code=code).get_data(as_text=True)  # wrong e-mail
    assert "Zu viele Fehleingaben." in fifth
    sixth = activate(client, link, code=code)
    assert sixth.status_code == 422
    assert "Zu viele Fehleingaben." in sixth.get_data(as_text=True)


def test_expired_code_and_expired_link(outbox_app, police, twilio_server, time_machine):
    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    code = sms_code(twilio_server)
    later = clock.now() + timedelta(minutes=10, seconds=1)
    time_machine.move_to(later, tick=False)
    page = activate(client, link, code=code).get_data(as_text=True)
    assert "Der Zugangs-Code ist abgelaufen." in page
    much_later = clock.now() + timedelta(days=30)
    time_machine.move_to(much_later, tick=False)
    expired = client.get(link)
    assert expired.status_code == 410
    assert "Der Zugangslink ist abgelaufen" in expired.get_data(as_text=True)


def test_resend_is_throttled_60_seconds_and_5_a_day(outbox_app, police, time_machine, session):
    _, link = police()
    client = outbox_app.test_client()
    now = clock.now()
    time_machine.move_to(now, tick=False)
    assert "gesendet" in request_code(client, link).get_data(as_text=True)
    assert "bereits an" in request_code(client, link).get_data(as_text=True)  # page reload: no new SMS
    assert "Bitte warten Sie noch 60 Sekunden" in request_code(client, link, resend=True).get_data(as_text=True)
    for n in range(1, 5):
        moment = now + timedelta(seconds=61 * n)
        time_machine.move_to(moment, tick=False)
        assert "gesendet" in request_code(client, link, resend=True).get_data(as_text=True)
    moment = now + timedelta(seconds=61 * 5)
    time_machine.move_to(moment, tick=False)
    assert "schon 5 Codes angefordert" in request_code(client, link, resend=True).get_data(as_text=True)
    codes = session.scalars(sa.select(AccessCode).order_by(AccessCode.id)).all()
    assert len(codes) == 5
    assert sum(c.superseded_at is None for c in codes) == 1


def test_letter_path_for_existing_customers(outbox_app, police, smtp_server, session):
    contract, _ = police(email="erster@example.org")
    with outbox_app.app_context():
        link = invite_existing_customer(session, contract, "bestand@example.org", current_settings())
    session.commit()
    assert link is not None
    worker.run(outbox_app, once=True)
    mail = smtp_server.inbox.messages[-1]
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "bestand@example.org"
    assert "Den Zugangs-Code senden wir Ihnen aus Sicherheitsgründen per Post." in text
    path = re.search(r"http://portal\.test(/zugang/[\w-]+)", text).group(1)
    letter = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "access_code"))
    pdf = session.scalar(sa.select(OutboxMessage.pdf).where(OutboxMessage.id == letter.id))
    letter_text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    code = re.search(r"Ihr Zugangs-Code: ([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})", letter_text).group(1)
    client = outbox_app.test_client()
    page = client.get(path).get_data(as_text=True)
    assert "per Post gesendet" in page
    assert "hx-trigger" not in page
    # the back office posts the letter; it is kept (reprintable) while the code is open ...
    session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == letter.id).values(state=State.POSTED))
    session.commit()
    assert activate(client, path, email="bestand@example.org", code=code.lower()).status_code == 302
    # ... and dropped once the code was used
    session.expire_all()
    assert session.scalar(sa.select(OutboxMessage.pdf.is_(None)).where(OutboxMessage.id == letter.id))
    body = session.scalar(sa.select(OutboxMessage.body_html).where(OutboxMessage.id == letter.id))
    assert code not in body
    assert code.replace("-", "") not in body


def test_customer_login_by_email_or_contract_number_and_generic_error(outbox_app, police, twilio_server):
    contract, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    activate(client, link, code=sms_code(twilio_server))
    client.post("/portal/abmelden", data={"csrf_token": csrf_token(client, "/portal/dokumente")})
    assert client.get("/portal/dokumente").status_code == 302

    def portal_login(who, password):
        c = outbox_app.test_client()
        return c.post(
            "/portal/anmelden",
            data={"csrf_token": csrf_token(c, "/portal/anmelden"), "kennung": who, "passwort": password},
        )

    assert portal_login("KUNDE@example.org", PASSWORD).location == "/portal/dokumente"
    assert portal_login(contract.number, PASSWORD).location == "/portal/dokumente"
    for who, password in (("kunde@example.org", "Falsch-123!"), ("niemand@example.org", PASSWORD)):
        page = portal_login(who, password).get_data(as_text=True)
        assert "E-Mail-Adresse oder Passwort ungültig." in page
    for _ in range(4):
        portal_login("kunde@example.org", "Falsch-123!")
    assert portal_login("kunde@example.org", PASSWORD).status_code == 429  # throttled per account


def test_forgot_password_answers_the_same_and_the_link_works_once(outbox_app, police, twilio_server, smtp_server):
    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    activate(client, link, code=sms_code(twilio_server))
    answers = []
    for who in ("kunde@example.org", "unbekannt@example.org"):
        c = outbox_app.test_client()
        response = c.post(
            "/portal/passwort-vergessen",
            data={"csrf_token": csrf_token(c, "/portal/passwort-vergessen"), "kennung": who},
        )
        page = c.get(response.location).get_data(as_text=True)
        answers.append(re.findall(r'<p class="flash[^>]*>([^<]+)</p>', page))
    assert answers[0] == answers[1]  # no hint whether the account exists
    worker.run(outbox_app, once=True)
    mail = smtp_server.inbox.messages[-1]
    assert mail["Subject"] == "Passwort vergessen"
    assert mail["To"] == "kunde@example.org"
    reset = re.search(
        r"http://portal\.test(/portal/passwort-neu/[\w-]+)", mail.get_body(("plain",)).get_content()
    ).group(1)
    c = outbox_app.test_client()
    weak = c.post(reset, data={"csrf_token": csrf_token(c, reset), "passwort": "kurz", "passwort2": "anders"})
    page = weak.get_data(as_text=True)
    assert "mindestens 8 Zeichen" in page
    assert "Keine Übereinstimmung." in page
    done = c.post(
        reset,
        data={"csrf_token": csrf_token(c, reset), "passwort": "Neues-Passwort-7?", "passwort2": "Neues-Passwort-7?"},
    )
    assert done.location == "/portal/dokumente"
    again = outbox_app.test_client().get(reset)
    assert again.status_code == 410
    assert "nicht mehr gültig" in again.get_data(as_text=True)


def test_customer_a_cannot_open_customer_b_documents_or_staff_pages(outbox_app, police, twilio_server, session):
    contract_a, link_a = police(email="a@example.org", mobile="0151 11111111")
    contract_b, _ = police(email="b@example.org", mobile="0151 22222222")
    client = outbox_app.test_client()
    request_code(client, link_a)
    worker.run(outbox_app, once=True)
    activate(client, link_a, email="a@example.org", code=sms_code(twilio_server))
    b_document = session.scalar(sa.select(Document).where(Document.contract_id == contract_b.id))
    assert client.get(f"/portal/dokumente/{b_document.public_id}").status_code == 404
    token = csrf_token(client, "/portal/dokumente")
    assert (
        client.post("/portal/dokumente/zip", data={"csrf_token": token, "dokument": [b_document.public_id]}).status_code
        == 302
    )  # nothing of B's is selectable
    assert contract_b.number not in client.get("/portal/vertraege").get_data(as_text=True)
    assert client.get(f"/vertraege/{contract_a.public_id}").status_code == 403  # staff pages are not the portal


def test_zip_of_selected_documents_marks_them_read(outbox_app, police, twilio_server, session):
    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    activate(client, link, code=sms_code(twilio_server))
    ids = re.findall(r'name="dokument" value="([^"]+)"', client.get("/portal/dokumente").get_data(as_text=True))
    response = client.post(
        "/portal/dokumente/zip", data={"csrf_token": csrf_token(client, "/portal/dokumente"), "dokument": ids}
    )
    assert response.headers["Cache-Control"] == "private, no-store"  # personal data: never cached
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert len(names) == POLICING_DOCUMENTS
    one = client.get(f"/portal/dokumente/{ids[0]}")
    assert one.mimetype == "application/pdf"
    assert one.headers["Cache-Control"] == "private, no-store"
    assert all(n.endswith(".pdf") for n in names)
    page = client.get("/portal/dokumente").get_data(as_text=True)
    assert page.count(">Gelesen</td>") == POLICING_DOCUMENTS
    assert 'class="badge">Ungelesen' not in page


def test_new_documents_arrive_unread_with_one_email_after_a_short_delay(
    outbox_app, police, twilio_server, smtp_server, session, time_machine
):
    contract, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    activate(client, link, code=sms_code(twilio_server))
    from contracts.documents import add_document

    before = len(smtp_server.inbox.messages)
    with outbox_app.app_context():
        add_document(session, contract, DocumentKind.INVOICE, "Beitragsrechnung 2027", b"%PDF-1.4 test")
        add_document(session, contract, DocumentKind.ENDORSEMENT, "Nachtrag 1", b"%PDF-1.4 test")
    session.commit()
    worker.run(outbox_app, once=True)
    assert len(smtp_server.inbox.messages) == before  # collected for NEW_DOCUMENTS_DELAY_MINUTES
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    worker.run(outbox_app, once=True)
    assert len(smtp_server.inbox.messages) == before + 1  # two documents, one e-mail
    mail = smtp_server.inbox.messages[-1]
    assert mail["Subject"] == "Neue Dokumente in Ihrem Kunden-Portal"
    body = mail.get_body(("plain",)).get_content()
    assert "http://portal.test/portal/anmelden" in body
    assert contract.number not in body  # no contract details in the e-mail
    assert not [p for p in mail.walk() if p.get_content_disposition() == "attachment"]
    page = client.get("/portal/dokumente?status=ungelesen").get_data(as_text=True)
    assert "Beitragsrechnung 2027" in page
    assert "Nachtrag 1" in page


def test_onboarding_events_are_on_the_contracts_audit_trail(outbox_app, police, twilio_server, broker):
    contract, link = police()
    client = outbox_app.test_client()
    client.get(link)
    request_code(client, link)
    worker.run(outbox_app, once=True)
    activate(client, link, code="999999" if sms_code(twilio_server) != "999999" else "888888")
    activate(client, link, code=sms_code(twilio_server))
    staff = outbox_app.test_client()
    login(staff, broker.email)
    trail = staff.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    for label in (
        "Zugangslink versendet",
        "Zugangslink geöffnet",
        "Zugangs-Code versendet",
        "Zugangs-Code falsch eingegeben",
        "Kunden-Portal aktiviert",
    ):
        assert label in trail, label


def test_sensitive_message_bodies_are_blanked_after_real_delivery(outbox_app, police, session):
    police()
    mail = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "access_link"))
    session.refresh(mail)
    assert "/zugang/" not in mail.body_text
    assert "gelöscht" in mail.body_text


@pytest.mark.parametrize(
    ("password", "repeated", "errors"),
    [
        ("Sonnen-Blume-42!", "Sonnen-Blume-42!", {}),
        ("Grüße→Zürich7€", "Grüße→Zürich7€", {}),
        ("Kurz-1!", "Kurz-1!", {"passwort": ["Das Passwort muss mindestens 8 Zeichen lang sein."]}),
        (
            "sonnen-blume-42!",
            "sonnen-blume-42!",
            {"passwort": ["Das Passwort muss mindestens einen Großbuchstaben enthalten."]},
        ),
        ("Sonnen-Blume-!!", "Sonnen-Blume-!!", {"passwort": ["Das Passwort muss mindestens eine Zahl enthalten."]}),
        (
            "SonnenBlume42",
            "SonnenBlume42",
            {"passwort": ["Das Passwort muss mindestens ein Sonderzeichen enthalten (z. B. $, %, &)."]},
        ),
        (
            "Passwort123!",
            "Passwort123!",
            {"passwort": ["Dieses Passwort ist zu verbreitet und leicht zu erraten. Bitte wählen Sie ein anderes."]},
        ),
        ("Kunde!2024x", "Kunde!2024x", {"passwort": ["Das Passwort darf Ihre E-Mail-Adresse nicht enthalten."]}),
        ("Sonnen-Blume-42!", "Sonnen-Blume-43!", {"passwort2": ["Keine Übereinstimmung."]}),
        ("A1!" + "x" * 126, "A1!" + "x" * 126, {"passwort": ["Das Passwort darf höchstens 128 Zeichen lang sein."]}),
    ],
)
def test_password_rules(password, repeated, errors):
    from core.passwords import PasswordRule

    # a pure rule: no app, no database (the settings carry the rule into the service)
    assert check_new_password("kunde@example.org", password, repeated, PasswordRule()) == errors


def test_customers_are_kept_out_of_activation_by_a_wrong_email(outbox_app, police, twilio_server, session):
    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    page = activate(client, link, email="jemand@example.org", code=sms_code(twilio_server)).get_data(as_text=True)
    assert "E-Mail-Adresse oder Zugangs-Code ungültig." in page
    assert session.scalar(sa.select(PortalAccount.activated_at)) is None


def _active_customer(outbox_app, police, twilio_server):
    contract, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    worker.run(outbox_app, once=True)
    assert activate(client, link, code=sms_code(twilio_server)).location == "/portal/dokumente"
    return contract, client


def test_a_copied_portal_cookie_is_dead_after_logout(outbox_app, police, twilio_server):
    _, client = _active_customer(outbox_app, police, twilio_server)
    copied = client.get_cookie("vr_session").value
    client.post("/portal/abmelden", data={"csrf_token": csrf_token(client, "/portal/dokumente")})
    thief = outbox_app.test_client()
    thief.set_cookie("vr_session", copied)
    assert thief.get("/portal/dokumente").status_code == 302


def test_a_password_change_ends_every_other_session_of_the_customer(outbox_app, police, twilio_server):
    _, client = _active_customer(outbox_app, police, twilio_server)
    other = outbox_app.test_client()
    other.post(
        "/portal/anmelden",
        data={
            "csrf_token": csrf_token(other, "/portal/anmelden"),
            "kennung": "kunde@example.org",
            "passwort": PASSWORD,
        },
    )
    assert other.get("/portal/dokumente").status_code == 200
    old_cookie = client.get_cookie("vr_session").value
    changed = client.post(
        "/portal/passwort-aendern",
        data={
            "csrf_token": csrf_token(client, "/portal/passwort-aendern"),
            "aktuelles_passwort": PASSWORD,
            "passwort": "Anderes-Passwort-8?",
            "passwort2": "Anderes-Passwort-8?",
        },
    )
    assert changed.location == "/portal/dokumente"
    assert client.get("/portal/dokumente").status_code == 200  # this browser goes on with a new session
    assert other.get("/portal/dokumente").status_code == 302  # the other one is logged out
    replay = outbox_app.test_client()
    replay.set_cookie("vr_session", old_cookie)
    assert replay.get("/portal/dokumente").status_code == 302


def test_forgot_password_does_the_same_work_for_known_and_unknown_accounts(
    outbox_app, police, twilio_server, connection, session
):
    contract, _ = _active_customer(outbox_app, police, twilio_server)
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", statement))

    shapes = []
    for who in ("kunde@example.org", "unbekannt@example.org", contract.number, "VR-2026-9999999-0"):
        client = outbox_app.test_client()
        token = csrf_token(client, "/portal/passwort-vergessen")
        before = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        statements.clear()
        sa.event.listen(connection, "before_cursor_execute", remember)
        client.post("/portal/passwort-vergessen", data={"csrf_token": token, "kennung": who})
        sa.event.remove(connection, "before_cursor_execute", remember)
        shapes.append(list(statements))
        # nothing is looked up or sent in the request: the worker does that
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == before
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3]
    assert not any("customers" in s or "contracts" in s for s in shapes[0])
    worker.run(outbox_app, once=True)
    resets = session.scalars(
        sa.select(OutboxMessage.recipient).where(OutboxMessage.idempotency_key.like("password-reset-request:%"))
    ).all()
    assert resets == ["kunde@example.org", "kunde@example.org"]  # by e-mail and by Vertragsnummer


def test_portal_documents_with_an_absurd_page_number_show_the_last_page(outbox_app, police, twilio_server):
    _, client = _active_customer(outbox_app, police, twilio_server)
    page = client.get("/portal/dokumente?seite=99999999999999999999&anzahl=10")
    assert page.status_code == 200
    assert "Versicherungsschein" in page.get_data(as_text=True)


def test_the_back_office_sees_german_subjects_for_sms(outbox_app, police, twilio_server, make_user):
    from core.users import Role

    _, link = police()
    client = outbox_app.test_client()
    request_code(client, link)
    office = outbox_app.test_client()
    login(office, make_user(Role.BACKOFFICE).email)
    page = office.get("/innendienst/nachrichten?art=sms").get_data(as_text=True)
    assert "Zugangs-Code für das Kunden-Portal" in page
    assert "access_code" not in page

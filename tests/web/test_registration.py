"""Self-registration (issue #29, seed 002) and the consent to the portal's texts, through the pages,
against the real SMTP server; the worker answers the registrations, letters are read back as PDFs."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from contracts.models import Contract, Delivery
from core import clock
from messaging import worker
from messaging.models import OutboxMessage
from onboarding.models import AccessCode, AccessLink, PortalAccount, PortalConsent, RegistrationRequest
from tests.helpers import csrf_token, demo_stock, login, with_settings

PASSWORD = "Sonnen-Blume-42!"
HELGA = {"vertragsnummer": "BV-4711001", "geburtsdatum": "12.03.1961"}  # demo Bestand (seed DEMO_EXISTING)
CONSENT = {"nutzungsbedingungen": "y", "datenschutz": "y"}


@pytest.fixture
def stock(outbox_app, session, broker, manager):
    return demo_stock(session, broker, manager)


def register(client, email="helga@example.org", email2=None, **changes):
    data = {**HELGA, "email": email, "email2": email2 or email, **CONSENT, **changes}
    return client.post("/portal/registrieren", data={"csrf_token": csrf_token(client, "/portal/registrieren"), **data})


def mails(session, template):
    return session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)).all()


def confirmation_path(smtp_server) -> str:
    text = smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"http://portal\.test(/zugang/[\w-]+)", text).group(1)


def letter_code(session) -> str:
    pdf = session.scalar(
        sa.select(OutboxMessage.pdf)
        .where(OutboxMessage.template == "access_code", OutboxMessage.pdf.is_not(None))
        .order_by(OutboxMessage.id.desc())
    )
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    return re.search(r"Ihr Zugangs-Code: ([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})", text).group(1)


def activate(client, path, code, email="helga@example.org", **extra):
    data = {"email": email, "zugangscode": code, "passwort": PASSWORD, "passwort2": PASSWORD, **extra}
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def test_seed_002_register_confirm_letter_code_password_portal(outbox_app, stock, session, smtp_server):
    """Seed 002: Versicherungsscheinnummer, the policyholder's birth date, the e-mail twice and the consent;
    a confirmation link (48 hours); after it the initial code by letter; with it the first password. The
    contract goes to portal delivery at the activation only."""
    client = outbox_app.test_client()
    page = register(client)
    assert page.status_code == 200
    assert "Wenn Ihre Angaben zu einem Vertrag passen" in page.get_data(as_text=True)
    helga = session.scalar(sa.select(Contract).where(Contract.number == "BV-4711001"))
    assert helga.delivery is Delivery.POST
    worker.run(outbox_app, once=True)
    (mail,) = mails(session, "registration_confirm")
    assert mail.recipient == "helga@example.org"
    path = confirmation_path(smtp_server)
    session.refresh(helga)
    assert helga.onboarding_state == "self_sent"
    assert helga.delivery is Delivery.POST  # nothing changes before the activation

    first = client.get(path).get_data(as_text=True)
    assert "E-Mail-Adresse bestätigen" in first
    assert not mails(session, "access_code")  # opening (a mail scanner's prefetch) confirms nothing
    confirmed = client.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(client, path)})
    assert confirmed.status_code == 302
    again = client.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "Ihre E-Mail-Adresse ist bereits bestätigt – Ihr Zugangs-Code kommt per Post" in again.get_data(as_text=True)
    (letter,) = mails(session, "access_code")  # one letter, however often the link is confirmed
    assert letter.address[0].endswith("Helga Brandt")
    assert "Lindenallee 3" in letter.address
    session.refresh(helga)
    assert helga.onboarding_state == "self_code"

    worker.run(outbox_app, once=True)  # the letter is rendered for the Postausgang
    code = letter_code(session)
    page = client.get(path).get_data(as_text=True)
    assert "Ihr Zugangs-Code kommt per Post an die Anschrift Ihres Vertrags" in page
    assert "Nutzungsbedingungen des Kunden-Portals zu" not in page  # agreed to when registering
    assert activate(client, path, code).status_code == 302
    session.expire_all()
    assert helga.delivery is Delivery.PORTAL
    assert helga.onboarding_state == "active"
    customer = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == "helga@example.org"))
    assert helga.customer_account_id == customer.id
    assert customer.activated_at is not None
    consent = session.scalar(sa.select(PortalConsent).where(PortalConsent.customer_id == customer.id))
    assert (consent.source, consent.terms_version) == ("registration", outbox_app.config["PORTAL_TERMS_VERSION"])
    assert client.get("/portal/vertraege").status_code == 200


def test_the_answer_is_the_same_whether_or_not_the_data_match(outbox_app, stock, session, connection):
    """No account enumeration: the page, and the SQL the request runs, are the same for a match, a wrong
    birth date (Helga's date for Stefan's contract) and an unknown contract; the worker decides, by
    e-mail only. (Their timing: bench/registration_timing.py.)"""
    statements: list[list[str]] = []
    answers = []
    # each with keys the limits have not seen yet (a count's state, not the match, shapes its UPDATE)
    for n, changes in enumerate(({}, {"vertragsnummer": "BV-4711002"}, {"vertragsnummer": "BV-0000000"})):
        client = outbox_app.test_client()
        token = csrf_token(client, "/portal/registrieren")
        seen: list[str] = []

        def remember(conn, cursor, statement, parameters, context, executemany, seen=seen):
            seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", statement))

        sa.event.listen(connection, "before_cursor_execute", remember)
        email = f"x{n}@example.org"
        data = {**HELGA, "email": email, "email2": email, **CONSENT, **changes}
        response = client.post("/portal/registrieren", data={"csrf_token": token, **data})
        sa.event.remove(connection, "before_cursor_execute", remember)
        statements.append(seen)
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert statements[0] == statements[1] == statements[2]
    assert not any("contracts" in s or "customers" in s for s in statements[0])
    assert answers[0][0] == answers[1][0] == answers[2][0] == 200
    csrf = re.compile(r'"X-CSRFToken": "[^"]*"|name="csrf_token"[^>]*')
    assert len({csrf.sub("", html) for _, html in answers}) == 1
    worker.run(outbox_app, once=True)
    assert len(mails(session, "registration_confirm")) == 1  # the match only
    outcomes = session.scalars(sa.select(RegistrationRequest.outcome).order_by(RegistrationRequest.id)).all()
    assert outcomes == ["confirmation", "no_match", "no_match"]


def test_an_address_of_another_customer_s_access_gets_the_seed_s_rule(outbox_app, stock, session):
    """Seed 002: "Aus Sicherheitsgründen kann keine E-Mail-Adresse mit einem anderen Kunden geteilt werden."""
    other = PortalAccount(email="schon@example.org", full_name="Stefan Krüger", activated_at=clock.now())
    session.add(other)
    session.flush()
    stock["BV-4711002"].customer_account_id = other.id
    session.commit()
    register(outbox_app.test_client(), email="schon@example.org")
    worker.run(outbox_app, once=True)
    assert not mails(session, "registration_confirm")
    (mail,) = mails(session, "registration_address_taken")
    assert mail.recipient == "schon@example.org"
    assert "kann eine E-Mail-Adresse nicht mit einem anderen Kunden geteilt werden" in mail.body_text


def test_a_contract_with_an_active_access_gets_a_hint_to_log_in(outbox_app, stock, session):
    helga = stock["BV-4711001"]
    customer = PortalAccount(email="helga.alt@example.org", full_name="Helga Brandt", activated_at=clock.now())
    session.add(customer)
    session.flush()
    helga.customer_account_id, helga.delivery, helga.onboarding_state = customer.id, Delivery.PORTAL, "active"
    session.commit()
    register(outbox_app.test_client(), email="neu@example.org")
    worker.run(outbox_app, once=True)
    (mail,) = mails(session, "registration_existing_access")
    assert "Passwort vergessen?" in mail.body_text
    assert "/portal/passwort-vergessen" in mail.body_text
    assert not mails(session, "registration_confirm")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vertragsnummer": "BV 47#11"}, "vertragsnummer", "so ein, wie sie auf Ihrem Versicherungsschein steht"),
        ({"geburtsdatum": "01.01.2090"}, "geburtsdatum", "Das Geburtsdatum liegt in der Zukunft."),
        ({"geburtsdatum": "31.02.1961"}, "geburtsdatum", "gibt es nicht im Kalender"),
        ({"email2": "anders@example.org"}, "email2", "Die beiden E-Mail-Adressen stimmen nicht überein."),
        ({"nutzungsbedingungen": ""}, "nutzungsbedingungen", "Bitte stimmen Sie den Nutzungsbedingungen zu."),
        ({"datenschutz": ""}, "datenschutz", "Datenschutzhinweise zur Kenntnis genommen haben"),
    ],
)
def test_bad_input_gets_a_german_message_at_the_field_and_keeps_what_was_typed(
    outbox_app, stock, session, changes, field, message
):
    client = outbox_app.test_client()
    response = register(client, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    slot = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    assert slot is not None
    assert message in slot.group(1)
    assert 'value="helga@example.org"' in html  # the first e-mail address stays; the repetition is typed again
    assert f'value="{changes.get("vertragsnummer", "BV-4711001").replace(" ", "").upper()}"' in html
    assert not session.scalar(sa.select(sa.func.count()).select_from(RegistrationRequest))


def test_registrations_per_contract_are_limited_and_the_same_form_sends_one_e_mail(outbox_app, stock, session):
    client = outbox_app.test_client()
    for _ in range(3):
        assert register(client).status_code == 200
    limited = register(client)
    assert limited.status_code == 429
    assert "Bitte warten Sie 1 Minute" in limited.get_data(as_text=True)
    worker.run(outbox_app, once=True)
    assert len(mails(session, "registration_confirm")) == 1  # three requests, one confirmation e-mail
    assert session.scalars(sa.select(RegistrationRequest.outcome)).all() == ["confirmation", "repeated", "repeated"]


def test_the_confirmation_link_ends_after_48_hours_and_the_contract_stays_on_post(
    outbox_app, stock, session, smtp_server, time_machine
):
    client = outbox_app.test_client()
    register(client)
    worker.run(outbox_app, once=True)
    path = confirmation_path(smtp_server)
    time_machine.move_to(clock.now() + timedelta(hours=48, minutes=1))
    page = client.get(path)
    assert page.status_code == 410
    assert "Bitte registrieren Sie sich erneut" in page.get_data(as_text=True)
    worker.run(outbox_app, once=True)  # the expired self-registration is ended by the worker
    helga = session.scalar(sa.select(Contract).where(Contract.number == "BV-4711001"))
    session.refresh(helga)
    assert (helga.onboarding_state, helga.delivery) == ("post", Delivery.POST)


def test_an_expired_code_is_replaced_on_request_a_few_times_a_month(
    outbox_app, stock, session, smtp_server, time_machine
):
    with_settings(outbox_app, "onboarding_settings", registration_letters_per_30_days=2)
    client = outbox_app.test_client()
    register(client)
    worker.run(outbox_app, once=True)
    path = confirmation_path(smtp_server)
    client.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(client, path)})
    still = client.post(f"{path}/neuer-code", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "noch gültig" in still.get_data(as_text=True)
    time_machine.move_to(clock.now() + timedelta(days=8))
    session.execute(sa.update(AccessLink).values(expires_at=clock.now() + timedelta(days=30)))  # link still open
    session.execute(sa.update(AccessCode).values(expires_at=clock.now() - timedelta(minutes=1)))
    session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "Neuen Code anfordern" in page
    sent = client.post(f"{path}/neuer-code", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "Ein neuer Zugangs-Code ist unterwegs" in sent.get_data(as_text=True)
    assert len(mails(session, "access_code")) == 2
    session.execute(sa.update(AccessCode).values(expires_at=clock.now() - timedelta(minutes=1)))
    session.commit()
    limit = client.post(f"{path}/neuer-code", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "schon mehrere Briefe" in limit.get_data(as_text=True)
    assert len(mails(session, "access_code")) == 2
    # the second letter's code, still valid, opens the portal (the first one's was superseded)
    session.execute(
        sa.update(AccessCode)
        .where(AccessCode.superseded_at.is_(None))
        .values(expires_at=clock.now() + timedelta(days=1))
    )
    session.commit()
    worker.run(outbox_app, once=True)
    assert activate(client, path, letter_code(session)).status_code == 302


def test_a_new_version_of_the_texts_asks_again_at_the_next_login(outbox_app, stock, session, smtp_server):
    """Issue #29 item 7: the portal is usable after the consent to the current texts only."""
    client = outbox_app.test_client()
    register(client)
    worker.run(outbox_app, once=True)
    path = confirmation_path(smtp_server)
    client.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(client, path)})
    worker.run(outbox_app, once=True)
    assert activate(client, path, letter_code(session)).status_code == 302
    assert client.get("/portal/dokumente").status_code == 200
    with_settings(outbox_app, "onboarding_settings", terms_version="2027-01-01")
    assert client.get("/portal/dokumente").headers["Location"].endswith("/portal/zustimmung")
    refused = client.post(
        "/portal/zustimmung", data={"csrf_token": csrf_token(client, "/portal/zustimmung"), "datenschutz": "y"}
    )
    assert refused.status_code == 422
    assert "Bitte stimmen Sie den Nutzungsbedingungen zu." in refused.get_data(as_text=True)
    agreed = client.post("/portal/zustimmung", data={"csrf_token": csrf_token(client, "/portal/zustimmung"), **CONSENT})
    assert agreed.status_code == 302
    assert client.get("/portal/dokumente").status_code == 200
    versions = session.scalars(sa.select(PortalConsent.terms_version).order_by(PortalConsent.id)).all()
    assert versions == [outbox_app.config["PORTAL_TERMS_VERSION"], "2027-01-01"]


def test_a_broker_started_activation_asks_for_the_consent(outbox_app, stock, session, smtp_server, manager):
    from onboarding.invitations import invite_existing_customer
    from onboarding.settings import current as current_settings

    with outbox_app.app_context():
        invite_existing_customer(session, stock["BV-4711003"], "oemer@example.org", current_settings())
    session.commit()
    worker.run(outbox_app, once=True)
    path = confirmation_path(smtp_server)
    client = outbox_app.test_client()
    assert "Ich stimme den Nutzungsbedingungen des Kunden-Portals zu." in client.get(path).get_data(as_text=True)
    refused = activate(client, path, letter_code(session), email="oemer@example.org")
    assert refused.status_code == 422
    assert "Bitte stimmen Sie den Nutzungsbedingungen zu." in refused.get_data(as_text=True)
    assert activate(client, path, letter_code(session), email="oemer@example.org", **CONSENT).status_code == 302
    sources = session.scalars(sa.select(PortalConsent.source)).all()
    assert sources == ["activation"]


def test_the_bestand_shows_a_self_registration_with_its_own_state(outbox_app, stock, session, smtp_server, manager):
    register(outbox_app.test_client())
    worker.run(outbox_app, once=True)
    staff = outbox_app.test_client()
    assert login(staff, manager.email).status_code == 302
    html = staff.get("/bestand/?q=BV-4711001").get_data(as_text=True)
    assert "Selbst registriert: Bestätigung gesendet" in html
    path = confirmation_path(smtp_server)
    customer = outbox_app.test_client()
    customer.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(customer, path)})
    html = staff.get("/bestand/?q=BV-4711001").get_data(as_text=True)
    assert "Selbst registriert: Code-Brief im Postausgang" in html
    filtered = staff.get("/bestand/?status=Selbst+registriert%3A+Code+versendet").get_data(as_text=True)
    assert "BV-4711001" in filtered
    assert "BV-4711001" not in staff.get("/bestand/?status=Code+versendet").get_data(as_text=True)


def test_the_funnel_counts_a_self_registration_as_its_own_and_open_not_back_on_post(
    outbox_app, stock, session, manager
):
    """Issue #29 item 6: a self-registered contract is on post delivery until the activation — in the
    funnel it is an open invitation of its own kind ("selbst registriert"), not "zurück auf Post"."""
    register(outbox_app.test_client())
    worker.run(outbox_app, once=True)
    staff = outbox_app.test_client()
    assert login(staff, manager.email).status_code == 302
    html = staff.get("/agentur/kennzahlen").get_data(as_text=True)
    assert re.search(r"1 selbst registriert</a>", html)
    listed = staff.get("/bestand/?schritt=selbst").get_data(as_text=True)
    assert "BV-4711001" in listed
    assert "BV-4711001" in staff.get("/bestand/?schritt=offen").get_data(as_text=True)
    assert "BV-4711001" not in staff.get("/bestand/?schritt=post").get_data(as_text=True)


def test_a_code_letter_not_arrived_after_a_week_can_be_asked_for_again(
    outbox_app, stock, session, smtp_server, time_machine
):
    client = outbox_app.test_client()
    register(client)
    worker.run(outbox_app, once=True)
    path = confirmation_path(smtp_server)
    client.post(f"{path}/bestaetigen", data={"csrf_token": csrf_token(client, path)})
    soon = client.post(f"{path}/neuer-code", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "Ihr Brief mit dem Zugangs-Code ist unterwegs" in soon.get_data(as_text=True)
    time_machine.move_to(clock.now() + timedelta(days=8))  # the code is valid 30 days, the letter is lost
    later = client.post(f"{path}/neuer-code", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "Ein neuer Zugangs-Code ist unterwegs" in later.get_data(as_text=True)
    codes = session.scalars(sa.select(AccessCode).order_by(AccessCode.id)).all()
    assert [c.superseded_at is not None for c in codes] == [True, False]  # the lost letter's code ends


def test_a_new_registration_ends_the_earlier_one_and_its_code_letter(outbox_app, stock, session, smtp_server):
    client = outbox_app.test_client()
    register(client)
    worker.run(outbox_app, once=True)
    first = confirmation_path(smtp_server)
    client.post(f"{first}/bestaetigen", data={"csrf_token": csrf_token(client, first)})
    (letter,) = mails(session, "access_code")
    from messaging.models import State

    letter.state = State.POSTED  # the back office posted it (a letter still waiting is printed as it is)
    session.commit()
    register(client, email="helga.neu@example.org")  # another address: a new registration
    worker.run(outbox_app, once=True)
    second = confirmation_path(smtp_server)
    assert second != first
    assert client.get(first).status_code == 410  # "Sie haben sich inzwischen erneut registriert"
    session.refresh(letter)
    assert letter.pdf is None  # the old code letter is not kept
    assert "Ihr Zugangs-Code:" not in (letter.body_html or "")  # only the note that it was deleted

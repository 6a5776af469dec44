"""Optional two-factor login (issue #15, item 7): TOTP switched on in the portal with a QR code
rendered on our side, recovery codes stored as HMAC and usable once, the login asks for the code,
a code counts once (replay refused in its own window), wrong codes throttled like passwords, a
password reset does not pass the second factor, the back office resets it on a verified request
(audited). The clock is moved with time-machine across the 30-second code windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from core import tokens
from core.audit import AuditEntry
from messaging import worker
from onboarding import two_factor
from onboarding.models import PortalAccount, RecoveryCode
from onboarding.settings import current as current_settings
from tests.helpers import csrf_token
from tests.web.test_onboarding import PASSWORD, _active_customer, police  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("demo_reference")

START = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)  # at a step boundary (…:00)


def _post(client, url, page=None, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page or url), **data})


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def _customer(session, contract) -> PortalAccount:
    customer = session.get(PortalAccount, contract.customer_account_id)
    session.refresh(customer)
    return customer


@pytest.fixture
def enabled(outbox_app, police, twilio_server, session, time_machine):  # noqa: F811
    """An active customer who switched two-factor login on at START; returns its secret and codes."""
    time_machine.move_to(START, tick=False)
    contract, client = _active_customer(outbox_app, police, twilio_server)
    setup = client.get("/portal/sicherheit/einrichten")
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200
    assert setup.headers["Cache-Control"] == "private, no-store"
    assert "<svg" in html  # the QR code, rendered here
    customer = _customer(session, contract)
    assert customer.totp_secret.startswith("gAAAAA")  # encrypted at rest (issue #25 item 11)
    secret = two_factor.plain_secret(customer, outbox_app.extensions["onboarding_settings"])
    assert secret
    assert secret not in customer.totp_secret
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    assert customer.totp_enabled_at is None  # not before a first code
    wrong = _post(client, "/portal/sicherheit/einrichten", code="12345")
    assert wrong.status_code == 422
    assert "Der Code stimmt nicht." in wrong.get_data(as_text=True)
    on = _post(client, "/portal/sicherheit/einrichten", code=_code(secret, START))
    assert on.status_code == 200
    assert on.headers["Cache-Control"] == "private, no-store"
    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", on.get_data(as_text=True))
    assert len(codes) == 10
    stored = session.scalars(sa.select(RecoveryCode.code_hmac).where(RecoveryCode.customer_id == customer.id)).all()
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)  # HMACs, not the codes
    return contract, secret, codes


def _login(app, password=PASSWORD):
    client = app.test_client()
    response = _post(client, "/portal/anmelden", kennung="kunde@example.org", passwort=password)
    return client, response


def test_the_login_asks_for_the_code_and_a_code_counts_once(outbox_app, enabled, session, time_machine):
    contract, secret, _codes = enabled
    client, response = _login(outbox_app)
    assert response.location == "/portal/anmelden/code"
    assert client.get("/portal/dokumente").status_code == 302  # not logged in with the password alone
    page = client.get("/portal/anmelden/code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page
    time_machine.move_to(START + timedelta(seconds=31))
    code = _code(secret, START + timedelta(seconds=31))
    ok = _post(client, "/portal/anmelden/code", code=code)
    assert ok.location == "/portal/dokumente"
    assert client.get("/portal/dokumente").status_code == 200
    # the same code again, within its window (someone looked over the shoulder): refused
    other, _ = _login(outbox_app)
    replay = _post(other, "/portal/anmelden/code", code=code)
    assert replay.status_code == 422
    assert "Dieser Code wurde bereits verwendet." in replay.get_data(as_text=True)
    # and a code of an earlier step (still inside the ±1 window) as well
    earlier = _post(other, "/portal/anmelden/code", code=_code(secret, START))
    assert "bereits verwendet" in earlier.get_data(as_text=True)
    time_machine.move_to(START + timedelta(seconds=61))
    assert _post(other, "/portal/anmelden/code", code=_code(secret, START + timedelta(seconds=61))).location == (
        "/portal/dokumente"
    )
    actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == contract.public_id)).all()
    assert actions.count("customer_password_ok") == 2
    assert actions.count("customer_login") >= 2
    assert "two_factor_failed" in actions


def test_wrong_codes_are_throttled_and_the_pending_login_expires(outbox_app, enabled, time_machine):
    _contract, secret, _codes = enabled
    client, _ = _login(outbox_app)
    for _ in range(5):  # TOTP_FREE_ATTEMPTS: the fifth wrong code sets the first delay
        assert _post(client, "/portal/anmelden/code", code="000000").status_code == 422
    blocked = _post(client, "/portal/anmelden/code", code=_code(secret, START))
    assert blocked.status_code == 429
    assert "Zu viele Fehlversuche" in blocked.get_data(as_text=True)
    time_machine.move_to(START + timedelta(minutes=6))  # TOTP_LOGIN_MINUTES = 5
    late = client.get("/portal/anmelden/code")
    assert late.location == "/portal/anmelden"


def test_a_recovery_code_works_once(outbox_app, enabled, session):
    contract, _secret, codes = enabled
    client, _ = _login(outbox_app)
    form = client.get("/portal/anmelden/code?wiederherstellung=1").get_data(as_text=True)
    assert 'inputmode="numeric"' not in form  # letters too
    ok = _post(client, "/portal/anmelden/code?wiederherstellung=1", code=codes[0].lower())
    assert ok.location == "/portal/dokumente"
    again, _ = _login(outbox_app)
    used = _post(again, "/portal/anmelden/code?wiederherstellung=1", code=codes[0])
    assert "Der Wiederherstellungscode stimmt nicht oder wurde schon verwendet." in used.get_data(as_text=True)
    customer = _customer(session, contract)
    assert two_factor.recovery_left(session, customer) == 9


def test_a_password_reset_does_not_pass_the_second_factor(outbox_app, enabled, session, smtp_server):
    _contract, _secret, _codes = enabled
    client = outbox_app.test_client()
    _post(client, "/portal/passwort-vergessen", kennung="kunde@example.org")
    worker.run(outbox_app, once=True)
    mail = smtp_server.inbox.messages[-1].get_body(("plain",)).get_content()
    link = re.search(r"http://portal\.test(/portal/passwort-neu/[\w-]+)", mail).group(1)
    reset = _post(client, link, passwort="Neues-Passwort-9?", passwort2="Neues-Passwort-9?")
    assert reset.location == "/portal/anmelden/code"
    assert client.get("/portal/dokumente").status_code == 302


def test_switching_off_needs_password_and_code(outbox_app, enabled, session, time_machine):
    contract, secret, _codes = enabled
    client, _ = _login(outbox_app)
    time_machine.move_to(START + timedelta(seconds=30))
    _post(client, "/portal/anmelden/code", code=_code(secret, START + timedelta(seconds=30)))
    wrong = _post(client, "/portal/sicherheit/ausschalten", page="/portal/sicherheit", passwort="falsch", code="123456")
    assert wrong.status_code == 422
    assert "Das Passwort ist falsch." in wrong.get_data(as_text=True)
    time_machine.move_to(START + timedelta(seconds=60))
    off = _post(
        client,
        "/portal/sicherheit/ausschalten",
        page="/portal/sicherheit",
        passwort=PASSWORD,
        code=_code(secret, START + timedelta(seconds=60)),
    )
    assert off.location == "/portal/sicherheit"
    customer = _customer(session, contract)
    assert customer.totp_secret is None
    assert customer.totp_enabled_at is None
    assert session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    _, response = _login(outbox_app)
    assert response.location == "/portal/dokumente"


def test_the_back_office_resets_it_on_a_verified_request(outbox_app, enabled, session, backoffice, broker_client):
    contract, _secret, _codes = enabled
    staff = outbox_app.test_client()
    from tests.helpers import login

    login(staff, backoffice.email)
    assert broker_client.get("/innendienst/zwei-faktor").status_code == 403
    found = staff.get("/innendienst/zwei-faktor?kennung=" + contract.number)
    html = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "eingeschaltet seit" in html
    customer = _customer(session, contract)
    url = f"/innendienst/zwei-faktor/{customer.public_id}"
    missing = _post(staff, url, page=f"/innendienst/zwei-faktor?kennung={contract.number}", bemerkung="")
    assert missing.status_code == 422
    assert "Bitte wählen Sie, wie die Anfrage geprüft wurde." in missing.get_data(as_text=True)
    done = _post(
        staff,
        url,
        page=f"/innendienst/zwei-faktor?kennung={contract.number}",
        pruefung="rueckruf",
        bemerkung="Rückruf 26.11. unter 0151 12345678",
    )
    assert done.status_code == 302
    customer = _customer(session, contract)
    assert customer.totp_enabled_at is None
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "two_factor_reset")).one()
    assert entry.actor_id == backoffice.id
    assert entry.details["verified_by"].startswith("Rückruf")
    assert entry.object_id == contract.public_id


def test_codes_windows_as_a_service(outbox_app, enabled, session, time_machine):
    """pure rule at the service: ±1 step accepted, two steps off refused, each step once."""
    contract, secret, _codes = enabled
    customer = _customer(session, contract)
    with outbox_app.app_context():
        settings = current_settings()
    at = START + timedelta(minutes=10)
    assert two_factor._matching_step(secret, _code(secret, at - timedelta(seconds=30)), at, settings, customer)
    assert two_factor._matching_step(secret, _code(secret, at + timedelta(seconds=30)), at, settings, customer)
    assert two_factor._matching_step(secret, _code(secret, at - timedelta(seconds=60)), at, settings, customer) is None
    assert two_factor._use_totp(session, customer, _code(secret, at), at, settings) == "ok"
    assert two_factor._use_totp(session, customer, _code(secret, at), at, settings) == "replayed"
    assert tokens.normalize_code("abcde-fghjk") == "ABCDEFGHJK"


@pytest.mark.parametrize("digits", ["١٢٣٤٥٦", "１２３４５６", "۱۲۳۴۵۶"])
def test_non_ascii_digits_in_a_code_are_a_wrong_code_not_a_server_error(outbox_app, enabled, digits):
    """Issue #25 item 7: Arabic-Indic, full-width or Persian digits raised TypeError in
    hmac.compare_digest (set-up, the login's second step, ausschalten, neue Codes): now a wrong code."""
    client, _ = _login(outbox_app)
    second = _post(client, "/portal/anmelden/code", code=digits)
    assert second.status_code == 422
    assert tokens.same("١٢٣٤٥٦", "١٢٣٤٥٦")
    assert not tokens.same("123456", "١٢٣٤٥٦")

import dataclasses
from datetime import timedelta

import sqlalchemy as sa

from core.audit import AuditEntry
from core.users import Role
from tests.helpers import PASSWORD, csrf_token, login, post_form, with_settings

GENERIC = "E-Mail-Adresse oder Passwort ungültig."


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/vermittler/")
    assert response.status_code == 302
    assert response.location.startswith("/anmelden?next=")


def test_login_page_is_german_and_labels_every_field(client):
    page = client.get("/anmelden").get_data(as_text=True)
    assert '<html lang="de">' in page
    assert '<label class="field__label" for="email">E-Mail-Adresse' in page
    assert '<label class="field__label" for="password">Passwort' in page


def test_each_role_lands_on_its_start_page(app, broker, manager, backoffice):
    for user, home, heading in [
        (broker, "/vermittler/", "Startseite Vermittler"),
        (manager, "/agentur/", "Startseite Agenturleiter"),
        (backoffice, "/innendienst/", "Startseite Innendienst"),
    ]:
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302
        assert response.location == home
        page = client.get(home).get_data(as_text=True)
        assert f"<h1>{heading}</h1>" in page
        assert user.full_name in page


def test_email_is_case_insensitive(app, broker):
    response = login(app.test_client(), "  " + broker.email.upper())
    assert response.status_code == 302


def test_a_hash_of_another_cost_is_renewed_at_the_next_login(app, broker, session):
    """PASSWORD_HASH_* raised (or lowered) later: each staff member's hash follows at his next login."""
    from argon2 import PasswordHasher

    broker.password_hash = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1).hash(PASSWORD)
    session.commit()
    assert login(app.test_client(), broker.email).status_code == 302
    session.refresh(broker)
    cost = app.config["PASSWORD_HASH_MEMORY_KIB"], app.config["PASSWORD_HASH_TIME_COST"]
    assert broker.password_hash.startswith("$argon2id$v=19$m={},t={},p=".format(*cost))
    assert login(app.test_client(), broker.email).status_code == 302  # the new hash verifies


def test_wrong_password_and_unknown_email_get_the_same_generic_error(client, broker):
    wrong = login(client, broker.email, "Falsch-Passwort-9!")
    unknown = login(client, "niemand@example.org", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert GENERIC in page
        assert "Falsch-Passwort-9!" not in page
        assert PASSWORD not in page
    # the e-mail typed stays in the form
    assert f'value="{broker.email}"' in wrong.get_data(as_text=True)


def test_empty_fields_get_german_messages_next_to_the_fields(client):
    page = post_form(client, "/anmelden", {"email": "", "password": ""}).get_data(as_text=True)
    assert 'id="email-error">Bitte geben Sie Ihre E-Mail-Adresse ein.' in page
    assert 'id="password-error">Bitte geben Sie Ihr Passwort ein.' in page
    assert 'aria-describedby="email-error"' in page
    assert 'aria-invalid="true"' in page
    assert '<a href="#email">E-Mail-Adresse: Bitte geben Sie Ihre E-Mail-Adresse ein.</a>' in page  # summary


def test_deactivated_user_cannot_log_in(app, make_user, agency):
    user = make_user(Role.BROKER, agency, active=False)
    response = login(app.test_client(), user.email)
    assert response.status_code == 200
    assert GENERIC in response.get_data(as_text=True)


def test_failed_and_successful_logins_are_audited(client, broker, session):
    login(client, broker.email, "Falsch-Passwort-9!")
    login(client, broker.email)
    actions = session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.actor_id == broker.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["login_failed", "login"]


def test_repeated_failures_for_one_account_get_growing_delays_not_a_lock(app, broker, time_machine):
    from datetime import timedelta

    from core import clock

    start = clock.now()
    time_machine.move_to(start, tick=False)
    client = app.test_client()
    for _ in range(5):  # LOGIN_FREE_ATTEMPTS_PER_ACCOUNT
        assert login(client, broker.email, "Falsch-Passwort-9!").status_code == 200
    blocked = login(client, broker.email, PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429
    assert "Bitte warten Sie 2 Sekunden" in blocked.get_data(as_text=True)
    # case and spaces of the login name do not give fresh attempts
    assert login(client, "  " + broker.email.upper(), PASSWORD).status_code == 429
    # another account from the same address is not slowed down by this one
    assert login(app.test_client(), "andere@example.org", "x").status_code == 200
    # the wait ends: the next failure doubles it, and the right password gets through afterwards
    time_machine.move_to(start + timedelta(seconds=3), tick=False)
    assert login(client, broker.email, "Falsch-Passwort-9!").status_code == 200
    again = login(client, broker.email, PASSWORD)
    assert again.status_code == 429
    assert "4 Sekunden" in again.get_data(as_text=True)
    time_machine.move_to(start + timedelta(seconds=8), tick=False)
    assert login(client, broker.email, PASSWORD).status_code == 302


def test_an_outsider_cannot_lock_the_owner_out_for_longer_than_the_cap(app, broker, time_machine):
    from datetime import timedelta

    from core import clock

    start = clock.now()
    time_machine.move_to(start, tick=False)
    attacker = app.test_client()
    moment = start
    for _ in range(40):  # keeps guessing whenever the delay allows it
        login(attacker, broker.email, "Falsch-Passwort-9!")
        moment += timedelta(seconds=app.config["LOGIN_MAX_DELAY_ACCOUNT_SECONDS"])
        time_machine.move_to(moment, tick=False)
    # the delay never exceeds the cap: after it the owner logs in (from his own address)
    owner = app.test_client()
    response = post_form(
        owner, "/anmelden", {"email": broker.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 302


def test_repeated_failures_from_one_address_are_throttled(app):
    limits = dataclasses.replace(app.extensions["staff_settings"].login, free_per_address=3)
    with_settings(app, "staff_settings", login=limits)
    client = app.test_client()
    for n in range(3):
        assert login(client, f"probe{n}@example.org", "x").status_code == 200
    assert login(client, "probe9@example.org", "x").status_code == 429


def test_successful_logins_do_not_count_against_the_limit(app, broker):
    for _ in range(7):
        client = app.test_client()
        assert login(client, broker.email).status_code == 302


def test_open_redirect_after_login_is_refused(app, broker):
    client = app.test_client()
    token = csrf_token(client, "/anmelden")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            f"/anmelden?next={target}", data={"csrf_token": token, "email": broker.email, "password": PASSWORD}
        )
        assert response.location == "/vermittler/"
        client.post("/abmelden", data={"csrf_token": csrf_token(client, "/vermittler/")})
        token = csrf_token(client, "/anmelden")
    response = client.post(
        "/anmelden?next=/vermittler/", data={"csrf_token": token, "email": broker.email, "password": PASSWORD}
    )
    assert response.location == "/vermittler/"


def test_logout_needs_post_with_csrf_and_ends_the_session(broker_client):
    assert broker_client.get("/abmelden").status_code == 405
    assert broker_client.post("/abmelden").status_code == 400  # no CSRF token
    response = post_form(broker_client, "/abmelden", {}, page="/vermittler/")
    assert response.status_code == 302
    assert response.location == "/anmelden"
    assert broker_client.get("/vermittler/").status_code == 302


def test_a_copied_session_cookie_is_dead_after_logout(app, broker):
    client = app.test_client()
    assert login(client, broker.email).status_code == 302
    copied = client.get_cookie("vr_session").value
    post_form(client, "/abmelden", {}, page="/vermittler/")
    thief = app.test_client()
    thief.set_cookie("vr_session", copied)
    assert thief.get("/vermittler/").status_code == 302  # replayed: back to the login page


def test_ending_all_sessions_of_a_user_logs_out_every_browser(app, broker, session):
    from core import sessions

    first, second = app.test_client(), app.test_client()
    assert login(first, broker.email).status_code == 302
    assert login(second, broker.email).status_code == 302
    sessions.end_all(session, "staff", broker.id)
    session.flush()
    assert first.get("/vermittler/").status_code == 302
    assert second.get("/vermittler/").status_code == 302


def test_a_deactivated_user_loses_his_session(broker_client, broker, session):
    broker.is_active = False
    session.flush()
    assert broker_client.get("/vermittler/").status_code == 302


def test_session_has_an_absolute_maximum_age(app, broker_client):
    with broker_client.session_transaction() as s:
        s["login_at"] -= app.config["SESSION_MAX_HOURS"] * 3600 + 1
    assert broker_client.get("/vermittler/").status_code == 302


def test_a_staff_password_change_ends_every_other_session(app, broker, session):
    here, elsewhere = app.test_client(), app.test_client()
    assert login(here, broker.email).status_code == 302
    assert login(elsewhere, broker.email).status_code == 302
    old_cookie = here.get_cookie("vr_session").value
    wrong = post_form(
        here,
        "/passwort-aendern",
        {"aktuelles_passwort": "falsch", "passwort": "Neues-Passwort-9!", "passwort2": "Neues-Passwort-9!"},
    )
    assert wrong.status_code == 422
    assert "Das aktuelle Passwort ist nicht richtig." in wrong.get_data(as_text=True)
    done = post_form(
        here,
        "/passwort-aendern",
        {"aktuelles_passwort": PASSWORD, "passwort": "Neues-Passwort-9!", "passwort2": "Neues-Passwort-9!"},
    )
    assert done.status_code == 302
    assert here.get("/vermittler/").status_code == 200  # this browser goes on
    assert elsewhere.get("/vermittler/").status_code == 302  # every other session ended
    replay = app.test_client()
    replay.set_cookie("vr_session", old_cookie)
    assert replay.get("/vermittler/").status_code == 302
    assert login(app.test_client(), broker.email, "Neues-Passwort-9!").status_code == 302


# --- the idle timeout on the server (issue #28 item 2; SPEC §4: SESSION_IDLE_MINUTES) ------------------


def _last_seen(session, broker):
    from core.sessions import LoginSession

    session.expire_all()
    return session.scalar(
        sa.select(LoginSession.last_seen_at).where(
            LoginSession.account_id == broker.id, LoginSession.ended_at.is_(None)
        )
    )


def test_a_session_idle_longer_than_the_idle_time_is_over(app, broker_client, time_machine):
    """SPEC §4: after SESSION_IDLE_MINUTES without a request the user logs in again."""
    from core import clock

    time_machine.move_to(clock.now() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    response = broker_client.get("/vermittler/")
    assert response.status_code == 302
    assert "/anmelden" in response.location


def test_activity_keeps_the_session_alive_and_is_written_at_most_once_a_minute(
    app, broker_client, broker, session, time_machine
):
    from core import clock

    logged_in = _last_seen(session, broker)
    assert broker_client.get("/vermittler/").status_code == 200  # the first page puts the CSRF token in
    time_machine.move_to(logged_in + timedelta(seconds=30), tick=False)
    response = broker_client.get("/vermittler/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # the cookie is not signed anew on every response
    assert _last_seen(session, broker) == logged_in  # within a minute: nothing written
    time_machine.move_to(logged_in + timedelta(minutes=40), tick=False)
    assert broker_client.get("/vermittler/").status_code == 200
    assert _last_seen(session, broker) == clock.now()
    # 80 minutes after the login, but only 40 after the last request: still logged in
    time_machine.move_to(logged_in + timedelta(minutes=80), tick=False)
    assert broker_client.get("/vermittler/").status_code == 200


def test_the_customer_portal_has_the_same_idle_timeout(app, session, time_machine):
    """The portal's sessions (kind "customer") go through the same check."""
    from core import clock
    from core.sessions import LoginSession, Policy, load, start
    from onboarding.models import PortalAccount

    customer = PortalAccount(email="idle@example.org", full_name="Ida Le", activated_at=clock.now())
    session.add(customer)
    session.flush()
    token = start(session, "customer", customer.id)
    policy = Policy(idle=timedelta(minutes=60))
    assert load(session, "customer", PortalAccount, token, policy) is customer
    later = clock.now() + timedelta(minutes=60)
    assert load(session, "customer", PortalAccount, token, policy, now=later) is None
    row = session.scalar(sa.select(LoginSession).where(LoginSession.account_id == customer.id))
    assert row.ended_at is None  # idle is not ended: the next login starts a new session anyway

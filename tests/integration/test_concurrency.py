"""Limits under real parallelism: many threads, each with its own database connection, hit one
onboarding, one reset link or one login at the same moment. On PostgreSQL (CI) the rows are locked
and counted by the database; on SQLite writers are serialised. Either way the limits are exact."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask

from contracts.models import Contract
from contracts.settings import current as contract_settings
from core import audit, clock, db, migrate
from core.app import create_app
from messaging import worker
from messaging.models import Kind, OutboxMessage
from onboarding.access import Activation, activate, send_sms_code
from onboarding.invitations import invite
from onboarding.login import process_reset_requests, reset_password
from onboarding.models import AccessCode, AccessLink, CodeChannel, PasswordReset, PasswordResetRequest, PortalAccount
from onboarding.settings import current as current_settings
from tests.conftest import database_url_for, messaging_environ, reset_database
from tests.helpers import login, post_form, run_jobs_until_idle

WRONG = "000000"
PASSWORD = "Sonnen-Blume-42!"


@pytest.fixture
def parallel_app(tmp_path, smtp_server, twilio_server) -> Iterator[Flask]:
    """An app on a database of its own where every thread commits for real (no test transaction)."""
    url = database_url_for("parallel", tmp_path)
    reset_database(url)
    app = create_app(environ=messaging_environ(url, smtp_server, twilio_server))
    database = app.extensions["database"]
    if database.engine.dialect.name == "postgresql":  # a pool with a connection for every thread
        database.engine.dispose()
        database.engine = sa.create_engine(url, pool_size=30, max_overflow=30)
        database.sessionmaker = so.sessionmaker(database.engine, expire_on_commit=False)
    engine = database.engine
    migrate.upgrade(engine)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    yield app
    engine.dispose()


def in_parallel(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads released at the same moment; each runs in its own app context and
    so with its own session and connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _invite_by_sms(app: Flask) -> int:
    """An existing demo contract switched to the portal with an SMS link; returns the link's id."""
    with app.app_context():
        s = db.session()
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711001"))
        customer = PortalAccount(email="helga.brandt@example.org", full_name=contract.customer_name)
        s.add(customer)
        s.flush()
        contract.customer_account_id = customer.id
        link = invite(
            s, customer, contract, channel=CodeChannel.SMS, mobile="+4915123456789", settings=current_settings()
        )
        s.commit()
        return link.id


def _send_code(app: Flask, link_id: int) -> str:
    with app.app_context():
        s = db.session()
        link = s.get(AccessLink, link_id)
        assert send_sms_code(s, link, resend=False, settings=current_settings()).status == "sent"
        s.commit()
        body = s.scalars(
            sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == Kind.SMS).order_by(OutboxMessage.id.desc())
        ).first()
        return re.search(r"(\d{6})", body).group(1)


def _audit_count(app: Flask, action: str) -> int:
    with app.app_context():
        return db.session().scalar(
            sa.select(sa.func.count()).select_from(audit.AuditEntry).where(audit.AuditEntry.action == action)
        )


def _activate(app: Flask, link_id: int, code: str) -> Activation:
    with app.app_context():
        s = db.session()
        link = s.get(AccessLink, link_id)
        result = activate(s, link, "helga.brandt@example.org", code, PASSWORD, PASSWORD, current_settings())
        s.commit()
        return result


def test_20_parallel_wrong_codes_are_evaluated_exactly_5_times_then_the_code_is_locked(parallel_app):
    link_id = _invite_by_sms(parallel_app)
    code = _send_code(parallel_app, link_id)
    results = in_parallel(20, lambda i: _activate(parallel_app, link_id, WRONG))
    assert all(r.customer is None for r in results)
    assert _audit_count(parallel_app, "access_code_wrong") == 5  # ACCESS_CODE_MAX_ATTEMPTS
    with parallel_app.app_context():
        assert db.session().scalar(sa.select(AccessCode.failed_attempts)) == 5
    # locked: even the right code no longer opens the portal
    late = _activate(parallel_app, link_id, code)
    assert late.customer is None
    assert "Zu viele Fehleingaben" in (late.message or "")


@pytest.mark.parametrize(("resend_seconds", "expected"), [(0, 5), (60, 1)])
def test_50_parallel_resends_send_exactly_what_the_limits_allow(parallel_app, twilio_server, resend_seconds, expected):
    with parallel_app.app_context():
        settings = dataclasses.replace(current_settings(), resend_seconds=resend_seconds)
    link_id = _invite_by_sms(parallel_app)

    def resend(_: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            result = send_sms_code(s, s.get(AccessLink, link_id), resend=True, settings=settings)
            s.commit()
            return result.status

    statuses = Counter(in_parallel(50, resend))
    assert statuses["sent"] == expected  # 5 a day (ACCESS_CODE_MAX_SENDS_PER_DAY) or 1 a minute
    worker.run(parallel_app, once=True)
    assert len(twilio_server.messages) == expected  # SMS that really reached twilio


def test_10_parallel_activations_with_the_right_code_set_exactly_one_password(parallel_app):
    link_id = _invite_by_sms(parallel_app)
    code = _send_code(parallel_app, link_id)
    results = in_parallel(10, lambda i: _activate(parallel_app, link_id, code))
    assert sum(r.customer is not None for r in results) == 1
    assert _audit_count(parallel_app, "portal_activated") == 1
    assert _audit_count(parallel_app, "access_code_wrong") == 0  # the losers were not told "wrong code"
    with parallel_app.app_context():
        s = db.session()
        assert s.scalar(sa.select(AccessLink.used_at).where(AccessLink.id == link_id)) is not None
        assert s.scalar(sa.select(AccessCode.failed_attempts)) == 0


def test_10_parallel_password_resets_with_one_link_succeed_once(parallel_app):
    link_id = _invite_by_sms(parallel_app)
    assert _activate(parallel_app, link_id, _send_code(parallel_app, link_id)).customer is not None
    with parallel_app.app_context():
        s = db.session()
        s.add(PasswordResetRequest(identifier="Helga.Brandt@example.org "))
        s.commit()
        assert process_reset_requests(s, current_settings()) == 1
        reset_id = s.scalar(sa.select(PasswordReset.id))

    def reset(i: int) -> bool:
        with parallel_app.app_context():
            s = db.session()
            result = reset_password(
                s, s.get(PasswordReset, reset_id), f"Neu-Passwort-{i}!", f"Neu-Passwort-{i}!", current_settings()
            )
            s.commit()
            return result.customer is not None

    assert sum(in_parallel(10, reset)) == 1
    assert _audit_count(parallel_app, "password_reset") == 1


def test_20_parallel_wrong_staff_logins_are_evaluated_5_times(parallel_app):
    def attempt(i: int) -> int:
        client = parallel_app.test_client()
        # case and spacing variants of one login name count against the same account
        name = "vermittler@demo.example" if i % 2 else " Vermittler@Demo.Example"
        return login(client, name, f"Falsch-{i}-Passwort!").status_code

    statuses = Counter(in_parallel(20, attempt))
    assert statuses == {200: 5, 429: 15}
    assert _audit_count(parallel_app, "login_failed") == 5  # LOGIN_FREE_ATTEMPTS_PER_ACCOUNT
    assert _audit_count(parallel_app, "login_throttled") == 15


def test_20_parallel_wrong_customer_logins_are_evaluated_5_times(parallel_app):
    link_id = _invite_by_sms(parallel_app)
    assert _activate(parallel_app, link_id, _send_code(parallel_app, link_id)).customer is not None
    variants = ["helga.brandt@example.org", "HELGA.BRANDT@example.org ", "BV-4711001", "bv-4711001"]

    def attempt(i: int) -> int:
        client = parallel_app.test_client()
        return post_form(
            client, "/portal/anmelden", {"kennung": variants[i % 4], "passwort": f"Falsch-{i}!"}
        ).status_code

    statuses = Counter(in_parallel(20, attempt))
    assert statuses == {200: 5, 429: 15}
    assert _audit_count(parallel_app, "customer_login_failed") == 5


def _referred_application(app: Flask) -> int:
    """A Rechtsschutz offer with a risk profession, applied for by the demo broker: in Risikoprüfung."""
    from werkzeug.datastructures import MultiDict

    from calculator import quotes
    from calculator.tariffs import Product
    from contracts import services as contract_services
    from contracts.models import ApplicationState, Delivery
    from core.users import User
    from tests.helpers import RS_ANSWERS

    with app.test_request_context():
        s = db.session()
        broker = s.scalar(sa.select(User).where(User.email == "vermittler@demo.example"))
        today = clock.today()
        formdata = MultiDict({**RS_ANSWERS, "risikoberuf": "ja"})
        quote = quotes.evaluate(s, app.extensions["tariffs"], Product.RS, formdata, today=today)
        offer = quotes.store_offer(s, broker, quote, formdata)
        data = contract_services.ApplicationData(
            start_date=today, account_holder="Jürgen Müller", iban="DE89370400440532013000", bic=None,
            delivery=Delivery.POST, email=None, mobile=None,
        )  # fmt: skip
        application = contract_services.submit_application(s, broker, offer, data, contract_settings())
        assert application.state is ApplicationState.REFERRED
        s.commit()
        return application.id


def test_two_clerks_accepting_one_application_at_once_police_it_once(parallel_app):
    """Without the row lock six clerks policed one application six times (and the one-to-one
    relationship left five contracts without their application)."""
    from contracts import services as contract_services
    from contracts.models import Application
    from core.users import Role, User

    application_id = _referred_application(parallel_app)
    with parallel_app.app_context():
        s = db.session()
        clerk = User(email="innendienst2@demo.example", full_name="Zweite Kollegin", role=Role.BACKOFFICE)
        clerk.password_hash = "x"
        s.add(clerk)
        s.commit()

    def accept(i: int) -> str:
        with parallel_app.test_request_context():
            s = db.session()
            who = s.scalar(sa.select(User).where(User.role == Role.BACKOFFICE).order_by(User.id).offset(i % 2))
            public_id = s.get(Application, application_id).public_id
            try:
                contract_services.accept_selected(s, [public_id], who, contract_settings())
            except contract_services.ApplicationError as error:
                s.rollback()
                return str(error)
            s.commit()
            return "policed"

    outcomes = in_parallel(6, accept)
    assert outcomes.count("policed") == 1
    assert set(outcomes) == {"policed", "Ein ausgewählter Antrag ist nicht mehr in der Risikoprüfung."}
    with parallel_app.app_context():
        numbers = db.session().execute(sa.select(Contract.number, Contract.application_id)).all()
    assert [n for n, a in numbers if a == application_id] == [n for n, _ in numbers if n.startswith("VR-")]
    assert len([n for n, _ in numbers if n.startswith("VR-")]) == 1
    assert _audit_count(parallel_app, "application_accepted") == 1


def test_two_workers_take_parts_of_one_bulk_switch_at_once_and_switch_every_row_once(parallel_app):
    """Issue #28 item 6: a large bulk switch is split into parts (core.jobs), and the parts claim
    chunks of the job's open rows with FOR UPDATE SKIP LOCKED — two workers run one job at once,
    no row is switched twice, and exactly one of them finishes the job."""
    from agency import bulk
    from agency import jobs as switch_jobs
    from agency.models import JobState, SwitchJob
    from contracts.imports import import_contracts
    from core import jobs
    from core.users import User
    from demo.seed import DEMO_EXISTING

    app, total = parallel_app, 3 * switch_jobs.PART_ROWS // 2  # two parts, each several chunks
    with app.app_context():
        s = db.session()
        stock = "".join(
            f"PA-{n:05d};agenturleiter@demo.example;rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n"
            for n in range(total)
        )
        import_contracts(s, (DEMO_EXISTING.split("\n")[0] + "\n" + stock).encode(), contract_settings().catalog)
        s.commit()
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        csv = "".join(f"PA-{n:05d};p{n}@example.org;0151 {n:08d}\n" for n in range(total)).encode()
        limits = bulk.Limits(max_bytes=10**6, max_rows=10**4, sync_rows=0)
        job = bulk.upload_job(s, manager, "parallel.csv", csv, limits)
        assert switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
        job_id = job.id
        parts = s.scalar(sa.select(sa.func.count()).where(jobs.Job.kind == switch_jobs.JOB_KIND))
    assert parts == 2
    steps = in_parallel(2, lambda _: run_jobs_until_idle(app, switch_jobs.JOB_KIND))
    if app.extensions["database"].engine.dialect.name == "postgresql":  # SQLite: one writer at a time
        assert all(n >= 1 for n in steps)  # both workers ran parts of the job at once
    with app.app_context():
        s = db.session()
        job = s.get(SwitchJob, job_id)
        assert job.state is JobState.DONE
        assert job.processed == total
        assert bulk.counts(s, job) == {"ok": 0, "error": 0, "switched": total, "failed": 0}
        for template in ("access_link", "access_code"):  # every row once: no second e-mail or letter
            assert s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == template)) == total
        switched = sa.select(sa.func.count()).where(audit.AuditEntry.action == "contract_switched_to_portal")
        assert s.scalar(switched) == total
        policies = s.scalars(sa.select(jobs.Job.payload).where(jobs.Job.kind == "contracts.current_policy")).all()
        assert sorted(i for p in policies for i in p["contracts"]) == sorted(
            s.scalars(sa.select(Contract.id).where(Contract.number.like("PA-%")))
        )  # finished once: each switched contract's Versicherungsschein queued once


def test_the_onboarding_progress_read_model_holds_when_two_changes_of_one_contract_meet(parallel_app):
    """Issue #28 item 7: the customer opens his link while the agency manager hands the contract to
    another broker — two transactions change different source rows of one contract at once, and both
    recompute its progress row. Each refresh locks the row before it reads the sources, so the later
    one sees the earlier one's change; without the lock the slower one (held up here right before it
    writes) would put back the owner or the opening it did not see."""
    from core.users import User
    from onboarding.access import open_link
    from onboarding.models import OnboardingProgress
    from onboarding.progress import COLUMNS, computed

    link_id = _invite_by_sms(parallel_app)
    with parallel_app.app_context():
        s = db.session()
        contract_id = s.get(AccessLink, link_id).contract_id
        other_broker = s.scalar(sa.select(User.id).where(User.email == "agenturleiter@demo.example"))
    opener = threading.Event()

    def hold_the_opener(conn, cursor, statement, *_):
        if statement.startswith("UPDATE onboarding_progress") and threading.current_thread().name == "opener":
            opener.set()
            time.sleep(0.5)  # the other transaction has all the time it needs to slip in

    engine = parallel_app.extensions["database"].engine
    sa.event.listen(engine, "before_cursor_execute", hold_the_opener)

    def change(i: int) -> None:
        with parallel_app.app_context():
            s = db.session()
            if i == 0:
                threading.current_thread().name = "opener"
                open_link(s, s.get(AccessLink, link_id))
            else:
                time.sleep(0.1)
                s.get(Contract, contract_id).owner_id = other_broker
            s.commit()

    try:
        in_parallel(2, change)
    finally:
        sa.event.remove(engine, "before_cursor_execute", hold_the_opener)
    assert opener.is_set()
    with parallel_app.app_context():
        s = db.session()
        kept = s.execute(
            sa.select(OnboardingProgress.contract_id, *(getattr(OnboardingProgress, c) for c in COLUMNS)).where(
                OnboardingProgress.contract_id == contract_id
            )
        ).one()
        sources = s.execute(computed(AccessLink.contract_id == contract_id)).one()
        assert tuple(kept) == tuple(sources)
        assert kept.opened_at is not None
        assert kept.owner_id == other_broker


def test_ten_clicks_on_jetzt_umstellen_start_a_bulk_switch_once(parallel_app):
    """A bulk switch starts once however often "… jetzt umstellen" is sent at the same moment (two
    tabs, a double click): one guarded UPDATE from preview to running; the others are told so."""
    from agency import bulk
    from agency import jobs as switch_jobs
    from agency.models import SwitchJob
    from core import jobs
    from core.users import User

    with parallel_app.app_context():
        s = db.session()
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        rows = [bulk.SwitchRow(1, "BV-4711002", "start.once@example.org", "0151 23456789")]
        job_id = bulk.store_job(s, manager, "einmal.csv", rows, None).id
    limits = bulk.Limits(max_bytes=10**6, max_rows=10, sync_rows=0)  # queued for the workers

    def click(_: int) -> bool:
        with parallel_app.app_context():
            s = db.session()
            return switch_jobs.start(s, s.get(SwitchJob, job_id), current_settings(), limits)

    assert sorted(in_parallel(10, click)) == [False] * 9 + [True]
    with parallel_app.app_context():
        queued = db.session().scalar(sa.select(sa.func.count()).where(jobs.Job.kind == switch_jobs.JOB_KIND))
        assert queued == 1


# --- self-registration (issue #29 item 5) ---------------------------------------------------------------

HELGA = {"vertragsnummer": "BV-4711001", "geburtsdatum": "12.03.1961", "nutzungsbedingungen": "y", "datenschutz": "y"}


def _register(app: Flask, email: str = "helga@example.org") -> int:
    client = app.test_client()
    data = {**HELGA, "email": email, "email2": email}
    return post_form(client, "/portal/registrieren", data).status_code


def _outbox(app: Flask, template: str) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session().scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)))


def test_ten_parallel_registrations_of_one_contract_count_exactly_and_send_one_confirmation(parallel_app):
    """The limit per contract number is exact under parallel form posts (3 free ones a day), and two
    workers answering them at the same moment send one confirmation e-mail (the contract's row lock and
    the resend rule)."""
    from onboarding.models import RegistrationRequest
    from onboarding.registration import process_registrations

    statuses = in_parallel(10, lambda i: _register(parallel_app))
    assert sorted(statuses) == [200] * 3 + [429] * 7
    with parallel_app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(RegistrationRequest)) == 3

    def answer(i: int) -> int:
        with parallel_app.app_context():
            return process_registrations(db.session(), current_settings(), limit=1)

    while sum(in_parallel(2, answer)):
        pass
    assert len(_outbox(parallel_app, "registration_confirm")) == 1
    with parallel_app.app_context():
        outcomes = Counter(db.session().scalars(sa.select(RegistrationRequest.outcome)))
    assert outcomes == {"confirmation": 1, "repeated": 2}


def test_ten_parallel_clicks_on_the_confirmation_send_one_code_letter(parallel_app):
    from onboarding.registration import process_registrations

    assert _register(parallel_app) == 200
    with parallel_app.app_context():
        assert process_registrations(db.session(), current_settings()) == 1
    (mail,) = _outbox(parallel_app, "registration_confirm")
    path = re.search(r"http://portal\.test(/zugang/[\w-]+)", mail.body_text).group(1)

    def click(i: int) -> int:
        client = parallel_app.test_client()
        return post_form(client, f"{path}/bestaetigen", {}, page=path).status_code

    assert in_parallel(10, click) == [302] * 10
    assert len(_outbox(parallel_app, "access_code")) == 1
    with parallel_app.app_context():
        contract = db.session().scalar(sa.select(Contract).where(Contract.number == "BV-4711001"))
        assert contract.onboarding_state == "self_code"


def test_two_workers_answer_registrations_of_the_same_two_contracts_without_a_deadlock(parallel_app):
    """Claims of [A, B] and [B, A]: each worker takes the contracts' row locks in one order (by contract
    number), so neither waits for a lock the other holds while holding one it wants."""
    from onboarding.models import RegistrationRequest
    from onboarding.registration import process_registrations

    people = {"BV-4711001": "12.03.1961", "BV-4711002": "30.11.1978"}
    order = ["BV-4711001", "BV-4711002", "BV-4711002", "BV-4711001"]  # ids 1..4: the claims cross
    for n, number in enumerate(order):
        client = parallel_app.test_client()
        email = f"p{n}@example.org"
        data = {**HELGA, "vertragsnummer": number, "geburtsdatum": people[number], "email": email, "email2": email}
        assert post_form(client, "/portal/registrieren", data).status_code == 200

    def answer(i: int) -> int:
        with parallel_app.app_context():
            return process_registrations(db.session(), current_settings(), limit=2)

    for _ in range(5):  # several rounds: the crossing claims meet at different moments
        with parallel_app.app_context():
            s = db.session()
            s.execute(sa.update(RegistrationRequest).values(processed_at=None, outcome=None))
            s.commit()
        assert sorted(in_parallel(2, answer)) == [2, 2]

"""The back office's new "only once" rules under parallel requests (threads with their own
connections; PostgreSQL in CI, issue #26): one Probelauf per due date, one open Rückfrage per
application, a refused address corrected once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from contracts import probelauf, questions, renewal
from contracts.models import Application, ApplicationQuestion, Contract, RenewalPreview
from core import db, jobs
from core.users import User
from messaging import outbox
from messaging.models import OutboxMessage, State
from onboarding import bounces
from tests.integration.test_concurrency import (  # noqa: F401 (fixture)
    _referred_application,
    in_parallel,
    parallel_app,
)

CLERK = "innendienst@demo.example"


def _clerk(s):
    return s.scalar(sa.select(User).where(User.email == CLERK))


def test_eight_clerks_starting_the_probelauf_at_once_start_it_once(parallel_app):  # noqa: F811
    """Issue #26 item 25: the check "läuft bereits" read before the insert let each start its own."""
    from core import clock

    today = clock.today()
    due = today + timedelta(days=10)  # within the renewal's window

    def start(i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            try:
                probelauf.start_preview(s, due, actor=_clerk(s), today=today)
            except renewal.RenewalError as error:
                s.rollback()
                return str(error)
            s.commit()
            return "started"

    outcomes = in_parallel(8, start)
    assert outcomes.count("started") == 1, outcomes
    assert all("läuft bereits" in o for o in outcomes if o != "started")
    with parallel_app.app_context():
        s = db.session()
        assert s.scalar(sa.select(sa.func.count()).select_from(RenewalPreview)) == 1
        assert s.scalar(sa.select(sa.func.count()).where(jobs.Job.kind == probelauf.PREVIEW_JOB_KIND)) == 1


def test_eight_clerks_asking_the_broker_at_once_send_one_question(parallel_app):  # noqa: F811
    """Issue #26 item 21: one open Rückfrage per application (its row locked), one e-mail."""
    application_id = _referred_application(parallel_app)

    def ask(i: int) -> str:
        with parallel_app.test_request_context():
            s = db.session()
            try:
                questions.ask(s, _clerk(s), s.get(Application, application_id), f"Frage {i}?")
            except questions.QuestionError as error:
                s.rollback()
                return str(error)
            s.commit()
            return "asked"

    outcomes = in_parallel(8, ask)
    assert outcomes.count("asked") == 1, outcomes
    with parallel_app.app_context():
        s = db.session()
        assert s.scalar(sa.select(sa.func.count()).select_from(ApplicationQuestion)) == 1
        mails = sa.select(sa.func.count()).where(OutboxMessage.template == "application_question")
        assert s.scalar(mails) == 1


def test_eight_clerks_correcting_one_refused_address_at_once_correct_it_once(parallel_app):  # noqa: F811
    """Issue #26 item 22: the message's row locked — one correction, one re-send, one e-mail to the broker."""
    with parallel_app.test_request_context():
        s = db.session()
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711002"))
        message = outbox.enqueue_email(
            s,
            key="bounced",
            to="falsch@example.org",
            subject="Test",
            template="test",
            context={},
            related=("contract", contract.public_id),
            agency_id=contract.agency_id,
        )
        message.state, message.last_error = State.FAILED, "Empfänger abgelehnt: SMTP 550 5.1.1 User unknown"
        s.commit()
        public_id = message.public_id

    def correct(i: int) -> str:
        with parallel_app.test_request_context():
            s = db.session()
            try:
                bounces.correct_address(s, _clerk(s), public_id, f"richtig{i}@example.org")
            except bounces.CorrectionError as error:
                s.rollback()
                return error.message
            s.commit()
            return "corrected"

    outcomes = in_parallel(8, correct)
    assert outcomes.count("corrected") == 1, outcomes
    with parallel_app.app_context():
        s = db.session()
        message = s.scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id))
        assert message.state is State.PENDING
        told = sa.select(sa.func.count()).where(OutboxMessage.template == "address_corrected")
        assert s.scalar(told) == 1

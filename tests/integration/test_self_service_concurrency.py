"""The customer's own changes and the two-factor login under real parallelism (threads with their
own connections; PostgreSQL in CI): one confirmation link applies once, wrong mobile codes are
evaluated exactly as often as allowed, parallel requests respect the rate limit, and one TOTP code
logs in once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pyotp
import sqlalchemy as sa

from contracts.models import Document, DocumentKind
from contracts.settings import current as contract_settings
from core import audit, db, tokens
from messaging.models import OutboxMessage
from onboarding import contact_changes, self_service, two_factor
from onboarding.models import AccessLink, ContactChange, ContactKind, PortalAccount
from onboarding.settings import current as current_settings
from tests.integration.test_concurrency import _invite_by_sms, in_parallel, parallel_app  # noqa: F401 (fixture)


def _customer_id(app, link_id: int) -> int:
    with app.app_context():
        return db.session().get(AccessLink, link_id).customer_id


def _count(app, statement) -> int:
    with app.app_context():
        return db.session().scalar(statement)


def test_one_email_link_confirmed_10_times_at_once_applies_once(parallel_app):  # noqa: F811
    customer_id = _customer_id(parallel_app, _invite_by_sms(parallel_app))
    with parallel_app.app_context():
        s = db.session()
        change = contact_changes.request_email_change(
            s, s.get(PortalAccount, customer_id), "helga.neu@example.org", current_settings()
        )
        token = tokens.new_link_token()  # the mailed token is not kept: put a known one in its place
        change.secret_hash = tokens.token_hash(token)
        s.commit()

    def confirm(_i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            result = contact_changes.confirm_email_change(s, token, catalog=contract_settings().catalog, pdf_workers=1)
            s.commit()
            return result.status

    results = Counter(in_parallel(10, confirm))
    assert results["done"] == 1
    assert results["used"] == 9
    assert (
        _count(parallel_app, sa.select(PortalAccount.email).where(PortalAccount.id == customer_id))
        == "helga.neu@example.org"
    )
    told = sa.select(sa.func.count()).where(OutboxMessage.idempotency_key.like("email-changed:%"))
    assert _count(parallel_app, told) == 1
    notices = sa.select(sa.func.count()).select_from(Document).where(Document.kind == DocumentKind.NOTICE)
    assert _count(parallel_app, notices) == 1


def test_20_parallel_wrong_mobile_codes_are_evaluated_exactly_5_times(parallel_app):  # noqa: F811
    customer_id = _customer_id(parallel_app, _invite_by_sms(parallel_app))
    with parallel_app.app_context():
        s = db.session()
        contact_changes.request_mobile_change(s, s.get(PortalAccount, customer_id), "0160 98765432", current_settings())
        s.commit()

    def wrong(_i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            try:
                contact_changes.confirm_mobile_change(
                    s,
                    s.get(PortalAccount, customer_id),
                    "000000",
                    current_settings(),
                    catalog=contract_settings().catalog,
                )
            except self_service.SelfServiceError as error:
                s.commit()
                return error.message
            s.commit()
            return "done"

    in_parallel(20, wrong)
    wrong_entries = sa.select(sa.func.count()).where(audit.AuditEntry.action == "contact_code_wrong")
    assert _count(parallel_app, wrong_entries) == 5  # ACCESS_CODE_MAX_ATTEMPTS
    assert _count(parallel_app, sa.select(ContactChange.failed_attempts)) == 5


def test_10_parallel_email_change_requests_send_one_link(parallel_app):  # noqa: F811
    customer_id = _customer_id(parallel_app, _invite_by_sms(parallel_app))

    def request(i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            try:
                contact_changes.request_email_change(
                    s, s.get(PortalAccount, customer_id), f"neu{i}@example.org", current_settings()
                )
            except self_service.SelfServiceError:
                s.rollback()
                return "refused"
            s.commit()
            return "sent"

    assert Counter(in_parallel(10, request)) == {"sent": 1, "refused": 9}  # one a minute (resend_seconds)
    requests = sa.select(sa.func.count()).select_from(ContactChange).where(ContactChange.kind == ContactKind.EMAIL)
    assert _count(parallel_app, requests) == 1


def test_one_totp_code_sent_10_times_at_once_logs_in_once(parallel_app, time_machine):  # noqa: F811
    now = datetime(2026, 11, 26, 9, 0, 10, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    customer_id = _customer_id(parallel_app, _invite_by_sms(parallel_app))
    with parallel_app.app_context():
        s = db.session()
        customer = s.get(PortalAccount, customer_id)
        secret = two_factor.setup(s, customer, current_settings()).secret
        two_factor.enable(s, customer, pyotp.TOTP(secret).at(now), current_settings())
        s.commit()
    later = datetime(2026, 11, 26, 9, 0, 40, tzinfo=UTC)  # the next step's code
    code = pyotp.TOTP(secret).at(later)

    def log_in(_i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            return two_factor.check_login(
                s, s.get(PortalAccount, customer_id), code, current_settings(), now=later
            ).status

    results = Counter(in_parallel(10, log_in))
    assert results["ok"] == 1
    assert results["replayed"] + results["wait"] == 9

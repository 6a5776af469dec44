"""Issue #24's "only once" rules under real parallelism (threads with their own connections; on
PostgreSQL in CI the rows are locked by the database): one decision on a claim, one end of a
contract, one SF 0 for an unconfirmed transfer — however many clerks or workers act at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from calculator.tariffs import Product
from contracts import cancellation, claim_status, claims, einstufung, versions
from contracts.models import Claim, ClaimKind, ClaimStatus, Contract, ContractVersion, Document, DocumentKind
from contracts.settings import Rules
from contracts.settings import current as contract_settings
from core import clock, db
from core.formatting import TIMEZONE
from core.users import Role, User
from tests.helpers import KFZ_ANSWERS
from tests.integration.test_concurrency import _audit_count, in_parallel, parallel_app  # noqa: F401 (fixture)
from tests.integration.test_contract_changes import _police


def _today() -> date:
    return clock.today()


def _clerk(app) -> User:
    with app.app_context():
        return db.session().scalar(sa.select(User).where(User.role == Role.BACKOFFICE).limit(1))


def test_six_clerks_settling_one_claim_at_once_settle_it_once(parallel_app):  # noqa: F811
    app = parallel_app
    with app.test_request_context():
        s = db.session()
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711002"))
        claim = claims.report_claim(
            s,
            contract,
            claims.ClaimReport(ClaimKind.KH, _today() - timedelta(days=3), "Köln", "Auffahrunfall an der Ampel."),
            [],
            limits=claims.UploadLimits(5, 1024),
            today=_today(),
            reporter="kunde@example.org",
            catalog=contract_settings().catalog,
        )
        s.commit()
        claim_id = claim.id
    clerk_id = _clerk(app).id

    def settle(i: int) -> str:
        with app.test_request_context():
            s = db.session()
            try:
                claim_status.set_status(
                    s,
                    s.get(User, clerk_id),
                    s.get(Claim, claim_id),
                    claim_status.StatusChange(ClaimStatus.PAID, _today(), Decimal("1000.00") + i),
                    catalog=app.extensions["tariffs"],
                    today=_today(),
                )
            except claim_status.ClaimStatusError:
                s.rollback()
                return "refused"
            s.commit()
            return "settled"

    outcomes = in_parallel(6, settle)
    assert outcomes.count("settled") == 1
    assert outcomes.count("refused") == 5
    with app.app_context():
        s = db.session()
        letters = s.scalar(
            sa.select(sa.func.count()).select_from(Document).where(Document.kind == DocumentKind.CLAIM_STATUS)
        )
        assert letters == 1
    assert _audit_count(app, "claim_status") == 1


def test_six_parallel_kuendigungen_of_one_contract_end_it_once(parallel_app):  # noqa: F811
    app = parallel_app
    clerk_id = _clerk(app).id
    with app.app_context():
        contract_id = db.session().scalar(sa.select(Contract.id).where(Contract.number == "BV-4711001"))

    def cancel(i: int) -> str:
        with app.test_request_context():
            s = db.session()
            try:
                cancellation.cancel_contract(
                    s,
                    s.get(User, clerk_id),
                    s.get(Contract, contract_id),
                    cancellation.Cancellation("kunde", "", _today()),
                    expected_version=None,
                    catalog=app.extensions["tariffs"],
                    rules=Rules(90),
                    today=_today(),
                )
            except versions.ChangeError:
                s.rollback()
                return "refused"
            s.commit()
            return "cancelled"

    outcomes = in_parallel(6, cancel)
    assert outcomes.count("cancelled") == 1
    with app.app_context():
        renewed = db.session().scalar(
            sa.select(sa.func.count()).where(ContractVersion.contract_id == contract_id, ContractVersion.seq > 0)
        )
    assert renewed == 1
    assert _audit_count(app, "contract_cancelled") == 1


def test_four_workers_expiring_one_unconfirmed_transfer_set_sf_0_once(parallel_app, time_machine):  # noqa: F811
    app = parallel_app
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=True)
    with app.test_request_context():
        s = db.session()
        broker = s.scalar(sa.select(User).where(User.email == "vermittler@demo.example"))
        contract = _police(app, s, broker, {**KFZ_ANSWERS, "zahlweise": "jaehrlich"}, Product.KFZ)
        assert contract.sf_confirmation == einstufung.PENDING
        contract_id = contract.id
    time_machine.move_to(datetime(2026, 6, 10, 10, 0, tzinfo=TIMEZONE), tick=True)

    def expire(i: int) -> int:
        with app.app_context():
            return einstufung.expire(db.session(), app.extensions["tariffs"])

    assert sum(in_parallel(4, expire)) == 1
    with app.app_context():
        s = db.session()
        assert s.get(Contract, contract_id).sf_confirmation == einstufung.EXPIRED
        nachtraege = s.scalar(
            sa.select(sa.func.count()).where(
                ContractVersion.contract_id == contract_id, ContractVersion.endorsement_no.is_not(None)
            )
        )
    assert nachtraege == 1
    assert _audit_count(app, "sf_reclassified") == 1


def _customer_with_two_factor(app) -> int:
    """An activated customer with the two-factor login switched on; his id."""
    import pyotp

    from onboarding.models import PortalAccount
    from tests.integration.test_concurrency import _activate, _invite_by_sms, _send_code

    link_id = _invite_by_sms(app)
    customer_id = _activate(app, link_id, _send_code(app, link_id)).customer.id
    with app.app_context():
        s = db.session()
        customer = s.get(PortalAccount, customer_id)
        customer.totp_secret, customer.totp_enabled_at = pyotp.random_base32(), clock.now()
        s.commit()
    return customer_id


def test_20_parallel_wrong_passwords_on_two_factor_off_are_evaluated_5_times(parallel_app, monkeypatch):  # noqa: F811
    """Issue #25 item 1: 20 parallel "ausschalten" with wrong passwords evaluated all 20 (someone with
    a stolen session could guess the password); now the account's limit holds: 5, then delays."""
    from onboarding import two_factor
    from onboarding.models import PortalAccount
    from onboarding.settings import current as current_settings

    app = parallel_app
    customer_id = _customer_with_two_factor(app)
    evaluated = []
    real = two_factor.verify_password

    def counting(hashed: str, password: str) -> bool:
        evaluated.append(password)
        return real(hashed, password)

    monkeypatch.setattr(two_factor, "verify_password", counting)

    def attempt(i: int) -> str:
        with app.test_request_context():
            s = db.session()
            try:
                two_factor.disable(s, s.get(PortalAccount, customer_id), f"Falsch-{i}!", "123456", current_settings())
            except two_factor.TwoFactorError as error:
                s.rollback()
                return error.field or ""
            return "off"

    outcomes = in_parallel(20, attempt)
    assert len(evaluated) == 5
    assert outcomes.count("passwort") == 5  # evaluated and wrong
    assert outcomes.count("code") == 15  # refused with the wait message, never compared
    with app.app_context():
        assert db.session().get(PortalAccount, customer_id).totp_enabled_at is not None  # still on


def test_10_parallel_reminders_send_one_and_leave_one_valid_link(parallel_app):  # noqa: F811
    """Issue #25 item 2: ten parallel "Erinnerung senden" on one worklist entry sent ten e-mails and
    left nine access links valid at once; now one reminder a day, exactly one valid link."""
    from agency import services as agency
    from messaging.models import OutboxMessage
    from onboarding.models import AccessLink
    from onboarding.settings import current as current_settings

    app = parallel_app
    with app.test_request_context():
        s = db.session()
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711003"))
        agency.switch_to_portal(s, manager, contract, "oemer@example.org", "0151 12345678", current_settings())
        s.commit()
        contract_id, manager_id = contract.id, manager.id
        before = s.scalar(sa.select(sa.func.max(OutboxMessage.id)))

    def remind(i: int) -> str:
        with app.test_request_context():
            s = db.session()
            try:
                agency.resend_invitation(s, s.get(User, manager_id), s.get(Contract, contract_id), current_settings())
            except agency.SwitchError:
                s.rollback()
                return "refused"
            s.commit()
            return "sent"

    outcomes = in_parallel(10, remind)
    assert outcomes.count("sent") == 1
    with app.app_context():
        s = db.session()
        valid = s.scalar(
            sa.select(sa.func.count()).where(
                AccessLink.contract_id == contract_id, AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None)
            )
        )
        kinds = sorted(k.value for k in s.scalars(sa.select(OutboxMessage.kind).where(OutboxMessage.id > before)))
    assert valid == 1
    assert kinds == ["email", "letter"]  # one reminder e-mail and, an existing customer, one code letter
    assert _audit_count(app, "invitation_resent") == 1


def test_20_parallel_wrong_codes_on_new_recovery_codes_are_evaluated_5_times(parallel_app, monkeypatch):  # noqa: F811
    """Issue #25 item 1, "neue Codes": 20 parallel requests with wrong codes compared all 20; now the
    same per-account limit as the login's second step: 5 compared, the rest told to wait, and the
    recovery codes stay as they were."""
    from onboarding import two_factor
    from onboarding.models import PortalAccount
    from onboarding.settings import current as current_settings

    app = parallel_app
    customer_id = _customer_with_two_factor(app)
    compared = []
    real = two_factor._use_totp

    def counting(session, customer, code, now, settings):
        compared.append(code)
        return real(session, customer, code, now, settings)

    monkeypatch.setattr(two_factor, "_use_totp", counting)

    def attempt(i: int) -> str:
        with app.test_request_context():
            s = db.session()
            try:
                two_factor.renew_recovery_codes(s, s.get(PortalAccount, customer_id), f"{i:06d}", current_settings())
            except two_factor.TwoFactorError as error:
                s.rollback()
                return "wait" if "Zu viele Fehlversuche" in error.message else "wrong"
            return "renewed"

    outcomes = in_parallel(20, attempt)
    assert len(compared) == 5
    assert outcomes.count("wrong") == 5
    assert outcomes.count("wait") == 15
    with app.app_context():
        assert two_factor.recovery_left(db.session(), db.session().get(PortalAccount, customer_id)) == 0  # none made

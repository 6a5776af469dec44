"""eVB-Nummern stay unique when Anträge are policed at the same moment (threads with their own
connections; PostgreSQL in CI): every thread first draws the same code, the unique index lets one
have it and the others retry in a savepoint with the next code."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from contracts import evb
from contracts.models import Contract, Evb
from core import db
from tests.integration.test_concurrency import in_parallel, parallel_app  # noqa: F401 (fixture)

CODES = ["AAAAAAA", "BBBBBBB", "CCCCCCC", "DDDDDDD", "EEEEEEE"]


def test_four_contracts_drawing_the_same_codes_at_once_get_four_codes(parallel_app, monkeypatch):  # noqa: F811
    with parallel_app.app_context():
        s = db.session()
        ids = s.scalars(sa.select(Contract.id).where(Contract.number.like("BV-47110%")).order_by(Contract.id)).all()
        assert len(ids) == 4
        for contract in s.scalars(sa.select(Contract).where(Contract.id.in_(ids))):
            contract.answers = {"hsn": ["0603"], "tsn": ["BPM"]}
        s.commit()
    drawn = threading.local()

    def same_sequence_for_everyone() -> str:
        drawn.n = getattr(drawn, "n", -1) + 1
        return CODES[drawn.n]

    monkeypatch.setattr(evb, "new_code", same_sequence_for_everyone)

    def issue(i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            code = evb.issue(s, s.get(Contract, ids[i]), valid_days=90).code
            s.commit()
            return code

    codes = in_parallel(4, issue)
    assert sorted(codes) == CODES[:4]
    with parallel_app.app_context():
        assert sorted(db.session().scalars(sa.select(Evb.code)).all()) == CODES[:4]


def test_sixteen_users_requesting_one_contract_s_evb_at_once_all_see_the_one_issued(parallel_app):  # noqa: F811
    """Issue #25 item 3: one eVB is issued; the others were told "Es konnte keine eVB-Nummer vergeben
    werden" (their savepoint retries hit the unique contract, not the code) — now they get the eVB
    that exists, and it is sent once."""
    from core.users import Role, User
    from messaging.models import OutboxMessage

    with parallel_app.app_context():
        s = db.session()
        contract = s.scalar(sa.select(Contract).where(Contract.number == "BV-4711002"))
        contract.answers = {"hsn": ["0603"], "tsn": ["BPM"]}
        s.commit()
        contract_id = contract.id
        user_id = s.scalar(sa.select(User.id).where(User.role == Role.BROKER).limit(1))

    def request(i: int) -> str:
        with parallel_app.test_request_context():
            s = db.session()
            try:
                code = evb.issue_and_send(s, s.get(Contract, contract_id), s.get(User, user_id), valid_days=90).code
            except evb.EvbError as error:
                s.rollback()
                return f"error: {error}"
            s.commit()
            return code

    outcomes = in_parallel(16, request)
    with parallel_app.app_context():
        s = db.session()
        codes = s.scalars(sa.select(Evb.code).where(Evb.contract_id == contract_id)).all()
        sent = s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "evb"))
    assert len(codes) == 1
    assert outcomes == [codes[0]] * 16
    assert sent <= 1  # the demo contract may have no contact data; never more than one message

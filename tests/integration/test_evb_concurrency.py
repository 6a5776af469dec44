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

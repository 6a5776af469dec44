"""Several workers closing the same months at once (PostgreSQL in CI): every agency's month is
written exactly once, whichever worker comes first; the others leave without an error."""

from __future__ import annotations

import sqlalchemy as sa

from agency.models import ShareSnapshot
from agency.snapshots import close_months
from core import db
from core.users import Agency
from tests.integration.test_concurrency import in_parallel, parallel_app  # noqa: F401 (fixture)


def test_parallel_workers_close_each_month_once(parallel_app):  # noqa: F811
    def close(_: int) -> int:
        with parallel_app.app_context():
            return close_months(db.session())

    written = in_parallel(6, close)
    with parallel_app.app_context():
        s = db.session()
        agencies = s.scalar(sa.select(sa.func.count()).select_from(Agency))
        rows = s.execute(sa.select(ShareSnapshot.agency_id, ShareSnapshot.month)).all()
    assert len(rows) == len(set(rows)) == agencies * 11
    assert sum(written) == agencies * 11  # what one worker wrote, the others did not write again
    assert sorted(written)[:-1] == [0] * 5

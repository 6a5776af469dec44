"""The worker task that keeps each agency's closed months in `share_snapshots` (unique per agency and
month), so a request computes only the current month's share."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency.models import ShareSnapshot
from agency.period import Scope
from agency.share import Share, month_of, month_points, shares_at
from core import clock
from core.users import Agency


def close_months(session: so.Session) -> int:
    """Worker task: every agency's share at the end of each of the last eleven closed months, once
    (share_snapshots, unique per agency and month). Cheap when nothing is due — one count of the
    agencies without the last month's snapshot; after a month ends the first worker computes all
    missing months of all agencies in one statement; a parallel one finds them taken (unique
    constraint) and leaves. Returns how many snapshots it wrote."""
    points = month_points(clock.now())[:-1]
    latest = month_of(points[-1][1])
    due = session.scalar(
        sa.select(sa.func.count())
        .select_from(Agency)
        .where(~sa.exists().where(ShareSnapshot.agency_id == Agency.id, ShareSnapshot.month == latest))
    )
    if not due:
        session.rollback()
        return 0
    months = [month_of(at) for _, at in points]
    have = set(
        session.execute(sa.select(ShareSnapshot.agency_id, ShareSnapshot.month).where(ShareSnapshot.month.in_(months)))
    )
    agencies = list(session.scalars(sa.select(Agency.id)))
    wanted = [(i, at) for i, (_, at) in enumerate(points) if any((a, months[i]) not in have for a in agencies)]
    if not wanted:  # another worker closed them between our count and now
        session.rollback()
        return 0
    per_agency = shares_at(session, Scope(None), [at for _, at in wanted])
    rows = [
        {
            "agency_id": a,
            "month": months[i],
            "running": share.running,
            "digital": share.digital,
            "computed_at": clock.now(),
        }
        for k, (i, _) in enumerate(wanted)
        for a in agencies
        if (a, months[i]) not in have
        for share in [per_agency.get(a, [Share(0, 0)] * len(wanted))[k]]
    ]
    try:
        with session.begin_nested():
            session.execute(sa.insert(ShareSnapshot), rows)
    except sa.exc.IntegrityError:  # another worker closed these months at the same time
        session.rollback()
        return 0
    session.commit()
    return len(rows)

"""Claiming rows for one worker: the one pattern behind the outbox and the job queue.

`UPDATE … SET <lease> WHERE id IN (SELECT id … WHERE <due> ORDER BY … LIMIT n FOR UPDATE SKIP LOCKED)
RETURNING id`, committed at once: on PostgreSQL concurrent workers skip each other's rows, SQLite
serialises writers (BEGIN IMMEDIATE), so the same statement is safe there too. The values set
belong to the caller: typically a state, the worker's id, a lease end and attempts + 1. A worker that
dies leaves its rows leased; once the lease ended, `due` lets another worker take them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so


def claim(
    session: so.Session,
    model: Any,
    *,
    due: sa.ColumnElement[bool],
    order_by: Sequence[Any],
    limit: int,
    values: dict[str, Any],
    commit: bool = True,
) -> list[int]:
    """Lease up to `limit` due rows of `model` (which has an integer `id`); their ids, committed.
    With commit=False the rows stay locked in the caller's transaction instead, for work that is
    done and committed together with the claim (a crash then undoes the claim itself)."""
    candidates = sa.select(model.id).where(due).order_by(*order_by).limit(limit).with_for_update(skip_locked=True)
    stmt = (
        sa.update(model)
        .where(model.id.in_(candidates))
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(session.execute(stmt).scalars().all())
    if commit:
        session.commit()
    return ids

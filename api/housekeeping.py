"""The worker drops what the API no longer needs: tokens a day after they expired, idempotency
keys after `API_IDEMPOTENCY_HOURS` (a retry later than that is a new request). Bounded batches."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from api.models import ApiToken, IdempotencyKey
from core import clock
from core.db import rowcount

BATCH = 1000


def purge(session: so.Session, idempotency_hours: int) -> int:
    now = clock.now()
    done = 0
    for model, column, before in (
        (ApiToken, ApiToken.expires_at, now - timedelta(days=1)),
        (IdempotencyKey, IdempotencyKey.created_at, now - timedelta(hours=idempotency_hours)),
    ):
        old = sa.select(model.id).where(column < before).limit(BATCH).scalar_subquery()
        done += rowcount(session.execute(sa.delete(model).where(model.id.in_(old))))
    session.commit()
    return done

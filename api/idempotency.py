"""`Idempotency-Key` (IETF draft "The Idempotency-Key HTTP Header Field"): a POST repeated with the
same key gets the first answer; the same key with another body is a 409.

The key is claimed first, by inserting its row in a savepoint: a parallel request with the same key
waits on the unique index (PostgreSQL) or the write lock (SQLite) until the first commits, then
finds its answer. A request that fails (a problem document) rolls back with its key: it may be sent
again, corrected, under the same key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from api.models import ApiClient, IdempotencyKey
from api.problems import ApiProblem
from core import clock

Answer = tuple[int, dict[str, Any]]


def _replay(found: IdempotencyKey, fingerprint: str) -> Answer:
    if found.fingerprint != fingerprint:
        raise ApiProblem(
            409,
            "idempotency-key-wiederverwendet",
            "Idempotency-Key schon verwendet",
            "Dieser Idempotency-Key gehört zu einer anderen Anfrage. Bitte verwenden Sie für jeden Antrag einen neuen.",
        )
    return found.status, found.body


def once(session: so.Session, client: ApiClient, key: str, fingerprint: str, action: Callable[[], Answer]) -> Answer:
    """The answer of `action` for this client's key — computed once; the caller commits."""
    found = session.scalar(
        sa.select(IdempotencyKey).where(IdempotencyKey.client_id == client.id, IdempotencyKey.key == key)
    )
    if found is not None:
        return _replay(found, fingerprint)
    row = IdempotencyKey(
        client_id=client.id, key=key, fingerprint=fingerprint, status=0, body={}, created_at=clock.now()
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        session.rollback()  # a parallel request with this key committed first: its answer
        found = session.scalar(
            sa.select(IdempotencyKey).where(IdempotencyKey.client_id == client.id, IdempotencyKey.key == key)
        )
        assert found is not None
        return _replay(found, fingerprint)
    status, body = action()
    row.status, row.body = status, body
    session.flush()
    return status, body

"""core.db.insert_rows: the bulk path's rows (COPY on PostgreSQL, executemany elsewhere) are stored
exactly as an INSERT of the same values stores them — enums as their values, JSON, UTC datetimes,
None — and a duplicate key raises IntegrityError like an INSERT, so callers can fall back on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core import audit
from core.contact import PostalAddress
from core.db import insert_rows, table
from messaging.models import OutboxMessage


def _entry(n: int, **changes) -> dict:
    return {
        "action": "contract_switched_to_portal",
        "at": datetime(2026, 12, 7, 8, 30, n, tzinfo=UTC) + timedelta(hours=1),
        "actor_id": None,
        "actor_label": f'Zeile {n}; "Anführung" \\ Tab\t und Umlaut ä',
        "agency_id": None,
        "object_type": "contract",
        "object_id": f"id-{n}",
        "details": {"email": f"k{n}@example.org", "list": [1, None, "ß"]},
        "client_address": None,
        **changes,
    }


def test_rows_written_in_bulk_read_back_like_rows_inserted_one_by_one(session):
    insert_rows(session, table(audit.AuditEntry), [_entry(1), _entry(2)])
    session.execute(sa.insert(table(audit.AuditEntry)), [_entry(3)])
    found = session.scalars(sa.select(audit.AuditEntry).order_by(audit.AuditEntry.object_id)).all()
    shape = [(e.action, e.at, e.actor_id, e.actor_label, e.object_id, e.details, e.client_address) for e in found]
    assert shape == [
        (
            "contract_switched_to_portal",
            datetime(2026, 12, 7, 9, 30, n, tzinfo=UTC),
            None,
            f'Zeile {n}; "Anführung" \\ Tab\t und Umlaut ä',
            f"id-{n}",
            {"email": f"k{n}@example.org", "list": [1, None, "ß"]},
            None,
        )
        for n in (1, 2, 3)
    ]


def test_a_duplicate_key_in_bulk_raises_integrity_error_as_an_insert_does(app, session):
    from messaging import outbox

    with app.test_request_context():
        draft = outbox.email(key="dup:1", to="a@example.org", subject="Test", template="test", context={})
    outbox.add_many(session, [draft])
    session.flush()
    assert (
        session.scalar(sa.select(OutboxMessage.kind).where(OutboxMessage.idempotency_key == "dup:1")).value == "email"
    )
    with pytest.raises(IntegrityError):
        outbox.add_many(session, [{**draft, "public_id": "another"}])
    session.rollback()


def test_an_outbox_message_in_bulk_has_every_column_an_insert_gives_it_defaults_included(app, session):
    from messaging import outbox

    with app.test_request_context():
        draft = outbox.letter(
            key="bulk:1",
            address=PostalAddress("Frau Ida Kern", "Weg 5", "12345", "Ulm"),
            subject="Ihr Zugangs-Code",
            template="test",
            context={},
            sensitive=True,
        )
    outbox.add_many(session, [draft])
    outbox.enqueue(session, {**draft, "idempotency_key": "single:1", "public_id": "single"})
    session.flush()
    messages = table(OutboxMessage)
    bulk, single = (
        session.execute(sa.select(messages).where(messages.c.idempotency_key == key)).one()._asdict()
        for key in ("bulk:1", "single:1")
    )
    differ = {"id", "public_id", "idempotency_key"}
    assert {k: v for k, v in bulk.items() if k not in differ} == {k: v for k, v in single.items() if k not in differ}
    assert bulk["attempts"] == 0

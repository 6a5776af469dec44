"""The delivery worker: claims due messages, delivers them, records the outcome one by one.

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id: on PostgreSQL
concurrent workers skip each other's rows; SQLite serialises writers, so the same statement is safe
there too. A claim is a lease: a worker that dies (even by SIGKILL) leaves its messages in "sending"
until the lease ends, then any worker takes them again. Every claim counts as an attempt.

Where a second send can still happen: after SMTP accepted a mail or twilio answered 201, and before
the worker's commit of "sent" (a few milliseconds), a crash leaves the message to be sent again when
its lease ends. E-mails then carry the same Message-ID (set at enqueue), which lets mail systems drop
the duplicate; twilio's Messages API has no idempotency key, so an SMS can arrive twice in that window.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask

from core import clock, leases, observability
from messaging.models import Kind, OutboxMessage, State
from messaging.transports import (
    ConnectionFailed,
    DeliveryError,
    DevMailboxTransport,
    PermanentError,
    TransientError,
    render_letter_pdfs,
    transports_for,
)

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30  # the longest wait after database errors in a row

REDACTED = "(Inhalt nach dem Versand gelöscht: enthielt Zugangsdaten)"


@dataclass(frozen=True)
class Settings:
    max_attempts: int
    backoff_seconds: int
    backoff_max_seconds: int
    lease_seconds: int
    batch_size: int
    poll_seconds: float
    pdf_workers: int | None = None  # letters of a batch rendered at once (None: every core)
    webhook_max_attempts: int = 15  # a receiver may be down for hours: more tries than e-mail

    def attempts_for(self, kind: Kind) -> int:
        return self.webhook_max_attempts if kind is Kind.WEBHOOK else self.max_attempts

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
            backoff_seconds=config["OUTBOX_BACKOFF_SECONDS"],
            backoff_max_seconds=config["OUTBOX_BACKOFF_MAX_SECONDS"],
            lease_seconds=config["OUTBOX_LEASE_SECONDS"],
            batch_size=config["OUTBOX_BATCH_SIZE"],
            poll_seconds=config["OUTBOX_POLL_SECONDS"],
            pdf_workers=config["PDF_WORKERS"] or None,
            webhook_max_attempts=config["API_WEBHOOK_MAX_ATTEMPTS"],
        )


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


def backoff(settings: Settings, attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with ±50 % jitter, capped."""
    base = min(settings.backoff_seconds * 2 ** max(attempts - 1, 0), settings.backoff_max_seconds)
    return timedelta(seconds=base * (rng or random).uniform(0.5, 1.5))


def claim(
    session: so.Session,
    worker_id: str,
    settings: Settings,
    now: datetime | None = None,
    due_before: datetime | None = None,
) -> list[int]:
    """Take up to batch_size due messages (new, retry due, or lease expired) for this worker."""
    now = now or clock.now()
    due = sa.or_(
        sa.and_(OutboxMessage.state == State.PENDING, OutboxMessage.next_attempt_at <= (due_before or now)),
        sa.and_(OutboxMessage.state == State.SENDING, OutboxMessage.lease_until < now),
    )
    return leases.claim(
        session,
        OutboxMessage,
        due=due,
        order_by=(OutboxMessage.next_attempt_at, OutboxMessage.id),
        limit=settings.batch_size,
        values={
            "state": State.SENDING,
            "claimed_by": worker_id,
            "lease_until": now + timedelta(seconds=settings.lease_seconds),
            "attempts": OutboxMessage.attempts + 1,
        },
    )


def _still_ours(message: OutboxMessage, worker_id: str, now: datetime) -> bool:
    return (
        message.state is State.SENDING
        and message.claimed_by == worker_id
        and message.lease_until is not None
        and message.lease_until > now
    )


def _fail_or_retry(message: OutboxMessage, error: DeliveryError, settings: Settings, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {"last_error": str(error)[:2000], "lease_until": None}
    if isinstance(error, PermanentError) or message.attempts >= settings.attempts_for(message.kind):
        changes["state"] = State.FAILED
    else:
        changes["state"] = State.PENDING
        changes["next_attempt_at"] = now + backoff(settings, message.attempts)
    return changes


def deliver_batch(
    app: Flask, session: so.Session, ids: list[int], worker_id: str, settings: Settings
) -> dict[str, int]:
    """Deliver the claimed messages one by one, committing each outcome at once."""
    outcome = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    transports = transports_for(app.config, app.extensions)
    broken: dict[Kind, TransientError] = {}  # a provider unreachable in this batch is not tried again now
    # one read for the batch: while our lease lasts (checked against the clock before every
    # message) no other worker can claim these rows, so the copies stay ours
    batch = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    session.commit()  # no transaction (nor SQLite's write lock) stays open while we talk to providers
    # letters: every PDF of the batch at once, on all cores (wkhtmltopdf is a process per PDF)
    letters = render_letter_pdfs(
        [m for m in batch if m.kind is Kind.LETTER and _still_ours(m, worker_id, clock.now())], settings.pdf_workers
    )
    try:
        for message in batch:
            now = clock.now()
            if not _still_ours(message, worker_id, now):
                outcome["skipped"] += 1
                continue
            changes: dict[str, Any]
            try:
                if message.kind in broken:
                    raise broken[message.kind]
                if message.kind is Kind.LETTER:
                    pdf = letters[message.id]
                    if isinstance(pdf, DeliveryError):
                        raise pdf
                    changes = {"pdf": pdf, "state": State.READY}
                else:
                    provider_id = transports[message.kind].send(message)
                    changes = {
                        "state": State.SENT,
                        "provider_id": provider_id or message.provider_id,
                        "sent_at": clock.now(),
                    }
                    if message.sensitive and not isinstance(transports[message.kind], DevMailboxTransport):
                        # delivered for real: the link or code need not stay in our database
                        changes.update(body_text=REDACTED, body_html=REDACTED)
                changes.update(lease_until=None, last_error=None)
            except TransientError as error:
                if isinstance(error, ConnectionFailed):
                    broken[message.kind] = error
                changes = _fail_or_retry(message, error, settings, now)
            except PermanentError as error:
                changes = _fail_or_retry(message, error, settings, now)
            except Exception as error:  # a bug must not stop the queue: retry with backoff, keep the trace
                log.exception("outbox: unexpected error for message %s", message.public_id)
                changes = _fail_or_retry(message, TransientError(f"{type(error).__name__}: {error}"), settings, now)
            # the outcome is committed at once: the window for a second send after a crash stays small
            session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.claimed_by == worker_id)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            state = changes["state"]
            key = {State.SENT: "sent", State.READY: "sent", State.PENDING: "retry"}.get(state, "failed")
            outcome[key] += 1
    finally:
        for transport in transports.values():
            transport.close()
    return outcome


Task = Callable[[so.Session], int]


def register_task(app: Flask, task: Task) -> None:
    """A feature package's durable work for the worker (e.g. password reset requests): called with a
    session before every claim; it claims its own rows, commits, and returns how many it handled.
    Messaging knows nothing of the packages that register tasks."""
    app.extensions.setdefault("worker_tasks", []).append(task)


def run_tasks(app: Flask, session: so.Session) -> int:
    return sum(task(session) for task in app.extensions.get("worker_tasks", ()))


def run(
    app: Flask, *, once: bool = False, stop: threading.Event | None = None, worker_id: str | None = None
) -> dict[str, int]:
    """Deliver until stopped (or, with once=True, what is due now: a retry scheduled during the run
    waits for the next run). Returns the totals."""
    settings: Settings = app.extensions["messaging_settings"]
    worker_id = worker_id or new_worker_id()
    stop = stop or threading.Event()
    totals = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    maker = app.extensions["database"].sessionmaker
    if once:  # what the tasks queue now belongs to this run too
        with app.app_context(), maker() as session:
            run_tasks(app, session)
    started = clock.now()
    failures, survived = 0, None
    while not stop.is_set():
        try:
            with app.app_context(), maker() as session:
                observability.beat(session, worker_id, survived)  # /readyz, /metrics: a worker runs
                survived = None
                worked = run_tasks(app, session)  # jobs (one step each), reset requests, letter purge
                ids = claim(session, worker_id, settings, due_before=started if once else None)
                if ids:
                    for key, value in deliver_batch(app, session, ids, worker_id, settings).items():
                        totals[key] += value
        except sa.exc.SQLAlchemyError as error:
            # the database is away for a moment (a lost connection, a failover, a locked SQLite file):
            # the session rolled back, a claimed message's lease runs out and it is claimed again — so
            # back off and go on; never end the process (issue #25 item 9)
            if once:
                raise
            failures += 1
            survived = (clock.now(), f"{type(error).__name__}: {str(error).splitlines()[0]}")
            log.warning("worker %s: database error %d in a row, backing off: %s", worker_id, failures, survived[1])
            if failures % 3 == 0:
                app.extensions["database"].engine.dispose()  # drop every pooled connection: reconnect
            stop.wait(min(settings.poll_seconds * 2 ** min(failures, 6), MAX_BACKOFF_SECONDS))
            continue
        failures = 0
        if not ids and not worked:
            if once:
                break
            stop.wait(settings.poll_seconds)
    return totals


def start_embedded(app: Flask) -> threading.Thread:
    """The embedded default: deliver from a background thread of the app process (development).
    Setting app.extensions["outbox_stop"] stops it."""
    stop = threading.Event()
    app.extensions["outbox_stop"] = stop
    thread = threading.Thread(
        target=run,
        args=(app,),
        kwargs={"stop": stop, "worker_id": "embedded:" + new_worker_id()},
        name="outbox-embedded",
        daemon=True,
    )
    thread.start()
    return thread

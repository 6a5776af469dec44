"""The Probelauf (issue #26 item 25): what the renewal of a Hauptfälligkeit would do, computed by the
worker with each contract renewed in a savepoint that is rolled back — counts, the biggest changes and
what would fail; nothing changes. One running Probelauf per due date (a partial unique index)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from contracts.models import Contract, RenewalPreview, RenewalRun
from contracts.renewal import (
    Notice,
    RenewalError,
    _check_window,
    due_contracts,
    renew,
)
from contracts.settings import ContractSettings
from core import audit, clock, jobs
from core.formatting import date_de
from core.users import User

PREVIEW_JOB_KIND = "contracts.renewal_preview"


BIGGEST = 10  # the Probelauf lists this many of the biggest changes


def start_preview(session: so.Session, due: date, *, actor: User | None, today: date) -> RenewalPreview:
    """A Probelauf for `due`: what the renewal would do, computed by the worker; nothing changes."""
    _check_window(due, today)
    running = RenewalError(f"Der Probelauf zum {date_de(due)} läuft bereits.")
    if session.scalar(
        sa.select(RenewalPreview.id).where(RenewalPreview.due == due, RenewalPreview.finished_at.is_(None))
    ):
        raise running
    total = session.scalar(sa.select(sa.func.count()).select_from(due_contracts(due).subquery())) or 0
    preview = RenewalPreview(
        due=due, total=total, biggest=[], failures=[], started_label=actor.full_name if actor else "System"
    )
    try:  # one running Probelauf per due date (a partial unique index): of two clerks at once, one starts it
        with session.begin_nested():
            session.add(preview)
    except IntegrityError:
        raise running from None
    jobs.enqueue(session, PREVIEW_JOB_KIND, f"renewal-preview:{preview.public_id}", {"preview": preview.id})
    audit.record(
        session,
        "renewal_previewed",
        actor=actor,
        object_type="renewal",
        object_id=preview.public_id,
        details={"due": due.isoformat(), "contracts": total},
    )
    return preview


def preview_step(session: so.Session, payload: dict[str, Any], settings: ContractSettings) -> bool:
    """core.jobs handler: the next contracts of the Probelauf, each renewed in a savepoint that is
    rolled back; the counts and the cursor committed together. True while contracts are left."""
    preview = session.get(RenewalPreview, payload["preview"], with_for_update=True)
    if preview is None or preview.finished_at is not None:
        return False
    size = settings.renewal_step_contracts
    ids = list(
        session.scalars(
            due_contracts(preview.due).where(Contract.id > preview.cursor).order_by(Contract.id).limit(size)
        )
    )
    if not ids:
        preview.finished_at = clock.now()
        session.commit()
        return False
    catalog = settings.catalog
    notice = Notice(settings.renewal_notice_months, clock.today())
    scratch = RenewalRun(due=preview.due, failures=[], starts=0)  # never stored
    biggest, failures = list(preview.biggest), list(preview.failures)
    contracts = list(session.scalars(sa.select(Contract).where(Contract.id.in_(ids)).order_by(Contract.id)))
    for contract in contracts:
        number, name, old = contract.number or "", contract.customer_name, contract.annual_total
        savepoint = session.begin_nested()
        try:
            renew(session, contract, catalog, scratch, notice)
            session.flush()
            new = contract.annual_total
        except RenewalError as error:
            failures.append({"number": number, "message": str(error)})
            new = None
        finally:
            savepoint.rollback()  # the Probelauf changes nothing
        if new is not None:
            preview.rises += new > old
            preview.falls += new < old
            preview.stays += new == old
            if new != old:
                biggest.append({"number": number, "name": name, "old": str(old), "new": str(new)})
        preview.processed += 1
    biggest.sort(key=lambda b: (-abs(Decimal(b["new"]) - Decimal(b["old"])), b["number"]))
    preview.biggest, preview.failures, preview.cursor = biggest[:BIGGEST], failures, ids[-1]
    session.commit()
    return True

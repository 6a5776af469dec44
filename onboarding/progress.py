"""The onboarding progress read model (OnboardingProgress, issue #28 item 7): kept up to date in the
transaction of every change of its sources, so the dashboard reads one row per invited contract.

A row is recomputed from its sources (the contract's access links and codes, its customer's
activation, its delivery, owner and agency) — never incremented — so it cannot drift: whatever
changed, the row afterwards says what the sources say. Changes made through the ORM are found by a
flush hook; the few set-based statements on the sources mark their contracts with `changed`. The
marked rows are recomputed when the transaction commits (the session's before_commit), in it.

Concurrency: the refresh first locks the contracts' progress rows (creating missing ones; PostgreSQL
FOR UPDATE in id order), then reads the sources in a new statement — under READ COMMITTED it sees
every transaction that held those locks before it, so two transactions changing one contract's
sources at once cannot leave the row with the older one's view. It runs last in its transaction,
after every change of the sources: a transaction that holds a progress row never waits for a source
row (the customer opening his link while the manager ends it did deadlock when rows were refreshed
at each flush)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from contracts.models import Contract
from core.db import table
from onboarding.models import AccessCode, AccessLink, OnboardingProgress, PortalAccount

PART = 500  # contracts per statement
COLUMNS = (
    "contract_public_id",
    "agency_id",
    "owner_id",
    "delivery",
    "sent_at",
    "last_sent_at",
    "opened_at",
    "code_at",
    "activated_at",
    "open_until",
    "expired_since",
    "self_registered",
)
CONTRACT_FIELDS = ("delivery", "owner_id", "agency_id", "customer_account_id")


def _insert(session: so.Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table(OnboardingProgress))


def computed(contract_ids: sa.ColumnElement[bool] | None = None) -> sa.Select[Any]:
    """The rows as the sources say them: one per contract with at least one access link (all
    contracts, or those the condition on AccessLink.contract_id selects)."""
    link = AccessLink
    unused = sa.and_(link.used_at.is_(None), link.revoked_at.is_(None))
    links = sa.select(
        link.contract_id.label("contract_id"),
        sa.func.min(link.created_at).label("sent_at"),
        sa.func.max(link.created_at).label("last_sent_at"),
        sa.func.min(link.opened_at).label("opened_at"),
        sa.func.min(AccessCode.created_at).label("code_at"),
        sa.func.max(sa.case((unused, link.expires_at))).label("open_until"),
        sa.func.min(sa.case((unused, link.expires_at))).label("expired_since"),
        sa.func.max(sa.case((link.self_registered.is_(True), 1), else_=0)).label("self_registered"),
    ).outerjoin(AccessCode, AccessCode.link_id == link.id)
    if contract_ids is not None:
        links = links.where(contract_ids)
    per_contract = links.group_by(link.contract_id).subquery()
    p = per_contract.c
    return (
        sa.select(
            p.contract_id,
            Contract.public_id.label("contract_public_id"),
            Contract.agency_id,
            Contract.owner_id,
            Contract.delivery,
            p.sent_at,
            p.last_sent_at,
            p.opened_at,
            p.code_at,
            sa.case((PortalAccount.activated_at >= p.sent_at, PortalAccount.activated_at)).label("activated_at"),
            p.open_until,
            p.expired_since,
            p.self_registered,
        )
        .select_from(per_contract)
        .join(Contract, Contract.id == p.contract_id)
        .outerjoin(PortalAccount, PortalAccount.id == Contract.customer_account_id)
    )


def changed(session: so.Session, contract_ids: Iterable[int | None]) -> None:
    """These contracts' sources were changed by a set-based statement: their rows are recomputed
    when the transaction commits."""
    _pending(session)[0].update(i for i in contract_ids if i is not None)


def _pending(session: so.Session) -> tuple[set[int], set[int], set[int]]:
    """(contracts, links, customer accounts) whose rows are to be recomputed at the commit."""
    pending: tuple[set[int], set[int], set[int]] = session.info.setdefault("progress_pending", (set(), set(), set()))
    return pending


def refresh(session: so.Session, contract_ids: Iterable[int]) -> None:
    """Recompute these contracts' rows from their sources now, in the caller's transaction (see the
    module's note on locking). A contract without any access link has no row."""
    ids = sorted(set(contract_ids))
    progress = table(OnboardingProgress)
    for start in range(0, len(ids), PART):
        part = ids[start : start + PART]
        # lock the rows (create the missing ones first: of contracts that exist — a mark may outlive a
        # rolled-back transaction, and a recomputation is always right), in id order
        existing = sa.select(Contract.id).where(Contract.id.in_(part)).order_by(Contract.id)
        session.execute(_insert(session).from_select(["contract_id"], existing).on_conflict_do_nothing())
        session.execute(
            sa.select(progress.c.contract_id)
            .where(progress.c.contract_id.in_(part))
            .order_by(progress.c.contract_id)
            .with_for_update()
        ).all()
        # then read the sources (a new statement: it sees whoever held these rows before us)
        rows = [r._asdict() for r in session.execute(computed(AccessLink.contract_id.in_(part)))]
        found = {r["contract_id"] for r in rows}
        if rows:
            session.execute(
                sa.update(progress)
                .where(progress.c.contract_id == sa.bindparam("row_id"))
                .values({name: sa.bindparam(f"new_{name}") for name in COLUMNS}),
                [{"row_id": r["contract_id"], **{f"new_{n}": r[n] for n in COLUMNS}} for r in rows],
            )
        gone = [i for i in part if i not in found]
        if gone:
            session.execute(sa.delete(progress).where(progress.c.contract_id.in_(gone)))


def rebuild(session: so.Session) -> int:
    """Every row from its sources (the migration's backfill, `flask onboarding rebuild-progress`, a
    benchmark's data written around the services); returns how many rows there are."""
    progress = table(OnboardingProgress)
    session.execute(sa.delete(progress))
    query = computed()
    session.execute(sa.insert(progress).from_select(["contract_id", *COLUMNS], query))
    return int(session.scalar(sa.select(sa.func.count()).select_from(progress)) or 0)


# --- the flush hook: changes of the sources made through the ORM ----------------------------------------


def _changed(obj: object, names: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _after_flush(session: so.Session, _context: Any) -> None:
    """Collect the contracts whose sources this flush changed (new or changed links, new codes,
    activated customers, contracts with another delivery, owner, agency or customer)."""
    contracts, links, accounts = _pending(session)
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, AccessLink):
            contracts.add(obj.contract_id)
        elif isinstance(obj, AccessCode):
            links.add(obj.link_id)
        elif isinstance(obj, PortalAccount) and obj in session.dirty and _changed(obj, ("activated_at",)):
            accounts.add(obj.id)
        elif isinstance(obj, Contract) and obj in session.dirty and _changed(obj, CONTRACT_FIELDS):
            contracts.add(obj.id)


def _before_commit(session: so.Session) -> None:
    """Last in the transaction: flush what is left, then recompute the rows of every contract whose
    sources changed in it. A SAVEPOINT's release is not the end: its marks wait for the outer commit
    (locking the rows there would bring back the lock order the refresh at commit avoids)."""
    if session.in_nested_transaction():
        return
    session.flush()
    contracts, links, accounts = session.info.pop("progress_pending", (set(), set(), set()))
    if links:
        contracts |= set(session.scalars(sa.select(AccessLink.contract_id).where(AccessLink.id.in_(links))))
    if accounts:
        contracts |= set(session.scalars(sa.select(Contract.id).where(Contract.customer_account_id.in_(accounts))))
    contracts.discard(None)  # type: ignore[arg-type,unused-ignore]
    if contracts:
        refresh(session, contracts)


def listen() -> None:
    """Install the hooks (once per process; every session of the app)."""
    if not sa.event.contains(so.Session, "after_flush", _after_flush):
        sa.event.listen(so.Session, "after_flush", _after_flush)
        sa.event.listen(so.Session, "before_commit", _before_commit)

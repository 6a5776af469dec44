"""Background work of contracts, run by the worker (core.jobs): the current Versicherungsschein of
existing contracts that move to the customer portal, so the portal the invitation promises is never
empty. Imported contracts have no document of ours; it is made from the imported data.

Each step renders a handful of PDFs on all cores and commits them; a contract that has its
Versicherungsschein already (policed by us, or done before a worker was killed) is skipped, and the
contracts of a step are locked while it decides, so two workers never make two."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract, Delivery, Document, DocumentKind
from contracts.settings import ContractSettings
from core import jobs
from core.pdf import render_pdfs

JOB_KIND = "contracts.current_policy"
PART = 1000  # contracts per job
STEP = 20  # PDFs per step


def request_current_policies(session: so.Session, agency_id: int, numbers: list[str]) -> None:
    """Queue the Versicherungsschein of these contracts of the agency (in the caller's transaction)."""
    ids: list[int] = []
    for start in range(0, len(numbers), PART):
        ids += session.scalars(
            sa.select(Contract.id).where(
                Contract.agency_id == agency_id, Contract.number.in_(numbers[start : start + PART])
            )
        )
    ids.sort()
    for start in range(0, len(ids), PART):
        part = ids[start : start + PART]
        jobs.enqueue(session, JOB_KIND, f"current-policy:{part[0]}-{part[-1]}:{len(part)}", {"contracts": part})


def step(session: so.Session, payload: dict[str, Any], settings: ContractSettings) -> bool:
    """core.jobs handler: the next STEP contracts of the part without a Versicherungsschein."""
    from contracts.documents import add_document, render_document

    ids: list[int] = payload["contracts"]
    have = set(
        session.scalars(
            sa.select(Document.contract_id).where(Document.contract_id.in_(ids), Document.kind == DocumentKind.POLICY)
        )
    )
    todo = [i for i in ids if i not in have][:STEP]
    if not todo:
        return False
    contracts = list(
        session.scalars(
            sa.select(Contract)
            .where(Contract.id.in_(todo), Contract.delivery == Delivery.PORTAL)
            .order_by(Contract.id)
            .with_for_update()
        )
    )
    for contract in contracts:
        session.refresh(contract, attribute_names=["documents"])
    contracts = [c for c in contracts if not any(d.kind is DocumentKind.POLICY for d in c.documents)]
    pdfs = render_pdfs(
        [render_document(c, DocumentKind.POLICY, settings.catalog) for c in contracts], workers=settings.pdf_workers
    )
    for contract, pdf in zip(contracts, pdfs, strict=True):
        add_document(session, contract, DocumentKind.POLICY, "Versicherungsschein", pdf)
    session.commit()
    return len(todo) == STEP

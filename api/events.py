"""The contracts' signals as webhook events (received in the sender's transaction: the outbox
messages commit or roll back with the change)."""

from __future__ import annotations

from typing import Any

from api import webhooks
from contracts import signals
from contracts.models import Application, Claim, Contract, Document, Evb
from messaging.outbox import external_url


def _contract(contract: Contract) -> dict[str, Any]:
    return {"contract_number": contract.number, "product": contract.product, "customer_name": contract.customer_name}


def on_policed(contract: Contract, session: Any, **_: Any) -> None:
    documents = [
        {
            "id": d.public_id,
            "kind": d.kind.value,
            "title": d.title,
            "document": external_url("api.get_document", public_id=d.public_id),
        }
        for d in contract.documents
    ]
    application = contract.application
    webhooks.emit(
        session,
        "contract.policed",
        contract.public_id,
        agency_id=contract.agency_id,
        owner_id=contract.owner_id,
        data={
            **_contract(contract),
            "start_date": contract.start_date.isoformat(),
            "application_id": application.public_id if application is not None else None,
            "documents": documents,
        },
    )


def on_decided(application: Application, session: Any, **_: Any) -> None:
    contract = application.contract
    webhooks.emit(
        session,
        "application.decided",
        f"{application.public_id}:{application.state.value}",
        agency_id=application.agency_id,
        owner_id=application.owner_id,
        data={
            "application_id": application.public_id,
            "status": {"policed": "angenommen", "declined": "abgelehnt"}.get(
                application.state.value, application.state.value
            ),
            "contract_number": contract.number if contract is not None else None,
            "decline_reason": application.decline_reason,
        },
    )


def on_document(document: Document, session: Any, contract: Contract, **_: Any) -> None:
    webhooks.emit(
        session,
        "document.added",
        document.public_id,
        agency_id=document.agency_id,
        owner_id=document.owner_id,
        data={
            **_contract(contract),
            "id": document.public_id,
            "kind": document.kind.value,
            "title": document.title,
            "document": external_url("api.get_document", public_id=document.public_id),
        },
    )


def _evb(evb: Evb) -> dict[str, Any]:
    contract = evb.contract
    return {
        **_contract(contract),
        "code": evb.code,
        "valid_until": evb.valid_until.isoformat(),
        "vehicle": evb.vehicle,
        "reason": evb.revoke_reason,
    }


def on_evb_issued(evb: Evb, session: Any, **_: Any) -> None:
    webhooks.emit(
        session,
        "evb.issued",
        f"{evb.public_id}:{evb.code}",
        agency_id=evb.agency_id,
        owner_id=evb.owner_id,
        data=_evb(evb),
    )


def on_evb_revoked(evb: Evb, session: Any, **_: Any) -> None:
    webhooks.emit(
        session,
        "evb.revoked",
        f"{evb.public_id}:{evb.code}",
        agency_id=evb.agency_id,
        owner_id=evb.owner_id,
        data=_evb(evb),
    )


def on_claim(claim: Claim, session: Any, contract: Contract, **_: Any) -> None:
    webhooks.emit(
        session,
        "claim.reported",
        claim.public_id,
        agency_id=claim.agency_id,
        owner_id=claim.owner_id,
        data={
            **_contract(contract),
            "claim_number": claim.number,
            "kind": claim.kind.value,
            "occurred_on": claim.occurred_on.isoformat(),
        },
    )


def connect() -> None:
    """Once per process (blinker keeps weak references to module functions: they live as long)."""
    signals.contract_policed.connect(on_policed)
    signals.application_decided.connect(on_decided)
    signals.document_stored.connect(on_document)
    signals.evb_issued.connect(on_evb_issued)
    signals.evb_revoked.connect(on_evb_revoked)
    signals.claim_reported.connect(on_claim)

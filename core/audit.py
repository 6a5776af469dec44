"""Audit trail: who did what, when — written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g, has_app_context

from core import clock
from core.db import Base, insert_rows, table
from core.users import User

# German labels for the actions shown to users; the action keys are stable identifiers.
ACTION_LABELS: dict[str, str] = {
    "contract_changed": "Vertrag geändert (Nachtrag)",
    "contract_cancelled": "Vertrag gekündigt",
    "contract_renewed": "Vertrag verlängert (Hauptfälligkeit)",
    "renewal_started": "Verlängerung gestartet",
    "claim_reported": "Schaden gemeldet (Kunden-Portal)",
    "claim_handled": "Schadenmeldung bearbeitet",
    "login": "Anmeldung",
    "login_failed": "Anmeldung fehlgeschlagen",
    "login_throttled": "Anmeldung verzögert (zu viele Fehlversuche)",
    "logout": "Abmeldung",
    "user_created": "Benutzer angelegt",
    "agency_created": "Agentur angelegt",
    "offer_calculated": "Angebot berechnet",
    "offer_saved": "Angebot gespeichert",
    "offer_copied": "Angebot kopiert",
    "client_created": "Kunde angelegt",
    "offer_emailed": "Angebot per E-Mail gesendet",
    "message_retried": "Nachricht erneut gesendet",
    "message_address_corrected": "E-Mail-Adresse korrigiert, Nachricht erneut gesendet",
    "application_question": "Rückfrage an den Vermittler",
    "application_answer": "Antwort des Vermittlers auf die Rückfrage",
    "renewal_previewed": "Probelauf der Verlängerung gestartet",
    "letter_posted": "Brief zur Post gegeben",
    "letter_unposted": "Brief zurück in den Postausgang",
    "application_submitted": "Antrag online gestellt",
    "application_referred": "Antrag in Risikoprüfung",
    "application_accepted": "Antrag angenommen",
    "application_declined": "Antrag abgelehnt",
    "contract_policed": "Vertrag policiert",
    "document_downloaded": "Dokument heruntergeladen",
    "access_link_sent": "Zugangslink versendet",
    "access_link_opened": "Zugangslink geöffnet",
    "access_code_sent": "Zugangs-Code versendet",
    "access_code_wrong": "Zugangs-Code falsch eingegeben",
    "portal_activated": "Kunden-Portal aktiviert",
    "contract_in_portal": "Vertrag im Kunden-Portal (Kunde bereits aktiv)",
    "customer_login": "Anmeldung im Kunden-Portal",
    "customer_login_failed": "Anmeldung im Kunden-Portal fehlgeschlagen",
    "password_reset_requested": "Passwort vergessen angefordert",
    "password_reset": "Passwort neu vergeben",
    "password_changed": "Passwort geändert",
    "document_read": "Dokument im Kunden-Portal geöffnet",
    "contract_switched_to_portal": "Auf Kunden-Portal umgestellt",
    "contract_switched_to_post": "Auf Postversand umgestellt",
    "invitation_resent": "Einladung erneut versendet",
    "invitation_reminded": "Erinnerung mit neuem Zugangslink (neues Dokument im Kunden-Portal)",
    "contract_imported": "Bestandsvertrag übernommen",
    "evb_issued": "eVB-Nummer vergeben",
    "evb_revoked": "eVB-Nummer widerrufen",
    "email_change_requested": "Neue E-Mail-Adresse angefordert (Bestätigungslink versendet)",
    "email_changed": "E-Mail-Adresse geändert (bestätigt)",
    "mobile_change_requested": "Neue Mobilnummer angefordert (SMS-Code versendet)",
    "mobile_changed": "Mobilnummer geändert (bestätigt)",
    "contact_code_wrong": "Bestätigungs-Code falsch eingegeben",
    "two_factor_enabled": "Zwei-Faktor-Anmeldung eingeschaltet",
    "two_factor_disabled": "Zwei-Faktor-Anmeldung ausgeschaltet",
    "two_factor_reset": "Zwei-Faktor-Anmeldung vom Innendienst zurückgesetzt",
    "two_factor_failed": "Zwei-Faktor-Code falsch eingegeben",
    "recovery_code_used": "Anmeldung mit Wiederherstellungscode",
    "customer_password_ok": "Passwort richtig, Zwei-Faktor-Code ausstehend",
    "documents_sent_by_post": "Unterlagen per Post (Kunden-Portal nicht aktiviert, Zugangslink abgelaufen)",
}


# A contract's portal events: after an ENTER one the contract is digital (portal delivery, customer
# active), a LEAVE one ends that. agency.share reads the digital share over time from them; a
# partial index holds exactly these rows (its condition is repeated literally in the query, so
# SQLite and PostgreSQL both see it applies).
PORTAL_ENTER = ("portal_activated", "contract_in_portal")
PORTAL_LEAVE = ("contract_switched_to_post", "contract_switched_to_portal", "documents_sent_by_post")
PORTAL_EVENTS_SQL = "object_type = 'contract' AND action IN ({})".format(
    ", ".join(f"'{action}'" for action in PORTAL_ENTER + PORTAL_LEAVE)
)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_type", "object_id"),
        sa.Index("ix_audit_log_agency_at", "agency_id", "at"),  # an agency's newest entries (start page)
        sa.Index(
            "ix_audit_log_portal_events",
            "agency_id",
            "object_id",
            "at",
            "id",
            "action",
            sqlite_where=sa.text(PORTAL_EVENTS_SQL),
            postgresql_where=sa.text(PORTAL_EVENTS_SQL),
        ),
    )
    # scope columns for core.authz: a broker sees his own entries, a manager his agency's
    __scope_owner__ = "actor_id"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=clock.now, index=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(50))
    # who: a staff user, or a customer/system (then actor_id is empty and actor_label says who)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    actor_label: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    agency_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    # on what: e.g. ("contract", "<public id>")
    object_type: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    object_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    client_address: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    actor: so.Mapped[User | None] = so.relationship()

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


def via() -> str | None:
    """The channel of the current request when it is not a person at a page (set with `set_via`)."""
    return g.get("audit_via") if has_app_context() else None


def set_via(label: str) -> None:
    g.audit_via = label


def record(
    session: so.Session,
    action: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    agency_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    details: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; it commits (or not) with the business change. Within a
    request made through a machine interface (`via`, e.g. the broker API's client), the actor's label
    says so: "vermittler@… (API-Zugang MVP)"."""
    label = actor_label if actor_label is not None else (actor.email if actor else "System")
    through = via()
    entry = AuditEntry(
        at=clock.now(),  # when it happened, not when the session flushes
        action=action,
        actor=actor,
        actor_label=f"{label} ({through})"[:254] if through else label,
        agency_id=agency_id if agency_id is not None else (actor.agency_id if actor else None),
        object_type=object_type,
        object_id=object_id,
        details=details or {},
        client_address=client_address,
    )
    session.add(entry)
    return entry


def record_many(session: so.Session, entries: list[dict[str, Any]]) -> None:
    """Bulk path: many entries (rows with every column but id) in one COPY (PostgreSQL) or one
    executemany, in the caller's transaction."""
    insert_rows(session, table(AuditEntry), entries)  # COPY on PostgreSQL


def recent(session: so.Session, user: Any, limit: int = 10) -> list[AuditEntry]:
    """The newest entries the user may see (his own objects; a manager his agency's; the back office all)."""
    from core.authz import scoped

    stmt = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(scoped(stmt, AuditEntry, user)))

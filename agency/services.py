"""The agency's contract stock: onboarding state, switching contracts to the portal (one, a
selection or a CSV file) and back to post, re-sending an invitation."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract, Delivery
from core import audit, clock, paging
from core.authz import scoped
from core.contact import ContactError as MessageError
from core.contact import normalize_email, normalize_mobile
from core.users import User
from onboarding import services as onboarding
from onboarding.models import AccessLink, CodeChannel, Customer
from onboarding.settings import OnboardingSettings

CSV_HEADER = ["vertragsnummer", "e-mail", "mobilnummer"]
NOT_FOUND = "Vertrag nicht gefunden oder nicht in Ihrer Agentur"
SYNC_ROWS = 200  # more rows than this run as a background job with a progress bar


class SwitchError(ValueError):
    """German message for the user."""


# --- onboarding state ----------------------------------------------------------------------------------

STATES = ("Post", "Link versendet", "Code versendet", "aktiviert", "abgelaufen")
STATE_LABELS = {"post": "Post", "link_sent": "Link versendet", "code_sent": "Code versendet", "active": "aktiviert"}
OPEN = ("link_sent", "code_sent")


def state_label(contract: Contract, now: datetime | None = None) -> str:
    """Post; Link versendet; Code versendet; aktiviert; abgelaufen — from the contract's onboarding
    columns (kept current by onboarding), no further queries."""
    now = now or clock.now()
    expires = contract.onboarding_expires_at
    if contract.onboarding_state in OPEN and expires is not None and expires <= now:
        return "abgelaufen"
    return STATE_LABELS.get(contract.onboarding_state, "Post")


def state_filter(label: str, now: datetime | None = None) -> sa.ColumnElement[bool]:
    """The SQL condition for contracts showing this state (uses ix_contracts_stock_state)."""
    now = now or clock.now()
    if label == "abgelaufen":
        return sa.and_(Contract.onboarding_state.in_(OPEN), Contract.onboarding_expires_at <= now)
    state = {v: k for k, v in STATE_LABELS.items()}[label]
    if state in OPEN:
        return sa.and_(
            Contract.onboarding_state == state,
            sa.or_(Contract.onboarding_expires_at.is_(None), Contract.onboarding_expires_at > now),
        )
    return Contract.onboarding_state == state


def stock_page(session: so.Session, user: User, filters: dict[str, str], page: int, size: int) -> paging.Page[Contract]:
    """The Bestand: contracts the user may see, searched (number or name, % and _ as typed) and
    filtered by Sparte, Zustellung and onboarding state, in SQL, one page."""
    stmt = scoped(sa.select(Contract), Contract, user)
    if filters.get("q"):
        stmt = stmt.where(
            sa.or_(
                Contract.number.icontains(filters["q"], autoescape=True),
                Contract.customer_name.icontains(filters["q"], autoescape=True),
            )
        )
    if filters.get("sparte") in ("kfz", "rs"):
        stmt = stmt.where(Contract.product == filters["sparte"])
    if filters.get("zustellung") in ("post", "portal"):
        stmt = stmt.where(Contract.delivery == Delivery(filters["zustellung"]))
    if filters.get("status") in STATES:
        stmt = stmt.where(state_filter(filters["status"]))
    return paging.paginate(session, stmt.order_by(Contract.number, Contract.id), page, size)


def onboarding_states(session: so.Session, contracts: list[Contract]) -> dict[int, str]:
    now = clock.now()
    return {c.id: state_label(c, now) for c in contracts}


# --- one contract -------------------------------------------------------------------------------------


def switch_to_portal(
    session: so.Session, user: User, contract: Contract, email: str, mobile: str, settings: OnboardingSettings
) -> str:
    """Portal delivery for an existing contract: link by e-mail, code by letter (Bestandskunde).
    A customer already active in the portal is not onboarded again. Returns what happened (German)."""
    email = normalize_email(email).lower()
    mobile = normalize_mobile(mobile)
    if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
        raise SwitchError("Der Vertrag ist bereits auf das Kunden-Portal umgestellt.")
    contract.delivery = Delivery.PORTAL
    contract.customer_email = email
    contract.customer_mobile = mobile
    link = onboarding.invite_existing_customer(session, contract, email, settings)
    audit.record(
        session,
        "contract_switched_to_portal",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"email": email},
    )
    if link is None:
        return "Umgestellt. Der Kunde ist im Kunden-Portal bereits aktiv und findet den Vertrag dort."
    return "Umgestellt. Der Kunde erhält den Zugangslink per E-Mail und den Zugangs-Code per Post."


def switch_to_post(session: so.Session, user: User, contract: Contract) -> None:
    if contract.delivery is Delivery.POST:
        raise SwitchError("Der Vertrag ist bereits auf Postversand.")
    contract.delivery = Delivery.POST
    contract.onboarding_state, contract.onboarding_expires_at = "post", None
    audit.record(
        session,
        "contract_switched_to_post",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
    )


def resend_invitation(session: so.Session, user: User, contract: Contract, settings: OnboardingSettings) -> None:
    """A new link (the old one dies) and, for existing customers, a new code letter."""
    if contract.delivery is not Delivery.PORTAL or contract.customer_email is None:
        raise SwitchError("Der Vertrag ist nicht auf das Kunden-Portal umgestellt.")
    customer = session.get(Customer, contract.customer_account_id) if contract.customer_account_id else None
    if customer is not None and customer.activated_at is not None:
        raise SwitchError("Der Kunde ist im Kunden-Portal bereits aktiv.")
    if customer is None:
        customer = onboarding._customer_for(session, contract.customer_email, contract.customer_name)
        contract.customer_account_id = customer.id
    last = session.scalar(
        sa.select(AccessLink).where(AccessLink.contract_id == contract.id).order_by(AccessLink.id.desc())
    )
    channel = last.code_channel if last else CodeChannel.LETTER
    onboarding.invite(
        session,
        customer,
        contract,
        channel=channel,
        mobile=contract.customer_mobile if channel is CodeChannel.SMS else None,
        settings=settings,
    )
    audit.record(
        session,
        "invitation_resent",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
    )


# --- CSV ----------------------------------------------------------------------------------------------


@dataclass
class Parsed:
    rows: list[dict[str, Any]]
    note: str | None = None


MAX_FIELD_CHARS = 254  # the longest e-mail address; Vertragsnummer and mobile number are far shorter


def _german_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def read_csv(data: bytes, *, max_bytes: int, max_rows: int) -> Parsed:
    """Vertragsnummer;E-Mail;Mobilnummer — UTF-8 with or without BOM, or Windows-1252 (as German
    spreadsheet programs export), semicolons; the header line is optional; line ends LF, CRLF or CR
    (old Mac exports). Larger files than max_bytes, more rows than max_rows and cells longer than
    MAX_FIELD_CHARS get a German message."""
    if len(data) > max_bytes:
        raise SwitchError(
            f"Die Datei ist zu groß: höchstens {_german_int(max_bytes // 1024)} KB "
            f"(etwa {_german_int(max_rows)} Zeilen). Bitte teilen Sie sie auf."
        )
    note = None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise SwitchError("Die Datei ist weder UTF-8 noch Windows-1252. Bitte als CSV (UTF-8) speichern.") from exc
        note = "Die Datei war nicht in UTF-8 gespeichert und wurde als Windows-1252 gelesen."
    if not text.strip():
        raise SwitchError("Die Datei ist leer.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    rows: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    line_no = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SwitchError(
                f"Zeile {reader.line_num} ist kein gültiges CSV (z. B. ein Feld mit offenem Anführungszeichen "
                "oder ein viel zu langes Feld). Bitte prüfen Sie die Datei."
            ) from exc
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if line_no == 1 and [f.strip().lower() for f in fields][:3] == CSV_HEADER:
            continue
        if len(rows) >= max_rows:
            raise SwitchError(f"Höchstens {_german_int(max_rows)} Zeilen je Datei. Bitte teilen Sie die Datei auf.")
        if len(fields) < 3 or any(len(f) > MAX_FIELD_CHARS for f in fields[:3]):
            if len(fields) < 3 and line_no == 1 and "," in fields[0]:
                raise SwitchError("Die Datei ist mit Kommas getrennt: erwartet werden Semikolons (;).")
            message = (
                "Zeile unvollständig: Vertragsnummer;E-Mail;Mobilnummer erwartet"
                if len(fields) < 3
                else f"Feld zu lang (höchstens {MAX_FIELD_CHARS} Zeichen)"
            )
            rows.append(
                {
                    "line": line_no,
                    "number": (fields[0] if fields else "").strip()[:40],
                    "email": "",
                    "mobile": "",
                    "status": "error",
                    "message": message,
                }
            )
            continue
        rows.append(
            {
                "line": line_no,
                "number": fields[0].strip(),
                "email": fields[1].strip(),
                "mobile": fields[2].strip(),
                "status": "ok",
                "message": "",
            }
        )
    if not rows:
        raise SwitchError("Die Datei enthält keine Zeilen.")
    return Parsed(rows, note)


def validate_rows(session: so.Session, user: User, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check every row against the agency's stock; nothing is changed."""
    numbers = {r["number"].upper() for r in rows if r["status"] == "ok"}
    contracts = (
        {c.number: c for c in session.scalars(sa.select(Contract).where(Contract.number.in_(numbers)))}
        if numbers
        else {}
    )
    seen: dict[str, int] = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        number = row["number"].upper()
        contract = contracts.get(number)
        problem = None
        if not number:
            problem = "Vertragsnummer fehlt"
        elif number in seen:
            problem = f"doppelte Zeile (wie Zeile {seen[number]})"
        elif contract is None or contract.agency_id != user.agency_id:
            problem = NOT_FOUND  # the same answer for both: other agencies' numbers cannot be probed
        else:
            on_file = row.get("source") == "bestand"  # a selection takes what the contract has on file
            try:
                if not row["email"]:
                    raise MessageError("")
                email = normalize_email(row["email"]).lower()
            except MessageError:
                if not row["email"]:
                    problem = "keine E-Mail-Adresse beim Vertrag hinterlegt" if on_file else "E-Mail-Adresse fehlt"
                else:
                    problem = "E-Mail-Adresse ungültig"
            else:
                try:
                    row["mobile_e164"] = normalize_mobile(row["mobile"])
                except MessageError:
                    if not row["mobile"]:
                        problem = "keine Mobilnummer beim Vertrag hinterlegt" if on_file else "Mobilnummer fehlt"
                    else:
                        problem = "keine deutsche Mobilfunknummer"
                else:
                    if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
                        problem = "bereits auf das Kunden-Portal umgestellt"
        seen.setdefault(number, row["line"])
        if problem:
            row.update(status="error", message=problem)
        else:
            row.update(number=number, message="wird umgestellt")
    return rows


def run_rows(session: so.Session, user: User, rows: list[dict[str, Any]], settings: OnboardingSettings) -> None:
    """Switch the valid rows, each in its own transaction (all or nothing per row). A row whose
    contract is already on the portal with this e-mail was switched by an earlier, interrupted run
    of the same job: it is recorded as switched, not switched again."""
    for row in rows:
        if row["status"] != "ok":
            continue
        contract = session.scalar(
            sa.select(Contract).where(Contract.number == row["number"], Contract.agency_id == user.agency_id)
        )
        try:
            if contract is None:
                raise SwitchError(NOT_FOUND)
            email = normalize_email(row["email"]).lower()
            if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
                row.update(status="switched", message="Umgestellt.")
                continue
            with session.begin_nested():
                row["message"] = switch_to_portal(session, user, contract, row["email"], row["mobile"], settings)
            session.commit()
            row["status"] = "switched"
        except (SwitchError, MessageError) as error:
            session.rollback()
            row.update(status="failed", message=str(error))

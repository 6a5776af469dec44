"""Bulk switch of existing contracts to the customer portal: a CSV upload (Vertragsnummer;E-Mail;
Mobilnummer) or a selection in the Bestand becomes a SwitchJob whose rows are checked first (the
preview, nothing changes), then switched — within the request for small jobs, by the worker for
large ones (agency.jobs).

The job's rows are stored in switch_job_rows. Switching is set-based: a chunk of open rows is
claimed (FOR UPDATE SKIP LOCKED, so several workers run one job at once), written with one statement
per table (invite_existing_customers), and its rows' outcomes recorded, in one transaction. A chunk
that fails as a whole (a customer created meanwhile by another transaction, say) is rolled back and
redone row by row, each row its own transaction — so every row is all or nothing and switched once;
a re-upload switches nothing twice (a contract already on the portal with that address is refused
by the check, or counted as switched by a job that meets it)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from agency.models import FIELDS, RowStatus, SwitchJob, SwitchJobRow, SwitchRow
from agency.services import SwitchError
from contracts.models import Contract, Delivery
from core import audit, clock, csvsafe
from core.authz import scoped
from core.contact import ContactError, EmailAddress, german_mobile, normalize_email
from core.db import insert_rows, rowcount, table
from core.users import User
from onboarding.invitations import Invitation, invite_existing_customers
from onboarding.settings import OnboardingSettings

CSV_HEADER = ["vertragsnummer", "e-mail", "mobilnummer"]
NOT_FOUND = "Vertrag nicht gefunden oder nicht in Ihrer Agentur"
MAX_FIELD_CHARS = 254  # the longest e-mail address; Vertragsnummer and mobile number are far shorter
CHUNK_ROWS = 500  # rows per transaction of the set-based switch
SWITCHED = "Umgestellt. Der Kunde erhält den Zugangslink per E-Mail und den Zugangs-Code per Post."
ALREADY_ACTIVE = "Umgestellt. Der Kunde ist im Kunden-Portal bereits aktiv und findet den Vertrag dort."
REPORT_LABELS = {"ok": "geprüft", "error": "abgelehnt", "switched": "umgestellt", "failed": "fehlgeschlagen"}


@dataclass(frozen=True)
class Limits:
    """How much one upload may hold (BULK_SWITCH_MAX_BYTES / _ROWS) and up to how many valid rows a
    job runs within the request (BULK_SWITCH_SYNC_ROWS)."""

    max_bytes: int
    max_rows: int
    sync_rows: int


@dataclass
class Parsed:
    rows: list[SwitchRow]
    note: str | None = None


# --- reading and checking ---------------------------------------------------------------------------


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
    rows: list[SwitchRow] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
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
            number = (fields[0] if fields else "").strip()[:40]
            rows.append(SwitchRow(line_no, number, "", "", status="error", message=message))
            continue
        rows.append(SwitchRow(line_no, fields[0].strip(), fields[1].strip(), fields[2].strip()))
    if not rows:
        raise SwitchError("Die Datei enthält keine Zeilen.")
    return Parsed(rows, note)


def _problem(row: SwitchRow, contract: Contract) -> str | None:
    """Why this row cannot be switched (German), or None; the checked address and number are kept."""
    on_file = row.source == "bestand"  # a selection takes what the contract has on file
    try:
        if not row.email:
            raise ContactError("")
        email = normalize_email(row.email)
    except ContactError:
        if not row.email:
            return "keine E-Mail-Adresse beim Vertrag hinterlegt" if on_file else "E-Mail-Adresse fehlt"
        return "E-Mail-Adresse mit Umlaut" if not row.email.isascii() else "E-Mail-Adresse ungültig"
    try:
        row.email_checked, row.mobile_checked = email, german_mobile(row.mobile)
    except ContactError:
        if not row.mobile:
            return "keine Mobilnummer beim Vertrag hinterlegt" if on_file else "Mobilnummer fehlt"
        return "keine deutsche Mobilfunknummer"
    if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
        return "bereits auf das Kunden-Portal umgestellt"
    return None


def validate_rows(session: so.Session, user: User, rows: list[SwitchRow]) -> list[SwitchRow]:
    """Check every row against the agency's stock (one query); nothing is changed."""
    numbers = {r.number.upper() for r in rows if r.status == "ok"}
    contracts = (
        {c.number: c for c in session.scalars(sa.select(Contract).where(Contract.number.in_(numbers)))}
        if numbers
        else {}
    )
    seen: dict[str, int] = {}
    for row in rows:
        if row.status != "ok":
            continue
        number = row.number.upper()
        contract = contracts.get(number)
        if not number:
            problem: str | None = "Vertragsnummer fehlt"
        elif number in seen:
            problem = f"doppelte Zeile (wie Zeile {seen[number]})"
        elif contract is None or contract.agency_id != user.agency_id:
            problem = NOT_FOUND  # the same answer for both: other agencies' numbers cannot be probed
        else:
            problem = _problem(row, contract)
        seen.setdefault(number, row.line)
        if problem:
            row.status, row.message = "error", problem
        else:
            row.number, row.message = number, "wird umgestellt"
    return rows


# --- jobs ---------------------------------------------------------------------------------------------


def store_job(session: so.Session, user: User, filename: str, rows: list[SwitchRow], note: str | None) -> SwitchJob:
    """The rows, checked (validate_rows), stored as a job in preview."""
    checked = validate_rows(session, user, rows)
    job = SwitchJob(agency_id=user.agency_id, created_by_id=user.id, filename=filename[:200], total=len(checked))
    job.processed = sum(1 for r in checked if r.status != "ok")  # refused by the check: nothing left to do
    job.note = note
    session.add(job)
    session.flush()
    insert_rows(session, table(SwitchJobRow), [{"job_id": job.id, **_columns(r)} for r in checked])
    session.commit()
    return job


def _columns(row: SwitchRow) -> dict[str, object]:
    values = row.values()
    values["message"] = row.message[:300]
    return values


def _from_columns(found: sa.Row[Any]) -> SwitchRow:
    return SwitchRow(**{name: getattr(found, name) for name in (*FIELDS, "id")})


def rows_of(session: so.Session, job: SwitchJob, limit: int | None = None) -> list[SwitchRow]:
    """The job's rows in file order (the first `limit`)."""
    stmt = sa.select(table(SwitchJobRow)).where(SwitchJobRow.job_id == job.id).order_by(SwitchJobRow.line)
    return [_from_columns(r) for r in session.execute(stmt if limit is None else stmt.limit(limit))]


def counts(session: so.Session, job: SwitchJob) -> dict[str, int]:
    """Rows per status (ok, error, switched, failed)."""
    found = {"ok": 0, "error": 0, "switched": 0, "failed": 0}
    stmt = sa.select(SwitchJobRow.status, sa.func.count()).where(SwitchJobRow.job_id == job.id)
    found.update({status: n for status, n in session.execute(stmt.group_by(SwitchJobRow.status))})
    return found


def upload_job(session: so.Session, user: User, filename: str, data: bytes, limits: Limits) -> SwitchJob:
    """A CSV upload, read and checked: the job in preview (SwitchError for an unreadable file)."""
    parsed = read_csv(data, max_bytes=limits.max_bytes, max_rows=limits.max_rows)
    return store_job(session, user, filename, parsed.rows, parsed.note)


def selection_job(session: so.Session, user: User, public_ids: list[str]) -> SwitchJob | None:
    """The selected contracts (those the user may see) with the e-mail and mobile number on file."""
    chosen = session.scalars(
        scoped(sa.select(Contract), Contract, user).where(Contract.public_id.in_(public_ids))
    ).all()
    if not chosen:
        return None
    rows = [
        SwitchRow(n, c.number or "", c.customer_email or "", c.customer_mobile or "", source="bestand")
        for n, c in enumerate(chosen, start=1)
    ]
    return store_job(session, user, "Auswahl im Bestand", rows, None)


def recent_jobs(session: so.Session, user: User, limit: int = 10) -> list[SwitchJob]:
    stmt = sa.select(SwitchJob).where(SwitchJob.agency_id == user.agency_id).order_by(SwitchJob.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def report_csv(session: so.Session, job: SwitchJob) -> str:
    """Every row with its outcome, for a spreadsheet (formula cells escaped)."""
    return csvsafe.to_csv(
        ["Zeile", "Vertragsnummer", "E-Mail", "Mobilnummer", "Ergebnis", "Hinweis"],
        (
            [r.line, r.number, r.email, r.mobile, REPORT_LABELS.get(r.status, ""), r.message]
            for r in rows_of(session, job)
        ),
    )


# --- switching ----------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    """What a chunk decided, applied to its rows only once its transaction committed."""

    outcomes: list[tuple[SwitchRow, RowStatus, str]] = field(default_factory=list)  # row, status, message
    later: list[SwitchRow] = field(default_factory=list)  # a second row for the same customer


def _switch_chunk(session: so.Session, user: User, rows: list[SwitchRow], settings: OnboardingSettings) -> _Chunk:
    done = _Chunk()
    contracts = {
        c.number: c
        for c in session.scalars(
            sa.select(Contract)
            .options(so.defer(Contract.premium), so.defer(Contract.tariff_version), so.defer(Contract.iban))
            .where(Contract.agency_id == user.agency_id, Contract.number.in_([r.number for r in rows]))
            .with_for_update()  # a concurrent single switch of the same contract waits for this chunk
        )
    }
    invitations: list[tuple[SwitchRow, Invitation, str]] = []
    emails: set[str] = set()
    for row in rows:
        contract = contracts.get(row.number)
        if contract is None:
            done.outcomes.append((row, "failed", NOT_FOUND))
            continue
        try:  # as checked in the preview (jobs stored before that kept only what was typed)
            email = EmailAddress(row.email_checked) if row.email_checked else normalize_email(row.email)
            mobile = row.mobile_checked or german_mobile(row.mobile)
        except ContactError as error:
            done.outcomes.append((row, "failed", str(error)))
            continue
        if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
            done.outcomes.append((row, "switched", "Umgestellt."))  # by an earlier, interrupted run
        elif email in emails:
            done.later.append(row)
        else:
            emails.add(email)
            invitations.append((row, Invitation(contract, email), mobile))
    result = invite_existing_customers(session, [i for _, i, _ in invitations], settings)
    now, switched = clock.now(), []
    for row, invitation, mobile in invitations:
        contract, outcome = invitation.contract, result[invitation.contract.id]
        if outcome not in ("invited", "active"):
            done.outcomes.append((row, "failed", outcome))
            continue
        contract.delivery, contract.customer_email, contract.customer_mobile = Delivery.PORTAL, invitation.email, mobile
        switched.append(
            {
                "action": "contract_switched_to_portal",
                "at": now,
                "actor_id": user.id,
                "actor_label": user.email,
                "agency_id": contract.agency_id,
                "object_type": "contract",
                "object_id": contract.public_id,
                "details": {"email": invitation.email},
                "client_address": None,
            }
        )
        done.outcomes.append((row, "switched", SWITCHED if outcome == "invited" else ALREADY_ACTIVE))
    audit.record_many(session, switched)
    return done


# --- running a job: chunks claimed from its open rows ----------------------------------------------------


def _claim(session: so.Session, job_id: int, size: int, row_id: int | None = None) -> list[SwitchRow]:
    """The job's next `size` open rows (or the one row `row_id` if still open), locked until this
    transaction ends; rows another worker holds are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL;
    SQLite has one writer at a time), so two workers never take the same row."""
    rows = table(SwitchJobRow)
    stmt = sa.select(rows).where(rows.c.job_id == job_id, rows.c.status == "ok")
    if row_id is not None:
        stmt = stmt.where(rows.c.id == row_id)
    stmt = stmt.order_by(rows.c.line).limit(size).with_for_update(skip_locked=True)
    return [_from_columns(r) for r in session.execute(stmt)]


def _record(session: so.Session, job_id: int, outcomes: list[tuple[SwitchRow, RowStatus, str]]) -> int:
    """The rows' outcomes, in the transaction that produced them, and the job's progress (one
    UPDATE: several workers add to it at once). Only rows still open change: returns how many."""
    if not outcomes:
        return 0
    rows = table(SwitchJobRow)
    changed = rowcount(
        session.execute(
            sa.update(rows)
            .where(rows.c.id == sa.bindparam("row_id"), rows.c.status == "ok")
            .values(status=sa.bindparam("new_status"), message=sa.bindparam("new_message")),
            [{"row_id": r.id, "new_status": status, "new_message": message[:300]} for r, status, message in outcomes],
        )
    )
    jobs = table(SwitchJob)
    session.execute(sa.update(jobs).where(jobs.c.id == job_id).values(processed=jobs.c.processed + changed))
    for row, status, message in outcomes:
        row.status, row.message = status, message
    return int(changed)


def _switch_one(session: so.Session, user: User, job_id: int, row_id: int, settings: OnboardingSettings) -> None:
    """One row in its own transaction (the fallback of a failed chunk, and a second row for the same
    customer): the same set-based switch as a chunk, with a chunk of one — one path, one check of the
    address, one way of writing the audit trail. Nothing happens if another worker has the row."""
    claimed = _claim(session, job_id, 1, row_id=row_id)
    if not claimed:
        session.rollback()
        return
    row = claimed[0]
    try:
        done = _switch_chunk(session, user, [row], settings)
        _record(session, job_id, done.outcomes)
        session.commit()
        return
    except IntegrityError:  # the customer's account was created by another request at this moment
        session.rollback()
        failure = "gleichzeitig geändert – bitte diese Zeile erneut umstellen"
    except (SwitchError, ContactError) as error:
        session.rollback()
        failure = str(error)
    if _claim(session, job_id, 1, row_id=row_id):
        _record(session, job_id, [(row, "failed", failure)])
    session.commit()


def run_chunk(session: so.Session, user: User, job_id: int, settings: OnboardingSettings, size: int) -> int:
    """Claim the job's next open rows and switch them in one transaction (their outcomes written in
    it); a chunk that fails as a whole is redone row by row. Returns how many rows were claimed (0: no
    open row is left that no other worker holds)."""
    rows = _claim(session, job_id, size)
    if not rows:
        session.rollback()
        return 0
    try:
        done = _switch_chunk(session, user, rows, settings)
        _record(session, job_id, done.outcomes)
        session.commit()
    except (IntegrityError, ContactError, SwitchError):
        session.rollback()
        for row in rows:
            assert row.id is not None
            _switch_one(session, user, job_id, row.id, settings)
        return len(rows)
    for row in done.later:  # released by the commit: claimed again one by one
        assert row.id is not None
        _switch_one(session, user, job_id, row.id, settings)
    return len(rows)


def run_rows(
    session: so.Session,
    user: User,
    job_id: int,
    settings: OnboardingSettings,
    limit: int | None,
    chunk: int = CHUNK_ROWS,
) -> int:
    """Switch up to `limit` (None: all) of the job's open rows, a chunk per transaction; returns how
    many were claimed. Several processes may run this for one job at once."""
    handled = 0
    while limit is None or handled < limit:
        size = chunk if limit is None else min(chunk, limit - handled)
        claimed = run_chunk(session, user, job_id, settings, size)
        if not claimed:
            break
        handled += claimed
    return handled

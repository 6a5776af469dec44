"""The yearly renewal at the Hauptfälligkeit (Vertragsverlängerung), run by the worker.

A run exists once per due date (RenewalRun); starting it (back office page or `flask contracts renew
--due`) enqueues durable jobs, one per part of 500 due contracts, so several workers renew at once.
Each step locks the next contracts due that no other worker holds (FOR UPDATE SKIP LOCKED), moves
the Kfz SF-Klassen by the tariff's rules, reprices on the tariff version valid at the due date, renders
the new Versicherungsschein and Beitragsrechnung on all cores and commits them together with the
version row and the next Hauptfälligkeit. A killed worker's step is rolled back and redone by the next
worker; a contract is renewed once per Hauptfälligkeit (its main_due moves on, and the version row is
unique per contract and due date), however often the run is started.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from calculator import quotes, reference
from calculator.tariffs import Classes, KfzRisk, KfzTariff, Product, SFClass, TariffCatalog, TariffError
from contracts import lifecycle
from contracts.cancellation import TARIFF_INCREASE
from contracts.changes import end_rabattschutz_if_lost
from contracts.claims import counted_claims
from contracts.documents import Planned, issue_documents
from contracts.models import Contract, ContractVersion, DocumentKind, RenewalPreview, RenewalRun, VersionKind
from contracts.settings import ContractSettings
from contracts.versions import add_version, endorsement_documents, first_version
from core import audit, clock, jobs
from core.csvsafe import to_csv
from core.formatting import date_de, eur
from core.users import User

JOB_KIND = "contracts.renewal"
PART_CONTRACTS = 500  # contracts per part of a run: 10,000 due contracts are 20 parts, 2,000 are four


# the new documents go out up to two months before the Hauptfälligkeit, not earlier
AHEAD_DAYS = 62


class RenewalError(ValueError):
    """German message for the back office."""


@dataclass(frozen=True)
class Progress:
    run: RenewalRun
    renewed: int
    job_state: str | None

    @property
    def failed(self) -> int:
        return len(self.run.failures)

    @property
    def running(self) -> bool:
        return self.job_state in ("pending", "running")


def due_contracts(due: date) -> sa.Select[Any]:
    """Ids of contracts whose Hauptfälligkeit is `due` or earlier and that run past it."""
    return sa.select(Contract.id).where(
        Contract.main_due <= due,
        Contract.number.is_not(None),
        sa.or_(Contract.ends_on.is_(None), Contract.ends_on > Contract.main_due),
    )


def _check_window(due: date, today: date) -> None:
    if due > today + timedelta(days=AHEAD_DAYS):
        raise RenewalError(
            f"Die Verlängerung kann höchstens {AHEAD_DAYS} Tage vor der Hauptfälligkeit laufen "
            f"(frühestens am {date_de(due - timedelta(days=AHEAD_DAYS))})."
        )


def latest_preview(session: so.Session, due: date | None = None) -> RenewalPreview | None:
    stmt = sa.select(RenewalPreview)
    if due is not None:
        stmt = stmt.where(RenewalPreview.due == due)
    return session.scalar(stmt.order_by(RenewalPreview.created_at.desc(), RenewalPreview.id.desc()).limit(1))


def start(
    session: so.Session,
    due: date,
    *,
    actor: User | None,
    today: date,
    label: str = "",
    preview_required: bool = False,
) -> RenewalRun:
    """Start (or start again) the renewal for `due`: a new job each time; contracts renewed by an
    earlier start are not due any more, so nothing is renewed twice. preview_required (the back
    office's page): only after a finished Probelauf for this due date."""
    _check_window(due, today)
    if preview_required:
        preview = latest_preview(session, due)
        if preview is None or preview.finished_at is None:
            raise RenewalError("Bitte starten Sie zuerst den Probelauf und prüfen Sie sein Ergebnis.")
    run = _locked_run(session, due)
    if _job_state(session, run) in ("pending", "running"):
        raise RenewalError(f"Die Verlängerung zum {date_de(due)} läuft bereits.")
    count = session.scalar(sa.select(sa.func.count()).select_from(due_contracts(due).subquery())) or 0
    run.starts += 1
    run.total = count + _renewed(session, run)
    run.failures = []
    run.finished_at = None
    run.started_by_id = actor.id if actor else None
    run.started_label = label or (actor.full_name if actor else "System")
    # in parts, so several workers (on any machine) renew at once: each step of a part locks the next
    # due contracts no other worker holds (FOR UPDATE SKIP LOCKED)
    for part in range(max(1, math.ceil(count / PART_CONTRACTS))):
        key = _job_key(run) + (f":{part}" if part else "")
        jobs.enqueue(session, JOB_KIND, key, {"run": run.id, "part": part})
    audit.record(
        session,
        "renewal_started",
        actor=actor,
        actor_label=None if actor else (label or "System"),
        object_type="renewal",
        object_id=run.public_id,
        details={"due": due.isoformat(), "contracts": count},
    )
    return run


def _locked_run(session: so.Session, due: date) -> RenewalRun:
    """The run of this due date, its row locked (two clerks starting it at once: one waits for the
    other and then finds it running). The first start creates it; a concurrent first start that
    lost the race on the unique due date finds the winner's row."""
    stmt = sa.select(RenewalRun).where(RenewalRun.due == due).with_for_update()
    run = session.scalar(stmt)
    if run is not None:
        return run
    try:
        with session.begin_nested():
            run = RenewalRun(due=due, failures=[], starts=0)
            session.add(run)
    except IntegrityError:
        found = session.scalar(stmt)
        assert found is not None
        return found
    return run


def _job_key(run: RenewalRun) -> str:
    """The key of the latest start's first part (the others: key + ":<part>")."""
    return f"renewal:{run.due.isoformat()}:{run.starts}"


def _job_state(session: so.Session, run: RenewalRun) -> str | None:
    """The latest start's state over its parts: running or pending while any part is, then failed
    if one failed, else done (None: never started)."""
    key = _job_key(run)
    states = {
        state.value
        for state in session.scalars(
            sa.select(jobs.Job.state).where(sa.or_(jobs.Job.key == key, jobs.Job.key.like(f"{key}:%")))
        )
    }
    return next((state for state in ("running", "pending", "failed", "done") if state in states), None)


def _renewed(session: so.Session, run: RenewalRun) -> int:
    return (
        session.scalar(sa.select(sa.func.count()).select_from(ContractVersion).where(ContractVersion.run_id == run.id))
        or 0
    )


def progress(session: so.Session, run: RenewalRun) -> Progress:
    return Progress(run, _renewed(session, run), _job_state(session, run))


def recent(session: so.Session, limit: int = 10) -> list[Progress]:
    runs = session.scalars(sa.select(RenewalRun).order_by(RenewalRun.due.desc()).limit(limit))
    return [progress(session, r) for r in runs]


def step(session: so.Session, payload: dict[str, Any], settings: ContractSettings) -> bool:
    """core.jobs handler: renew the next contracts of the run; True while contracts are left."""
    run = session.get(RenewalRun, payload["run"])
    if run is None:
        return False
    size = settings.renewal_step_contracts
    failed = {int(f["contract_id"]) for f in run.failures}
    stmt = due_contracts(run.due).order_by(Contract.id)
    if failed:
        stmt = stmt.where(Contract.id.not_in(failed))
    ids = list(session.scalars(stmt.limit(size).with_for_update(skip_locked=True)))
    if not ids:  # nothing left that no other part holds: done, or another part finishes the run
        _finish(session, run.id)
        return False
    catalog = settings.catalog
    notice = Notice(settings.renewal_notice_months, clock.today())
    contracts = list(session.scalars(sa.select(Contract).where(Contract.id.in_(ids)).order_by(Contract.id)))
    failures = list(run.failures)

    def renewed() -> Iterator[tuple[Contract, list[Planned]]]:
        """Each contract renewed while the documents of the ones before render."""
        for contract in contracts:
            try:
                yield contract, renew(session, contract, catalog, run, notice)
            except RenewalError as error:
                failures.append(
                    {"contract_id": str(contract.id), "number": contract.number or "", "message": str(error)}
                )

    issue_documents(session, renewed(), catalog=catalog, workers=settings.pdf_workers)
    if len(failures) > len(run.failures):  # other parts add theirs at the same time: under the run's lock
        new = failures[len(run.failures) :]
        locked = _locked(session, run.id)
        known = {f["contract_id"] for f in locked.failures}
        locked.failures = [*locked.failures, *(f for f in new if f["contract_id"] not in known)]
    session.commit()
    return True


def _locked(session: so.Session, run_id: int) -> RenewalRun:
    """The run's row, locked and read afresh (other parts may have changed it)."""
    stmt = sa.select(RenewalRun).where(RenewalRun.id == run_id).with_for_update()
    run = session.scalar(stmt.execution_options(populate_existing=True))
    assert run is not None
    return run


def _finish(session: so.Session, run_id: int) -> None:
    """The run is finished when no contract is due any more but those that failed: checked under
    the run's lock, after the other parts' commits (the last part to commit finishes it)."""
    run = _locked(session, run_id)
    failed = [int(f["contract_id"]) for f in run.failures]
    left = due_contracts(run.due)
    if failed:
        left = left.where(Contract.id.not_in(failed))
    if run.finished_at is None and not session.scalar(sa.select(sa.exists(left.subquery()))):
        run.finished_at = clock.now()
    session.commit()


@dataclass(frozen=True)
class Notice:
    """How far ahead a tariff-driven increase must be announced (§ 40 VVG) and today's date."""

    months: int
    today: date


def renew(
    session: so.Session, contract: Contract, catalog: TariffCatalog, run: RenewalRun, notice: Notice | None = None
) -> list[Planned]:
    """One contract into its next insurance year: SF-Klassen, Regionalklassen, tariff, premium,
    version; returns the documents to issue (the caller renders them for the whole step at once).
    The new premium's reasons are computed step by step — SF-Klasse and Regionalklasse on the old
    tariff, then the new tariff — and stated on the documents. A tariff-driven increase comes with
    a Beitragsmitteilung (§ 40 VVG), and only when there is still the notice's time before the
    Hauptfälligkeit; otherwise the contract keeps its tariff version for this year."""
    assert contract.main_due is not None
    due = contract.main_due
    first_version(session, contract)  # version 0 holds the contract as it was before this renewal
    begin, _ = lifecycle.insurance_year(contract.start_date, due)
    changes: list[dict[str, str]] = []
    old_annual, old_version = contract.annual_total, contract.tariff_version
    reasons: list[tuple[str, Decimal]] = []
    increase = None
    if contract.risk is not None:
        old_risk = risk = quotes.risk_from_dict(contract.risk)
        tariff = catalog.current(Product(contract.product), due)
        if isinstance(risk, KfzRisk) and isinstance(tariff, KfzTariff):
            risk = _move_sf(session, contract, tariff, risk, begin, due, changes)
            risk = end_rabattschutz_if_lost(tariff, risk, changes)
            risk = _region_classes(session, contract, risk, changes)
        old_tariff = catalog.tariffs.get(old_version)
        try:
            premium = quotes.price(tariff, risk)
            if old_tariff is not None and old_tariff.product is tariff.product:
                reasons, on_old = _reasons(old_tariff, tariff, old_risk, risk, premium)
                if on_old is not None and premium.annual_total > on_old.annual_total:  # a tariff-driven increase
                    if notice is not None and notice.today > lifecycle.months_before(due, notice.months):
                        # not announced in time: the old tariff for one more year
                        changes.append(
                            {
                                "label": "Tarifanpassung",
                                "old": old_version,
                                "new": f"erst zur nächsten Hauptfälligkeit (Beitragsmitteilung nicht "
                                f"{notice.months} Monat(e) vor dem {date_de(due)} möglich)",
                            }
                        )
                        premium = on_old
                        reasons = [r for r in reasons if r[0] != "Tarif"]
                    else:
                        increase = (on_old.annual_total, premium.annual_total)
                        changes.append({"label": TARIFF_INCREASE, "old": eur(increase[0]), "new": eur(increase[1])})
        except TariffError as error:  # nothing of the contract changed yet
            raise RenewalError(f"Tarif {tariff.version}: {error.message}") from None
        if isinstance(risk, KfzRisk) and contract.answers is not None:
            sf = {"sf_kh": [risk.sf_kh.key], **({"sf_vk": [risk.sf_vk.key]} if risk.sf_vk is not None else {})}
            contract.answers = {k: v for k, v in {**contract.answers, **sf}.items() if k != "rabattschutz"} | (
                {"rabattschutz": ["y"]} if risk.rabattschutz else {}
            )
        contract.risk = quotes.risk_to_dict(risk)
        contract.tariff_version = premium.tariff_version
        contract.total, contract.annual_total = premium.total, premium.annual_total
        contract.premium = premium.to_dict()
        if premium.tariff_version != old_version:
            changes.append({"label": "Tarifstand", "old": old_version, "new": premium.tariff_version})
    changes.append({"label": "Jahresbeitrag", "old": eur(old_annual), "new": eur(contract.annual_total)})
    contract.main_due = lifecycle.add_year(due)
    add_version(session, contract, VersionKind.RENEWAL, due, changes, actor=None, renewal_due=due, run_id=run.id)
    audit.record(
        session,
        "contract_renewed",
        actor_label="Verlängerung",
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={
            "due": due.isoformat(),
            "annual_total": str(contract.annual_total),
            "tariff_increase": bool(increase),
        },
    )
    year = f"{due.year}" if due.month == 1 and due.day == 1 else f"{due.year}/{due.year + 1}"
    context = {"period_start": due, "old_annual": old_annual, "reasons": reasons, "increase": increase}
    planned = []
    if increase is not None:
        planned.append(Planned(DocumentKind.PREMIUM_NOTICE, f"Beitragsmitteilung {year}", context))
    return [
        *planned,
        Planned(DocumentKind.POLICY, f"Versicherungsschein {year}", context),
        Planned(DocumentKind.INVOICE, f"Beitragsrechnung {year}", context),
    ]


def _region_classes(session: so.Session, contract: Contract, risk: KfzRisk, changes: list[dict[str, str]]) -> KfzRisk:
    """The Regionalklassen of the customer's place as the reference data has them now (the GDV
    publishes new ones every year)."""
    place_id = ((contract.answers or {}).get("ort") or [""])[0]
    place = session.get(reference.PostalPlace, int(place_id)) if place_id.isdigit() else None
    found = reference.region_classes_for(session, place.district_key) if place is not None else None
    if found is None:
        return risk
    classes = Classes(found.kh, found.tk, found.vk)
    if classes == risk.region_classes:
        return risk
    old = risk.region_classes
    changes.append(
        {
            "label": "Regionalklassen",
            "old": f"KH {old.kh}, TK {old.tk}, VK {old.vk}",
            "new": f"KH {classes.kh}, TK {classes.tk}, VK {classes.vk}",
        }
    )
    return dataclasses.replace(risk, region_classes=classes)


def _reasons(
    old_tariff: Any, tariff: Any, old_risk: Any, risk: Any, premium: Any
) -> tuple[list[tuple[str, Decimal]], Any]:
    """Why the annual premium changes, step by step: the SF-Klassen and the Regionalklassen on the
    old tariff, then the new tariff. Returns the reasons (label, amount) and the premium on the
    old tariff (None where the old tariff cannot price the new risk)."""
    try:
        before = quotes.price(old_tariff, old_risk).annual_total
        reasons: list[tuple[str, Decimal]] = []
        if isinstance(risk, KfzRisk) and isinstance(old_risk, KfzRisk):
            moved = dataclasses.replace(risk, region_classes=old_risk.region_classes)
            with_sf = quotes.price(old_tariff, moved).annual_total
            reasons.append(("SF-Klasse", with_sf - before))
            on_old = quotes.price(old_tariff, risk)
            reasons.append(("Regionalklasse", on_old.annual_total - with_sf))
        else:
            on_old = quotes.price(old_tariff, risk)
            reasons.append(("Versicherte Leistungen", on_old.annual_total - before))
    except TariffError:
        return [], None
    reasons.append(("Tarif", premium.annual_total - on_old.annual_total))
    return [(label, amount) for label, amount in reasons if amount], on_old


def sf_year(due: date) -> int:
    """The calendar year whose claims the SF move at `due` counts (Kfz 01.01.: the year before)."""
    return due.year - 1 if (due.month, due.day) == (1, 1) else due.year


def restate(
    session: so.Session,
    contract: Contract,
    occurred_on: date,
    catalog: TariffCatalog,
    *,
    actor: User | None,
    today: date,
    pdf_workers: int | None = None,
) -> ContractVersion | None:
    """Nachstufung (issue #24 item 9; AKB, SF system): a claim of `occurred_on` was paid — or bought
    back — after the renewal of its insurance year had run. That renewal's SF-Klassen are computed
    again from the claims that count now; when they differ, the contract is repriced on its tariff
    from that Hauptfälligkeit on and a Nachtrag with the Nachberechnung or Erstattung is issued.
    None: no renewal to correct (the renewal will count the claim) or nothing changes."""
    if contract.product != Product.KFZ.value or contract.risk is None:
        return None
    renewed = session.scalar(
        sa.select(ContractVersion)
        .where(
            ContractVersion.contract_id == contract.id,
            ContractVersion.kind == VersionKind.RENEWAL,
            ContractVersion.renewal_due > occurred_on,
        )
        .order_by(ContractVersion.renewal_due)
        .limit(1)
    )
    if renewed is None or renewed.renewal_due is None:
        return None
    due = renewed.renewal_due
    session.refresh(contract, with_for_update=True)
    if contract.ends_on is not None and contract.ends_on <= today:
        raise RenewalError(
            f"Der Vertrag ist zum {date_de(contract.ends_on)} beendet; eine Nachstufung ist nicht mehr möglich."
        )
    if contract.main_due != lifecycle.add_year(due):
        raise RenewalError(
            "Der Schaden betrifft ein früheres Versicherungsjahr als das laufende; die Nachstufung über "
            "mehrere Verlängerungen nimmt der Innendienst manuell vor."
        )
    before = session.scalar(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.seq < renewed.seq)
        .order_by(ContractVersion.seq.desc())
        .limit(1)
    )
    if before is None or not before.data.get("risk"):
        return None
    tariff = catalog.get(contract.tariff_version)
    if not isinstance(tariff, KfzTariff):
        return None
    old = quotes.risk_from_dict(before.data["risk"])
    current = quotes.risk_from_dict(contract.risk)
    assert isinstance(old, KfzRisk)
    assert isinstance(current, KfzRisk)
    begin, _ = lifecycle.insurance_year(contract.start_date, due)
    kh_claims, vk_claims = counted_claims(session, contract, begin, due)

    def move(sf: SFClass, claims: int, part: str) -> SFClass:
        return tariff.next_sf_class(
            sf, claims, insured_from=contract.start_date, year=sf_year(due), rabattschutz=old.rabattschutz, part=part
        )

    sf_kh = move(old.sf_kh, kh_claims, "kh")
    sf_vk = move(old.sf_vk, vk_claims, "vk") if old.sf_vk is not None else None
    if (sf_kh, sf_vk) == (current.sf_kh, current.sf_vk):
        return None
    changes = [{"label": "SF-Klasse Kfz-Haftpflicht", "old": current.sf_kh.label, "new": sf_kh.label}]
    if current.sf_vk is not None and sf_vk is not None:
        changes.append({"label": "SF-Klasse Vollkasko", "old": current.sf_vk.label, "new": sf_vk.label})
    changes = [c for c in changes if c["old"] != c["new"]]
    risk = end_rabattschutz_if_lost(tariff, dataclasses.replace(current, sf_kh=sf_kh, sf_vk=sf_vk), changes)
    try:
        premium = quotes.price(tariff, risk)
    except TariffError as error:
        raise RenewalError(f"Tarif {tariff.version}: {error.message}") from None
    old_annual = contract.annual_total
    contract.risk = quotes.risk_to_dict(risk)
    if contract.answers is not None:
        sf = {"sf_kh": [sf_kh.key], **({"sf_vk": [sf_vk.key]} if sf_vk is not None else {})}
        contract.answers = {k: v for k, v in {**contract.answers, **sf}.items() if k != "rabattschutz"} | (
            {"rabattschutz": ["y"]} if risk.rabattschutz else {}
        )
    contract.total, contract.annual_total = premium.total, premium.annual_total
    contract.premium = premium.to_dict()
    changes.append({"label": "Jahresbeitrag", "old": eur(old_annual), "new": eur(contract.annual_total)})
    assert contract.main_due is not None
    year = lifecycle.insurance_year(contract.start_date, contract.main_due)
    days = lifecycle.terms_for(catalog, contract.product, contract.tariff_version, contract.start_date).days_per_year
    delta = lifecycle.pro_rata(old_annual, contract.annual_total, due, year, days) or None
    version = add_version(
        session,
        contract,
        VersionKind.CHANGE,
        due,
        changes,
        actor=actor,
        actor_label=None if actor else "Nachstufung",
        premium_delta=delta,
    )
    planned = endorsement_documents(version, invoice=bool(delta), endorsement_extra={"restated": True})
    issue_documents(session, [(contract, planned)], catalog=catalog, workers=pdf_workers)
    audit.record(
        session,
        "sf_restated",
        actor=actor,
        actor_label=None if actor else "Nachstufung",
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={
            "due": due.isoformat(),
            "sf_kh": sf_kh.key,
            "sf_vk": sf_vk.key if sf_vk else None,
            "premium_delta": str(delta) if delta else None,
        },
    )
    return version


def _move_sf(
    session: so.Session,
    contract: Contract,
    tariff: KfzTariff,
    risk: KfzRisk,
    begin: date,
    due: date,
    changes: list[dict[str, str]],
) -> KfzRisk:
    """The SF-Klassen of the next year (KH and VK move separately, each by its own claims)."""
    kh_claims, vk_claims = counted_claims(session, contract, begin, due)

    def move(current: SFClass, claims: int, part: str) -> SFClass:
        return tariff.next_sf_class(
            current,
            claims,
            insured_from=contract.start_date,
            year=sf_year(due),
            rabattschutz=risk.rabattschutz,
            part=part,
        )

    sf_kh = move(risk.sf_kh, kh_claims, "kh")
    sf_vk = move(risk.sf_vk, vk_claims, "vk") if risk.sf_vk is not None else None
    changes.append({"label": "SF-Klasse Kfz-Haftpflicht", "old": risk.sf_kh.label, "new": sf_kh.label})
    if risk.sf_vk is not None and sf_vk is not None:
        changes.append({"label": "SF-Klasse Vollkasko", "old": risk.sf_vk.label, "new": sf_vk.label})
    return dataclasses.replace(risk, sf_kh=sf_kh, sf_vk=sf_vk)


def _what_changed(changes: list[dict[str, str]]) -> str:
    """Only what really changed (issue #26 item 25: no "412,80 € → 412,80 €")."""
    changed = [f"{c['label']}: {c['old']} → {c['new']}" for c in changes if c["old"] != c["new"]]
    return "; ".join(changed) or "keine Änderung"


def report_csv(session: so.Session, run: RenewalRun) -> str:
    """One line per contract of the run: renewed (with what changed) or failed (with why)."""
    rows = session.execute(
        sa.select(Contract.number, Contract.customer_name, ContractVersion.renewal_due, ContractVersion.changes)
        .join(Contract, Contract.id == ContractVersion.contract_id)
        .where(ContractVersion.run_id == run.id)
        .order_by(Contract.number)
    )
    lines: list[list[Any]] = [
        [number, name, date_de(due), "verlängert", _what_changed(changes)] for number, name, due, changes in rows
    ]
    lines += [[f["number"], "", date_de(run.due), "Fehler", f["message"]] for f in run.failures]
    return to_csv(["Vertragsnummer", "Versicherungsnehmer", "Hauptfälligkeit", "Ergebnis", "Änderungen"], lines)

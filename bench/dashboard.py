"""The agency dashboard (Kennzahlen) for an agency with 100,000 contracts and 500,000 audit entries
(goal ≤ 300 ms), against a trivial logged-in page of the same app in the same run.

The demo agency gets 100,000 contracts over ten brokers, policed or imported over the last two
years; each of them got an access link at some time in the last 15 months (a customer account each,
a link, a code for those who opened it, a tenth re-sent, a few bounced e-mails), half of those
activated a few days later, some went back to post, some contracts ended; the audit trail holds the
onboarding events of all of them plus other entries (logins, document reads) up to 500,000 rows.
Everything is written with executemany; then the agency manager's and the back office's requests go
through the Flask test client (no network), first before the worker has closed any month (every
point of the monthly chart from the audit trail), then after it has (the eleven closed months from
share_snapshots, the current one live): the default period, every quick period, a custom five years
(all 100,000 invited) against the last 30 days (~10,000 invited) — the funnel's cost must not grow
with the contracts invited in the period. Medians of 20 requests each.
Run: .venv/bin/python -m bench.dashboard [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bench.common import demo_user, logged_in_client, median_ms, throwaway_app

CONTRACTS = 100_000
AUDIT = 500_000
BROKERS = 10
CHUNK = 20_000
RUNS = 20


def _insert(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(table), rows[start : start + CHUNK])


def build(app: Any) -> None:
    from contracts.models import Contract, Delivery
    from core import clock, db
    from core.audit import AuditEntry
    from core.db import table
    from core.passwords import hash_password
    from core.users import Role, User
    from messaging.models import Kind, OutboxMessage, State
    from onboarding.models import AccessCode, AccessLink, CodeChannel, PortalAccount

    rng = random.Random(17)
    now = clock.now()
    started = time.perf_counter()
    with app.app_context():
        s = db.session()
        manager = demo_user(s, "agenturleiter@demo.example")
        password = hash_password("Demo-Passwort-1!")
        brokers = [s.scalar(sa.select(User.id).where(User.email == "vermittler@demo.example"))]
        for n in range(1, BROKERS):
            user = User(
                email=f"vermittler{n}@bench.example",
                full_name=f"Vermittler {n}",
                role=Role.BROKER,
                agency_id=manager.agency_id,
                password_hash=password,
            )
            s.add(user)
            s.flush()
            brokers.append(user.id)
        contracts: list[dict[str, Any]] = []
        customers: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        for n in range(CONTRACTS):
            policed = now - timedelta(days=rng.uniform(0, 730))
            row: dict[str, Any] = {
                "id": n + 1_000_000,
                "public_id": f"dash{n:010d}",
                "number": f"DB-{n:07d}",
                "agency_id": manager.agency_id,
                "owner_id": brokers[n % BROKERS],
                "product": "rs",
                "tariff_version": "import",
                "customer_name": f"Kundin {n} Muster",
                "customer": {"first_name": f"Kundin {n}", "last_name": "Muster"},
                "customer_email": None,
                "delivery": Delivery.POST,
                "start_date": date(2020, 1, 1),
                "frequency": "monatlich",
                "total": Decimal("9.90"),
                "annual_total": Decimal("118.80"),
                "premium": {},
                "policed_at": policed,
                "onboarding_state": "post",
                "onboarding_expires_at": None,
                "customer_account_id": None,
                "ends_on": (now - timedelta(days=rng.uniform(0, 300))).date() if n % 25 == 0 else None,
            }
            contracts.append(row)

            def event(action: str, at: Any, row: dict[str, Any] = row) -> None:
                audit.append(
                    {
                        "at": at,
                        "action": action,
                        "actor_id": None,
                        "actor_label": "System",
                        "agency_id": row["agency_id"],
                        "object_type": "contract",
                        "object_id": row["public_id"],
                        "details": {},
                        "client_address": None,
                    }
                )

            event("contract_policed", policed)
            # every contract invited at some time in the last 15 months (five years hold all 100,000
            # invited contracts, the last 30 days about 10,000: the funnel's cost must not grow with them)
            sent = max(policed, now - timedelta(days=rng.uniform(0, 450)))
            email = f"k{n}@example.org"
            activated = sent + timedelta(days=rng.uniform(0.1, 20)) if n % 2 == 0 else None
            if activated is not None and activated > now:
                activated = None
            customer_id = len(customers) + 1
            customers.append(
                {
                    "id": customer_id,
                    "public_id": f"cust{n:010d}",
                    "email": email,
                    "full_name": row["customer_name"],
                    "password_hash": None,
                    "is_active": True,
                    "activated_at": activated,
                    "created_at": sent,
                }
            )
            row.update(customer_email=email, delivery=Delivery.PORTAL, customer_account_id=customer_id)
            row["onboarding_state"] = "active" if activated else "link_sent"
            row["onboarding_expires_at"] = None if activated else sent + timedelta(days=30)
            resent = n % 10 == 1
            for k, at in enumerate([sent, sent + timedelta(days=7)] if resent else [sent]):
                link_id = len(links) + 1
                opened = at + timedelta(hours=rng.uniform(1, 48)) if activated or n % 3 == 0 else None
                last = k == (1 if resent else 0)
                links.append(
                    {
                        "id": link_id,
                        "public_id": f"link{link_id:010d}",
                        "token_hash": f"{link_id:064d}",
                        "customer_id": customer_id,
                        "contract_id": row["id"],
                        "code_channel": CodeChannel.SMS,
                        "mobile": "+4915112345678",
                        "created_at": at,
                        "expires_at": at + timedelta(days=30),
                        "opened_at": opened if last else None,
                        "used_at": activated if last else None,
                        "revoked_at": None if last else at + timedelta(days=7),
                    }
                )
                event("access_link_sent", at)
                outbox.append(
                    {
                        "public_id": f"msg{link_id:011d}",
                        "idempotency_key": f"access-link:link{link_id:010d}",
                        "kind": Kind.EMAIL,
                        "state": State.FAILED if n % 97 == 0 else State.SENT,
                        "recipient": email,
                        "template": "access_link",
                        "related_type": "contract",
                        "related_id": row["public_id"],
                        "agency_id": row["agency_id"],
                        "created_at": at,
                        "next_attempt_at": at,
                    }
                )
                if last and opened is not None:
                    event("access_link_opened", opened)
                    if activated or n % 2 == 0:
                        codes.append(
                            {
                                "link_id": link_id,
                                "code_hmac": "0" * 64,
                                "channel": CodeChannel.SMS,
                                "created_at": opened,
                                "expires_at": opened + timedelta(minutes=10),
                            }
                        )
                        event("access_code_sent", opened)
            if activated:
                event("portal_activated", activated)
                if n % 20 == 0 and activated + timedelta(days=30) < now:  # back to post later
                    event("contract_switched_to_post", activated + timedelta(days=30))
                    row.update(delivery=Delivery.POST, onboarding_state="post")
        filler = ("customer_login", "document_read", "login", "offer_calculated")
        while len(audit) < AUDIT:
            n = rng.randrange(CONTRACTS)
            audit.append(
                {
                    "at": now - timedelta(days=rng.uniform(0, 450)),
                    "action": filler[len(audit) % 4],
                    "actor_id": None,
                    "actor_label": "System",
                    "agency_id": manager.agency_id,
                    "object_type": "contract",
                    "object_id": f"dash{n:010d}",
                    "details": {},
                    "client_address": None,
                }
            )
        _insert(s, table(PortalAccount), customers)
        _insert(s, table(Contract), contracts)
        _insert(s, table(AccessLink), links)
        _insert(s, table(AccessCode), codes)
        _insert(s, table(OutboxMessage), outbox)
        _insert(s, table(AuditEntry), audit)
        from onboarding.progress import rebuild

        progress = rebuild(s)  # written around the services: the read model from its sources, once
        s.commit()
        # as autovacuum would have by then: statistics, and PostgreSQL's visibility map (index-only scans)
        engine = s.get_bind()
        assert isinstance(engine, sa.Engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"))
        print(
            f"written in {time.perf_counter() - started:.0f} s: {len(contracts):,} contracts, {len(customers):,} "
            f"customers, {len(links):,} access links, {len(codes):,} codes, {len(outbox):,} messages, "
            f"{len(audit):,} audit entries, {progress:,} onboarding progress rows".replace(",", ".")
        )


def _invited(app: Any, period: str) -> int:
    """How many contracts of the demo agency the period's funnel counts."""
    from agency.funnel import figures
    from agency.period import Settings, parse_period, scope_for
    from core import db

    von, bis = (part.split("=")[1] for part in period.split("&")[:2])
    settings = Settings(default_days=90, max_years=5, waiting_days=14)
    with app.app_context():
        s = db.session()
        manager = demo_user(s, "agenturleiter@demo.example")
        return figures(s, scope_for(manager), parse_period(von, bis, settings)[0], settings)[0].sent


def main() -> None:
    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    build(app)
    manager = logged_in_client(app, "agenturleiter@demo.example")
    backoffice = logged_in_client(app, "innendienst@demo.example")

    baseline = median_ms(manager, "/passwort-aendern", RUNS)
    print(f"{'trivial logged-in page /passwort-aendern':58s} {baseline:7.1f} ms")
    cold = median_ms(manager, "/agentur/kennzahlen", RUNS)
    print(f"{'Kennzahlen before any month is closed':58s} {cold:7.1f} ms  ({cold / baseline:.1f}× the trivial page)")
    from agency.snapshots import close_months
    from core import db

    with app.app_context():
        started = time.perf_counter()
        written = close_months(db.session())
        print(f"the worker closes the last 11 months: {written} snapshots in {time.perf_counter() - started:.2f} s")
    today = date.today()

    def period(days: int | None = None, start: date | None = None) -> str:
        first = start or today - timedelta(days=(days or 1) - 1)
        return f"von={first.isoformat()}&bis={today.isoformat()}"

    five_years = period(start=today.replace(year=today.year - 5) + timedelta(days=1))
    periods = (
        ("Kennzahlen, default period (90 days)", ""),
        ("quick period: letzte 30 Tage", period(30)),
        ("quick period: letzte 90 Tage", period(90)),
        ("quick period: letzte 12 Monate", period(start=today.replace(year=today.year - 1) + timedelta(days=1))),
        ("quick period: dieses Jahr", period(start=today.replace(month=1, day=1))),
        ("custom: five years, sorted by activations", five_years + "&sortierung=aktiviert"),
    )
    timed: dict[str, float] = {}
    for label, query in periods:
        ms = median_ms(manager, f"/agentur/kennzahlen?{query}".rstrip("?"), RUNS)
        timed[label] = ms
        invited = _invited(app, query) if query else _invited(app, period(90))
        print(
            f"{label:58s} {ms:7.1f} ms  ({ms / baseline:.1f}× the trivial page)  {invited:>7,} invited  "
            "goal ≤ 300 ms".replace(",", ".")
        )
    small, large = _invited(app, period(30)), _invited(app, five_years)
    growth = timed["custom: five years, sorted by activations"] / timed["quick period: letzte 30 Tage"]
    print(
        f"five years ({large:,} invited) ÷ 30 days ({small:,} invited): {growth:.2f}× the time for "
        f"{large / small:.1f}× the contracts (goal ≤ 1.5×)".replace(",", ".")
    )
    for label, client, url in (
        ("manager's start page (figures + worklist)", manager, "/agentur/"),
        ("Bestand behind the bar 'noch offen', page 1", manager, "/bestand/?schritt=offen"),
        ("CSV of the per-broker table", manager, "/agentur/kennzahlen/tabelle.csv"),
        ("back office, all agencies + outbox health", backoffice, "/innendienst/kennzahlen"),
        ("back office, all agencies, five years", backoffice, f"/innendienst/kennzahlen?{five_years}"),
    ):
        ms = median_ms(client, url, RUNS)
        print(f"{label:58s} {ms:7.1f} ms  ({ms / baseline:.1f}× the trivial page)  goal ≤ 300 ms")


if __name__ == "__main__":
    main()

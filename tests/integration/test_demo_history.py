"""`flask demo history`: a year of onboarding written with the real services under a moved clock, so
a fresh `make run` shows Kennzahlen worth looking at. The figures are counted from the story table
(demo.history.STORIES) by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher

from agency.funnel import figures
from agency.period import Settings, parse_period, scope_for
from agency.share import share_by_month, share_now
from contracts.models import Contract, Document
from core import clock
from core.db import session as db_session
from core.storage import DirectoryStore
from core.users import User
from demo.history import PREFIX, STORIES
from demo.seed import DEMO_PASSWORD
from messaging import worker
from messaging.models import OutboxMessage, State
from onboarding.models import AccessLink, PortalAccount
from tests.helpers import post_form

SETTINGS = Settings(default_days=90, max_years=5, waiting_days=14)


def _cost(app) -> tuple[int, int]:
    return app.config["PASSWORD_HASH_MEMORY_KIB"], app.config["PASSWORD_HASH_TIME_COST"]


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def test_a_year_of_onboarding_for_the_dashboard(cli_app, tmp_path):
    cli_app.extensions["document_store"] = DirectoryStore(tmp_path)
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    result = runner.invoke(args=["demo", "history"])
    assert result.exit_code == 0, result.output
    assert "angelegt: 37 Bestandsverträge" in result.output

    with cli_app.app_context():
        s = db_session()
        manager = s.scalars(sa.select(User).where(User.email == "agenturleiter@demo.example")).one()
        scope = scope_for(manager)
        # digital today: the 19 "active" stories (Ute Claßen went back to post); all 41 contracts run
        share = share_now(s, scope)
        assert (share.digital, share.running) == (19, 41)
        months = share_by_month(s, scope)
        assert len(months) == 12
        assert months[-1].share.digital == 19
        assert months[0].share.digital < months[5].share.digital < months[-1].share.digital  # it grows

        # the default period (last 90 days) holds the stories invited 1 … 85 days ago
        period, _ = parse_period("", "", SETTINGS)
        total = figures(s, scope, period, SETTINGS)[0]
        assert total.counts["versendet"] == 23
        assert total.counts["aktiviert"] == 9  # Ben … Hannah
        assert total.counts["abgelaufen"] == 4  # Amy (code only), Ina, Finn, Paul (opened only)
        assert total.counts["unzustellbar"] == 2  # Zoe, Luis
        assert total.counts["post"] == 1  # Ella
        assert total.counts["offen"] == 7  # Lara … Marie
        assert total.counts["wartend"] == 2  # Lara (27 days), Sara (22)
        assert 1 < total.median_days < 10
        assert {row.name: row.sent for row in figures(s, scope, period, SETTINGS)[1]} == {
            "Anna Agenturleiter": 9,
            "Max Vermittler": 14,
        }

        # everything happened when the story says: the first link a year ago, none in the future
        first, last = s.execute(sa.select(sa.func.min(AccessLink.created_at), sa.func.max(AccessLink.created_at))).one()
        first, last, now = (
            d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d for d in (first, last, clock.now())
        )
        assert now - timedelta(days=352) < first < now - timedelta(days=349)
        assert last < now
        # each contract has its Versicherungsschein for the portal; the messages went out back then
        assert s.scalar(
            sa.select(sa.func.count(sa.distinct(Document.contract_id)))
            .join(Contract)
            .where(Contract.number.like(f"{PREFIX}%"))
        ) == len(STORIES)
        pending = s.scalars(sa.select(OutboxMessage.template).where(OutboxMessage.state == State.PENDING)).all()
        assert pending == ["access_code"] * 8  # the code letters of the links still open, for the worker
        links = s.scalar(sa.select(sa.func.count()).select_from(AccessLink))

    # the first real worker pass renders those letters and sends no reminder wave
    worker.run(cli_app, once=True)
    with cli_app.app_context():
        s = db_session()
        assert s.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == links
        assert s.scalar(sa.select(sa.func.count()).where(OutboxMessage.state == State.READY)) == 8

    # an activated demo customer logs in to the portal with the demo password; a hash of another
    # argon2 cost (PASSWORD_HASH_* changed since) is renewed at that login
    with cli_app.app_context():
        s = db_session()
        jana = s.scalars(sa.select(PortalAccount).where(PortalAccount.email == "jana.albers@example.org")).one()
        jana.password_hash = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1).hash(DEMO_PASSWORD)
        s.commit()
    client = cli_app.test_client()
    response = post_form(client, "/portal/anmelden", {"kennung": "jana.albers@example.org", "passwort": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert f"{PREFIX}001" in client.get("/portal/vertraege").get_data(as_text=True)
    with cli_app.app_context():
        renewed = db_session().scalar(sa.select(PortalAccount.password_hash).where(PortalAccount.email == jana.email))
        assert renewed.startswith("$argon2id$v=19$m={},t={},p=".format(*_cost(cli_app)))

    again = runner.invoke(args=["demo", "history"])
    assert "bereits vorhanden" in again.output
    with cli_app.app_context():
        assert db_session().scalar(sa.select(sa.func.count()).where(Contract.number.like(f"{PREFIX}%"))) == len(STORIES)


def test_demo_history_is_refused_in_production(cli_app):
    cli_app.config["APP_ENV"] = "production"
    result = cli_app.test_cli_runner().invoke(args=["demo", "history"])
    assert result.exit_code != 0
    assert "in Produktion nicht angelegt" in result.output

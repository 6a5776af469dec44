"""The agency dashboard's figures against a hand-built agency: every step of the funnel, its
outcomes (expired link, bounced e-mail, back to post, still open), a re-sent invitation, the median
time to activation, the digital share now and per month — and the Bestand filter behind each bar
listing exactly the contracts the bar counts."""

from datetime import date

import pytest
import sqlalchemy as sa

from agency import services as agency
from agency.export import funnel_csv, table_csv
from agency.figures import overview
from agency.funnel import figures, sort_rows, steps
from agency.period import Period, Scope, parse_period, scope_for
from agency.share import share_by_month, share_now
from agency.snapshots import close_months
from contracts.models import Contract
from core.users import Role
from onboarding.models import AccessLink
from tests.dashboard_data import JUNE, SETTINGS


def _numbers(session, user, step, period=JUNE):
    page = agency.stock_page(
        session, user, {"schritt": step, **period.args()}, page=1, size=100, funnel_settings=SETTINGS
    )
    return {c.number for c in page.items}


def test_funnel_counts_each_contract_once_and_follows_it_to_now(app, session, manager, agency_data):
    c = agency_data
    scope = scope_for(manager)
    total = figures(session, scope, JUNE, SETTINGS)[0]
    assert total.counts == {
        "versendet": 7,  # A B C D E G H (Dora's second link does not count twice; Fritz got none)
        "geoeffnet": 4,  # A G (activated), D, H
        "code": 3,  # A G, and D with her letter code; H opened but asked for no SMS code
        "aktiviert": 2,  # A G — Gerd counts although he went back to post later
        "abgelaufen": 1,  # B: her link of 1 June ended on 1 July
        "unzustellbar": 1,  # C
        "post": 1,  # E, switched back by the manager
        "offen": 2,  # D H
        "wartend": 2,  # D (link of 20 June) and H (10 June): more than 14 days
        "nicht_geoeffnet": 3,  # B C E
        "ohne_code": 1,  # H
        "nicht_aktiviert": 1,  # D
        "selbst": 0,  # every one invited by the agency (self-registrations: tests/web/test_registration.py)
    }
    assert total.median_days == pytest.approx(3.5)  # 3 and 4 days
    bars = steps(total)
    assert [(s.count, s.lost) for s in bars] == [(7, None), (4, 3), (3, 1), (2, 1)]
    assert bars[1].lost_percent == pytest.approx(100 * 3 / 7)
    assert bars[3].of_sent == pytest.approx(100 * 2 / 7)

    number = {k: v.number for k, v in c.items()}
    expected = {
        "versendet": "ABCDEGH",
        "geoeffnet": "ADGH",
        "code": "ADG",
        "aktiviert": "AG",
        "abgelaufen": "B",
        "unzustellbar": "C",
        "post": "E",
        "offen": "DH",
        "wartend": "DH",
        "nicht_geoeffnet": "BCE",
        "ohne_code": "H",
        "nicht_aktiviert": "D",
    }
    for step, letters in expected.items():  # the list behind a bar is exactly its contracts
        assert _numbers(session, manager, step) == {number[x] for x in letters}, step
        assert len(letters) == total.counts[step]


def test_periods_select_by_the_invitation_date(app, session, manager, agency_data):
    scope = scope_for(manager)
    first_day = figures(session, scope, Period(date(2026, 6, 1), date(2026, 6, 1)), SETTINGS)[0]
    assert first_day.counts["versendet"] == 1  # only Berta
    # a contract belongs to the period of its first link: Dora's second link (20 June) does not make
    # her a new invitation of 15–30 June — so the figures of adjacent periods add up to the whole's
    late = figures(session, scope, Period(date(2026, 6, 15), date(2026, 6, 30)), SETTINGS)[0]
    assert late.counts["versendet"] == 0
    early = figures(session, scope, Period(date(2026, 6, 1), date(2026, 6, 14)), SETTINGS)[0]
    whole = figures(session, scope, JUNE, SETTINGS)[0]
    assert {k: early.counts[k] + late.counts[k] for k in whole.counts} == whole.counts
    empty = figures(session, scope, Period(date(2026, 8, 1), date(2026, 8, 31)), SETTINGS)[0]
    assert empty.sent == 0
    assert empty.median_days is None


def test_per_broker_rows_add_up_and_sort(app, session, broker, manager, agency_data):
    rows = figures(session, scope_for(manager), JUNE, SETTINGS)[1]
    by_name = {r.name: r for r in rows}
    mine = by_name[broker.full_name]
    assert mine.counts["versendet"] == 7  # all of them are the broker's contracts
    assert mine.median_days == pytest.approx(3.5)
    assert mine.share.digital == 2  # Anna's two contracts
    assert manager.full_name not in by_name  # his one contract moved to the other agency: no row of zeros
    assert "fremd@example.org" not in {r.name for r in rows}
    ordered = sort_rows(rows, "versendet", descending=True)
    assert ordered[0].name == broker.full_name


def test_share_now_and_per_month(app, session, manager, agency_data):
    scope = scope_for(manager)
    running = session.scalar(
        sa.select(sa.func.count())
        .select_from(Contract)
        .where(
            Contract.agency_id == manager.agency_id,
            sa.or_(Contract.ends_on.is_(None), Contract.ends_on > date(2026, 7, 5)),
        )
    )
    now = share_now(session, scope)
    assert (now.digital, now.running) == (2, running)  # Anna's A and F; Gerd went back to post
    months = share_by_month(session, scope)
    assert len(months) == 12
    assert months[-1].label == "Juli 2026 (heute)"
    assert months[-1].share == now  # the history's last point is the contracts' state now
    june, may, april = months[-2], months[-3], months[-4]
    assert june.label == "Juni 2026"
    assert (june.share.digital, june.share.running) == (2, running)  # A and G; X has ended, F not yet in
    assert (may.share.digital, may.share.running) == (0, running + 1)  # imported in May, X still running
    assert april.share.running == 0  # not yet imported
    assert april.share.percent is None


def test_the_back_office_sees_every_agency(app, session, backoffice, agency_data):
    scope = scope_for(backoffice)
    assert scope.agency_id is None
    assert figures(session, scope, JUNE, SETTINGS)[0].counts["versendet"] == 8  # plus the other agency's
    names = {r.name for r in figures(session, Scope(None), JUNE, SETTINGS)[1]}
    assert "Andere Agentur" in names


def test_a_broker_has_no_dashboard_and_his_click_through_stays_his(app, session, broker, manager, agency_data):
    with pytest.raises(PermissionError):
        scope_for(broker)
    # the broker may follow a link (his own contracts only) — a colleague's filter gives nothing
    assert _numbers(session, broker, "aktiviert") == {agency_data["A"].number, agency_data["G"].number}
    page = agency.stock_page(
        session, broker, {"schritt": "aktiviert", "vermittler": manager.public_id, **JUNE.args()}, 1, 100, SETTINGS
    )
    assert page.total == 0


@pytest.mark.parametrize(
    ("von", "bis", "field", "message"),
    [
        ("2026-07-01", "2026-06-01", "bis", "Das Ende des Zeitraums liegt vor seinem Beginn."),
        ("01.01.2020", "01.01.2026", "bis", "Der Zeitraum darf höchstens 5 Jahre lang sein."),
        ("gestern", "2026-06-01", "von", "Bitte geben Sie den Beginn als Datum ein (TT.MM.JJJJ)."),
        ("2026-06-01", "31.02.2026", "bis", "Bitte geben Sie das Ende als Datum ein (TT.MM.JJJJ)."),
    ],
)
def test_wrong_periods_get_a_german_message(von, bis, field, message):
    period, errors = parse_period(von, bis, SETTINGS, now=date(2026, 7, 5))
    assert errors == {field: message}
    assert period == Period(date(2026, 4, 7), date(2026, 7, 5))  # the default, not a guess


def test_periods_parse_both_date_forms_and_default():
    assert parse_period("01.06.2026", "2026-06-30", SETTINGS, now=date(2026, 7, 5)) == (JUNE, {})
    assert parse_period("", "", SETTINGS, now=date(2026, 7, 5))[0].end == date(2026, 7, 5)
    five = parse_period("2021-01-02", "2026-01-01", SETTINGS, now=date(2026, 7, 5))
    assert five[1] == {}  # just under five years is fine


def test_switching_to_post_ends_the_open_links(app, session, manager, agency_data):
    links = session.scalars(sa.select(AccessLink).where(AccessLink.contract_id == agency_data["E"].id)).all()
    assert links
    assert all(link.revoked_at is not None for link in links)


def test_csv_exports_escape_formula_cells(app, session, manager, agency_data, make_user):
    someone = make_user(Role.BROKER, manager.agency, email="formel@example.org")
    someone.full_name = "=HYPERLINK(1)"
    agency_data["H"].owner_id = someone.id
    session.flush()
    view = overview(session, manager, JUNE, SETTINGS)
    table = table_csv(view)
    assert "'=HYPERLINK(1)" in table
    funnel = funnel_csv(view)
    assert "Link versendet;7;100,0;" in funnel


def test_closed_months_are_snapshotted_once_and_read_back(app, session, manager, backoffice, agency_data):
    from agency.models import ShareSnapshot
    from core.users import Agency

    scope = scope_for(manager)
    live = share_by_month(session, scope)
    everyone = share_by_month(session, scope_for(backoffice))
    agencies = session.scalar(sa.select(sa.func.count()).select_from(Agency))
    assert close_months(session) == agencies * 11  # every agency, the 11 closed months
    assert close_months(session) == 0  # nothing due: one cheap count
    assert share_by_month(session, scope) == live  # the snapshots say what the trail says
    assert share_by_month(session, scope_for(backoffice)) == everyone  # summed
    june = session.scalar(
        sa.select(ShareSnapshot).where(
            ShareSnapshot.agency_id == manager.agency_id, ShareSnapshot.month == date(2026, 6, 1)
        )
    )
    assert (june.digital, june.running) == (2, live[-2].share.running)
    june.digital = 5  # a closed month is read from its snapshot, not from the audit trail again
    session.flush()
    assert share_by_month(session, scope)[-2].share.digital == 5
    assert share_by_month(session, scope)[-1].share == live[-1].share  # the current month is live


def test_a_new_agency_is_closed_on_the_next_run(app, session, manager, make_agency, agency_data):
    close_months(session)
    make_agency(name="Neu gegründet")
    assert close_months(session) == 11  # only the new agency's months

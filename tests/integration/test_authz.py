"""The scope rule on real rows: broker own, manager agency, back office all — for single objects
(can_see), lists (scoped) and loads by id (get_visible_or_404)."""

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so
from werkzeug.exceptions import NotFound

from core.authz import can_see, get_visible_or_404, scoped
from core.users import Role


class _TestBase(so.DeclarativeBase):
    pass


class Thing(_TestBase):
    """A stand-in for offers/contracts: scoped by agency_id and owner_id like them."""

    __tablename__ = "authz_test_things"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32))
    agency_id: so.Mapped[int]
    owner_id: so.Mapped[int]


@pytest.fixture
def world(session, connection, make_agency, make_user):
    _TestBase.metadata.create_all(connection)  # inside the test transaction: rolled back after
    north, south = make_agency("Nord"), make_agency("Süd")
    people = {
        "broker_a": make_user(Role.BROKER, north),
        "broker_b": make_user(Role.BROKER, north),
        "manager_north": make_user(Role.MANAGER, north),
        "broker_south": make_user(Role.BROKER, south),
        "manager_south": make_user(Role.MANAGER, south),
        "backoffice": make_user(Role.BACKOFFICE),
    }
    things = {
        "of_a": Thing(public_id="a1", agency_id=north.id, owner_id=people["broker_a"].id),
        "of_b": Thing(public_id="b1", agency_id=north.id, owner_id=people["broker_b"].id),
        "of_south": Thing(public_id="s1", agency_id=south.id, owner_id=people["broker_south"].id),
    }
    session.add_all(things.values())
    session.flush()
    return people, things


VISIBLE = {
    "broker_a": {"of_a"},
    "broker_b": {"of_b"},
    "manager_north": {"of_a", "of_b"},
    "broker_south": {"of_south"},
    "manager_south": {"of_south"},
    "backoffice": {"of_a", "of_b", "of_south"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_can_see_follows_the_scope_rule(world, who):
    people, things = world
    seen = {name for name, thing in things.items() if can_see(people[who], thing)}
    assert seen == VISIBLE[who]


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_scoped_lists_only_visible_rows(world, session, who):
    people, things = world
    rows = session.scalars(scoped(sa.select(Thing), Thing, people[who])).all()
    ids = {thing.public_id for thing in rows}
    assert ids == {things[name].public_id for name in VISIBLE[who]}


def test_foreign_object_by_id_is_not_found_not_forbidden(world, session):
    people, things = world
    assert get_visible_or_404(session, Thing, people["manager_north"], public_id="b1") is things["of_b"]
    with pytest.raises(NotFound):
        get_visible_or_404(session, Thing, people["manager_north"], public_id="s1")
    with pytest.raises(NotFound):
        get_visible_or_404(session, Thing, people["broker_a"], public_id="b1")


def test_deactivated_user_sees_nothing(world, session):
    people, things = world
    people["manager_north"].is_active = False
    assert not any(can_see(people["manager_north"], t) for t in things.values())

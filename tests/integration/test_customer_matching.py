"""Kunden matching and offer variants at the service (issue #16): the normalised key, exact match
linked, ambiguous left to the broker, scope respected; variants priced by the quote service with the
differences against the offer."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from calculator import customers, quotes, variants
from calculator.models import CustomerRecord
from calculator.tariffs import Product
from core import clock
from core.users import Role
from tests.helpers import KFZ_ANSWERS

pytestmark = pytest.mark.usefixtures("demo_reference")
PERSON = customers.Person(
    "herr", "Jürgen", "Müller-Lüdenscheidt", date(1972, 2, 29), "Hauptstraße 1", "10115", "Berlin"
)


@pytest.mark.parametrize(
    ("last", "first", "key"),
    [
        ("Müller-Lüdenscheidt", "Jürgen", "mueller luedenscheidt juergen"),
        ("  Weiß ", "Özlem", "weiss oezlem"),
        ("D'Angelo", "José", "d angelo jose"),
    ],
)
def test_the_search_key_reads_umlauts_as_typed_on_any_keyboard(last, first, key):
    assert customers.key_of(last, first) == key


def _offer(app, session, broker, **changes):
    today = clock.today()
    with app.test_request_context():
        form = MultiDict({**KFZ_ANSWERS, **changes})
        quote = quotes.evaluate(session, app.extensions["tariffs"], Product.KFZ, form, today=today)
        return quotes.store_offer(session, broker, quote, form)


def test_exact_linked_new_created_ambiguous_left_open(app, session, broker):
    first = _offer(app, session, broker)
    assert customers.attach(session, broker, first, PERSON) == []
    again = _offer(app, session, broker)
    assert customers.attach(session, broker, again, PERSON) == []
    assert again.client_id == first.client_id
    moved = _offer(app, session, broker)
    elsewhere = customers.Person(**{**PERSON.__dict__, "street": "Invalidenstraße 3"})
    (candidate,) = customers.attach(session, broker, moved, elsewhere)
    assert candidate.id == first.client_id
    assert moved.client_id is None
    with pytest.raises(ValueError, match="einen der angezeigten Kunden"):
        customers.confirm(session, broker, moved, elsewhere, "x" * 32)
    new = customers.confirm(session, broker, moved, elsewhere, None)
    assert new.id != first.client_id
    # now two of that name and birth date: the next offer is ambiguous even at the first address
    third = _offer(app, session, broker)
    assert (
        len(customers.attach(session, broker, third, customers.Person(**{**PERSON.__dict__, "street": "Woanders 1"})))
        == 2
    )


def test_matching_stays_within_the_brokers_scope(app, session, broker, make_user, agency):
    first = _offer(app, session, broker)
    customers.attach(session, broker, first, PERSON)
    colleague = make_user(Role.BROKER, agency)
    theirs = _offer(app, session, colleague)
    assert customers.attach(session, colleague, theirs, PERSON) == []  # he cannot see broker's Kunde
    assert theirs.client_id != first.client_id
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerRecord)) == 2


def test_variants_are_priced_and_compared_against_the_offer(app, session, broker):
    offer = _offer(app, session, broker)
    today = clock.today()
    with app.test_request_context():
        columns, rows = variants.compare(
            session,
            app.extensions["tariffs"],
            offer,
            [(1, {"sb_vk": ["1000"]}), (2, {"kfz_deckung": ["kh"]})],
            today,
        )
    assert [c.title for c in columns] == ["Angebot", "Variante 1", "Variante 2"]
    assert all(c.quote.premium is not None for c in columns)
    assert columns[1].quote.premium.total < columns[0].quote.premium.total  # a higher deductible costs less
    assert columns[2].quote.premium.total < columns[1].quote.premium.total  # Haftpflicht only: less again
    vk = next(r for r in rows if r.label == "Selbstbeteiligung Vollkasko")
    assert vk.cells == ["500 €", "1.000 €", "–"]
    assert vk.differs == [False, True, True]

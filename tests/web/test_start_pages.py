"""Start pages: "Neue Dokumente meiner Kunden" for the broker, the agency's for its manager (issue
#14, item 4) — each sees only documents of contracts he may see."""

from __future__ import annotations

from contracts.documents import add_document
from contracts.models import DocumentKind
from core.users import Role
from tests.helpers import demo_stock, login


def test_brokers_and_managers_see_the_new_documents_they_may_see(app, session, broker, manager, make_user, agency):
    stock = demo_stock(session, broker, manager)
    colleague = make_user(Role.BROKER, agency)
    with app.test_request_context():
        add_document(session, stock["BV-4711001"], DocumentKind.INVOICE, "Beitragsrechnung 2027", b"%PDF-1.4")
        add_document(session, stock["BV-4711004"], DocumentKind.ENDORSEMENT, "Nachtrag Nr. 1", b"%PDF-1.4")
    session.commit()

    own = app.test_client()
    login(own, broker.email)
    page = own.get("/vermittler/").get_data(as_text=True)
    assert "Neue Dokumente meiner Kunden" in page
    assert "Beitragsrechnung 2027" in page  # his contract
    assert "BV-4711001" in page
    assert "Nachtrag Nr. 1" not in page  # the manager's own contract

    boss = app.test_client()
    login(boss, manager.email)
    page = boss.get("/agentur/").get_data(as_text=True)
    assert "Neue Dokumente der Agentur" in page
    assert "Beitragsrechnung 2027" in page
    assert "Nachtrag Nr. 1" in page

    other = app.test_client()
    login(other, colleague.email)
    assert "In den letzten 30 Tagen sind keine neuen Dokumente entstanden." in other.get("/vermittler/").get_data(
        as_text=True
    )

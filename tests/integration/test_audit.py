import sqlalchemy as sa

from core import audit
from core.audit import AuditEntry
from core.users import Role


def test_entry_commits_with_the_business_change_and_names_actor_and_agency(session, make_user, agency):
    user = make_user(Role.BROKER, agency)
    audit.record(session, "login", actor=user, client_address="127.0.0.1", details={"via": "test"})
    session.commit()
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.actor_id == user.id))
    assert (entry.action, entry.actor_label, entry.agency_id) == ("login", user.email, agency.id)
    assert entry.details == {"via": "test"}
    assert entry.at.tzinfo is not None
    assert entry.action_label == "Anmeldung"


def test_entry_is_discarded_when_the_business_change_rolls_back(session, make_user, agency):
    user = make_user(Role.BROKER, agency)
    session.commit()
    audit.record(session, "login", actor=user)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_system_entries_have_a_label_but_no_actor(session):
    entry = audit.record(session, "agency_created", object_type="agency", object_id="x")
    session.flush()
    assert entry.actor_id is None
    assert entry.actor_label == "System"

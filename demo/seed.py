"""The demo agency and its logins. Demo only: the password is public (README)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.passwords import PasswordRule
from core.users import Agency, Role, User, create_agency, create_user

DEMO_PASSWORD = "Demo-Passwort-1!"  # noqa: S105 - demo only, documented in the README
DEMO_AGENCY = {"name": "Demo-Agentur", "broker_number": "900100"}
DEMO_USERS = (
    ("vermittler@demo.example", "Max Vermittler", Role.BROKER),
    ("agenturleiter@demo.example", "Anna Agenturleiter", Role.MANAGER),
    ("innendienst@demo.example", "Ines Innendienst", Role.BACKOFFICE),
)


def seed(session: so.Session) -> list[str]:
    """Create what is missing of the demo data; return what was created. Idempotent."""
    created: list[str] = []
    agency = session.scalar(sa.select(Agency).where(Agency.broker_number == DEMO_AGENCY["broker_number"]))
    if agency is None:
        agency = create_agency(session, **DEMO_AGENCY)
        created.append(f"Agentur {agency.name}")
    for email, name, role in DEMO_USERS:
        if session.scalar(sa.select(User.id).where(User.email == email)):
            continue
        create_user(
            session,
            email=email,
            full_name=name,
            role=role,
            password=DEMO_PASSWORD,
            agency=None if role is Role.BACKOFFICE else agency,
            rule=PasswordRule(),
        )
        created.append(f"{role.label} {email}")
    return created

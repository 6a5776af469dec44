"""`flask secrets rotate`: every secret at rest (the customers' TOTP secrets) encrypted again with the
newest key of SECRETS_KEYS — after a new key was put in front; secrets stored before encryption are
encrypted. Then the old key can leave SECRETS_KEYS."""

from __future__ import annotations

import click
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask.cli import AppGroup

from core import db
from core.crypto import SecretBox, is_encrypted
from onboarding.models import PortalAccount
from onboarding.settings import current as current_settings

secrets_cli = AppGroup("secrets", help="Secrets at rest (SECRETS_KEYS).")


def rotate(session: so.Session, box: SecretBox) -> int:
    """Re-encrypt every TOTP secret with the newest key; returns how many. Rows locked, one commit."""
    count = 0
    for customer in session.scalars(
        sa.select(PortalAccount)
        .where(PortalAccount.totp_secret.is_not(None))
        .order_by(PortalAccount.id)
        .with_for_update()
    ):
        stored = customer.totp_secret
        assert stored is not None
        customer.totp_secret = box.rotate(stored) if is_encrypted(stored) else box.encrypt(stored)
        count += 1
    return count


@secrets_cli.command("rotate")
def rotate_command() -> None:
    """Encrypt every secret at rest again with the newest key of SECRETS_KEYS."""
    session = db.session()
    count = rotate(session, current_settings().box)
    session.commit()
    click.echo(f"{count} secret(s) encrypted with the newest key.")


onboarding_cli = AppGroup("onboarding", help="The customers' onboarding.")


@onboarding_cli.command("rebuild-progress")
def rebuild_progress_command() -> None:
    """Rebuild the onboarding progress read model (the dashboard's funnel) from the access links,
    codes, customers and contracts — after data was written around the services (an import, a
    restore). The services keep it up to date; this is never needed in normal operation."""
    from onboarding.progress import rebuild

    session = db.session()
    count = rebuild(session)
    session.commit()
    click.echo(f"Onboarding-Fortschritt neu aufgebaut: {count} Verträge.")

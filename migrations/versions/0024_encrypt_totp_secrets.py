"""customers.totp_secret: encrypted at rest (core.crypto, SECRETS_KEYS); the column takes a Fernet
token, and every secret stored in plain text is encrypted (downgrade: decrypted again)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context, op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _box():  # type: ignore[no-untyped-def]
    """The app's keys (flask db upgrade passes them in); run without the app: from the environment."""
    from core.crypto import SecretBox

    box = context.config.attributes.get("secret_box")
    if box is not None:
        return box
    if os.environ.get("SECRETS_KEYS") or os.environ.get("SECRET_KEY"):
        return SecretBox.from_config(
            {"SECRETS_KEYS": os.environ.get("SECRETS_KEYS", ""), "SECRET_KEY": os.environ.get("SECRET_KEY", "")}
        )
    return None


def _convert(encrypt: bool) -> None:
    from core.crypto import is_encrypted

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(customers.c.id, customers.c.totp_secret).where(customers.c.totp_secret.is_not(None))
    ).all()
    todo = [(i, s) for i, s in rows if is_encrypted(s) != encrypt]
    if not todo:
        return
    box = _box()
    if box is None:
        raise RuntimeError("the TOTP secrets need SECRETS_KEYS (or SECRET_KEY): run `flask db upgrade`")
    for customer_id, secret in todo:
        value = box.encrypt(secret) if encrypt else box.decrypt(secret)
        connection.execute(customers.update().where(customers.c.id == customer_id).values(totp_secret=value))


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255))
    _convert(encrypt=True)


def downgrade() -> None:
    _convert(encrypt=False)
    with op.batch_alter_table("customers") as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64))

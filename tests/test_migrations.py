"""Every migration upgrades and downgrades; the newest one matches the models."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core import migrate
from core.db import make_engine
from core.model_registry import metadata
from tests.conftest import database_url_for, reset_database


def _tables(engine):
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(tmp_path):
    url = database_url_for("migrations", tmp_path)
    reset_database(url)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        assert _tables(engine) == set(metadata().tables)
        migrate.downgrade(engine, "base")
        assert _tables(engine) == set()
        migrate.upgrade(engine)
        assert _tables(engine) == set(metadata().tables)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata()) == []


def test_migrations_keep_rows_that_other_rows_reference(cli_app):
    """SQLite's batch mode rebuilds a table (copy, DROP, rename): with foreign keys enforced, dropping
    a table that other rows point at failed (0018 on a database with contracts and access links)."""
    from agency import services as agency
    from contracts.models import Contract
    from core.db import session as db_session
    from core.users import User
    from onboarding.models import AccessLink

    assert cli_app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    with cli_app.app_context():
        s = db_session()
        manager = s.scalars(sa.select(User).where(User.email == "agenturleiter@demo.example")).one()
        contract = s.scalars(sa.select(Contract).where(Contract.number == "BV-4711003")).one()
        agency.switch_to_portal(
            s, manager, contract, "oemer@example.org", "0151 12345678", cli_app.extensions["onboarding_settings"]
        )
        s.commit()
    engine = cli_app.extensions["database"].engine
    migrate.downgrade(engine, "0017")  # 0018 and 0019 rebuild contracts and offers on SQLite
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == 1
        assert connection.scalar(sa.select(sa.func.count()).select_from(Contract)) == 4
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again for the app


def test_the_totp_secrets_are_encrypted_by_the_migration_and_rotated_by_the_cli(cli_app):
    """Issue #25 item 11: 0024 encrypts the TOTP secrets stored in plain text (downgrade decrypts);
    `flask secrets rotate` re-encrypts them with the newest key of SECRETS_KEYS."""
    from cryptography.fernet import Fernet

    from core.crypto import SecretBox, is_encrypted
    from core.db import session as db_session
    from onboarding.models import PortalAccount

    engine = cli_app.extensions["database"].engine
    with cli_app.app_context():
        migrate.downgrade(engine, "0023")
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO customers (public_id, email, full_name, is_active, totp_secret, created_at) "
                    "VALUES ('totp-migration-test', 't@example.org', 'T', TRUE, 'JBSWY3DPEHPK3PXP', CURRENT_TIMESTAMP)"
                )
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            stored = connection.scalar(sa.text("SELECT totp_secret FROM customers WHERE email = 't@example.org'"))
        box = cli_app.extensions["onboarding_settings"].box
        assert is_encrypted(stored)
        assert box.decrypt(stored) == "JBSWY3DPEHPK3PXP"

    newest = Fernet.generate_key().decode()
    cli_app.extensions["onboarding_settings"] = dataclasses_replace_box(
        cli_app, SecretBox([newest, *box_keys(cli_app)])
    )
    result = cli_app.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 secret(s) encrypted with the newest key." in result.output
    with cli_app.app_context():
        stored = db_session().scalar(sa.select(PortalAccount.totp_secret).where(PortalAccount.email == "t@example.org"))
    assert SecretBox([newest]).decrypt(stored) == "JBSWY3DPEHPK3PXP"


def box_keys(app) -> list[str]:
    from core.crypto import keys_from_config

    return keys_from_config(app.config)


def dataclasses_replace_box(app, box):
    import dataclasses

    return dataclasses.replace(app.extensions["onboarding_settings"], secret_box=box)


def test_a_bulk_switch_s_rows_move_from_its_json_column_into_their_table(cli_app):
    """0034: the rows of jobs stored before (one JSON column) become switch_job_rows, in file order,
    with their outcome; rows of an old job without the checked values get empty ones."""
    from agency import bulk
    from agency.models import SwitchJob
    from core.db import session as db_session

    assert cli_app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    engine = cli_app.extensions["database"].engine
    migrate.downgrade(engine, "0033")
    stored = [
        {
            "line": 2,
            "number": "BV-4711003",
            "email": "a@example.org",
            "mobile": "0151 1",
            "status": "switched",
            "message": "Umgestellt.",
            "source": "csv",
        },
        {
            "line": 3,
            "number": "X",
            "email": "",
            "mobile": "",
            "status": "error",
            "message": "E-Mail-Adresse fehlt",
            "source": "csv",
            "email_checked": "",
            "mobile_checked": "",
        },
    ]
    with engine.begin() as connection:
        agency_id, user_id = connection.execute(
            sa.text("SELECT agency_id, id FROM users WHERE email = 'agenturleiter@demo.example'")
        ).one()
        jobs = sa.table(
            "switch_jobs",
            *(
                sa.column(c)
                for c in (
                    "public_id",
                    "agency_id",
                    "created_by_id",
                    "filename",
                    "state",
                    "total",
                    "processed",
                    "created_at",
                )
            ),
            sa.column("rows", sa.JSON),
        )
        connection.execute(
            sa.insert(jobs).values(
                public_id="old-job",
                agency_id=agency_id,
                created_by_id=user_id,
                filename="alt.csv",
                state="done",
                total=2,
                processed=2,
                created_at=sa.func.current_timestamp(),
                rows=stored,
            )
        )
    migrate.upgrade(engine)
    with cli_app.app_context():
        s = db_session()
        job = s.scalar(sa.select(SwitchJob).where(SwitchJob.public_id == "old-job"))
        rows = bulk.rows_of(s, job)
        assert [(r.line, r.number, r.status, r.message, r.email_checked) for r in rows] == [
            (2, "BV-4711003", "switched", "Umgestellt.", ""),
            (3, "X", "error", "E-Mail-Adresse fehlt", ""),
        ]
        assert bulk.counts(s, job) == {"ok": 0, "error": 1, "switched": 1, "failed": 0}

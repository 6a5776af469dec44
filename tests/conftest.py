"""Fixtures: the database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), an app per test
whose database work is rolled back afterwards, users per role and logged-in clients, and a live
server with the demo data for Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.routing.rules import Rule

from core import migrate
from core.app import create_app
from core.db import make_engine
from core.extensions import limiter
from core.users import Agency, Role, User
from tests.dashboard_data import agency_data  # noqa: F401 (a fixture for the dashboard's tests)
from tests.helpers import PASSWORD, cached_hash, login

_builders: dict[tuple[object, ...], object] = {}
_compile_builder = Rule._compile_builder


def _shared_builder(self: Rule, append_unknown: bool = True) -> object:
    """The suite makes an app per test; werkzeug compiles a Python function for every URL rule of
    every app (80 % of create_app: ~60 ms a test). The function depends only on the rule's text,
    its defaults and append_unknown — the rule itself is passed to it as an argument — so the tests
    share one per rule and process. Production makes one app per process and is not touched."""
    key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
    found = _builders.get(key)
    if found is None:
        found = _builders[key] = _compile_builder(self, append_unknown)
    return found


Rule._compile_builder = _shared_builder  # type: ignore[method-assign]

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEST_SECRET = "test-secret-key-" + "x" * 32
TEST_HASH_COST = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "64", "PASSWORD_HASH_PARALLELISM": "1"}


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {_backend_name()}"


def _backend_name() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def reset_database(url: str) -> None:
    """Empty the database at url (PostgreSQL: drop and recreate it; SQLite: delete the file)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and os.path.exists(parsed.database):
            os.remove(parsed.database)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def database_url_for(name: str, tmp_dir: Path) -> str:
    """A database of its own for one purpose (suite, migrations, live server) on the chosen backend,
    and for each pytest-xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"{name}_{worker}" if worker else name
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        parsed = sa.make_url(base)
        return parsed.set(database=f"{parsed.database}_{name}").render_as_string(hide_password=False)
    return f"sqlite:///{tmp_dir / (name + '.sqlite3')}"


def environ_for(url: str) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET,
        "APP_BASE_URL": "http://portal.test",
        "DOCUMENT_STORAGE_DIR": os.environ.get("DOCUMENT_STORAGE_DIR", ""),
        # tests change reference data and read it back at once (tests/integration/test_reference_snapshot.py
        # checks the interval itself)
        "REFERENCE_CHECK_SECONDS": "0",
        # argon2id at its smallest cost: the suite logs in hundreds of times (at the production cost
        # that was a quarter of its run time); tests/unit/test_passwords.py checks the real default
        **TEST_HASH_COST,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url_for("suite", tmp_path_factory.mktemp("db"))
    reset_database(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    """The suite's database, built by the real migrations (so they are exercised on every run)."""
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    _progress_agrees_with_its_sources(conn)
    outer.rollback()
    conn.close()


def _progress_agrees_with_its_sources(conn: sa.Connection) -> None:
    """After every test on the shared connection: the onboarding progress read model says what its
    sources say (issue #28 item 7) — whatever the test did through the services, a missed refresh
    shows here. A test whose transaction broke (its own failure) is not checked again."""
    from onboarding.models import OnboardingProgress
    from onboarding.progress import COLUMNS, computed

    if not outer_ok(conn):
        return
    try:
        with conn.begin_nested():
            progress = sa.select(OnboardingProgress.contract_id, *(getattr(OnboardingProgress, c) for c in COLUMNS))
            stored = {tuple(r) for r in conn.execute(progress)}
            fresh = {tuple(r) for r in conn.execute(computed())}
    except sa.exc.DBAPIError:
        return  # the test left its transaction aborted
    assert stored == fresh, f"onboarding_progress is stale: kept {stored - fresh}, sources say {fresh - stored}"


def outer_ok(conn: sa.Connection) -> bool:
    return conn.in_transaction() and not conn.invalidated


@pytest.fixture
def app(database_url: str, connection: sa.Connection) -> Iterator[Flask]:
    # No app context is held open here: each request gets its own, as in production (otherwise g,
    # and Flask-Login's cached user with it, would leak from one request or client to the next).
    app = create_app(environ=environ_for(database_url))
    app.extensions["database"].bind_to(connection)
    yield app
    limiter.reset()
    app.extensions["database"].engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[so.Session]:
    """A session on the test's connection: it sees what requests commit and they see what it flushes."""
    s = app.extensions["database"].sessionmaker()
    yield s
    s.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


_numbers = count(1)


@pytest.fixture
def make_agency(session: so.Session):
    def make(name: str | None = None) -> Agency:
        n = next(_numbers)
        agency = Agency(name=name or f"Agentur {n}", broker_number=f"T{n:06d}")
        session.add(agency)
        session.flush()
        return agency

    return make


@pytest.fixture
def make_user(session: so.Session):
    def make(
        role: Role,
        agency: Agency | None = None,
        *,
        email: str | None = None,
        password: str = PASSWORD,
        active: bool = True,
    ) -> User:
        n = next(_numbers)
        user = User(
            email=email or f"{role.value}{n}@example.org",
            full_name=f"{role.label} {n}",
            role=role,
            agency=agency,
            password_hash=cached_hash(password),
            is_active=active,
        )
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def agency(make_agency) -> Agency:
    return make_agency("Agentur Nord")


@pytest.fixture
def broker(make_user, agency) -> User:
    return make_user(Role.BROKER, agency)


@pytest.fixture
def manager(make_user, agency) -> User:
    return make_user(Role.MANAGER, agency)


@pytest.fixture
def backoffice(make_user) -> User:
    return make_user(Role.BACKOFFICE)


def _logged_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    response = login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def broker_client(app, broker) -> FlaskClient:
    return _logged_in(app, broker)


@pytest.fixture
def manager_client(app, manager) -> FlaskClient:
    return _logged_in(app, manager)


@pytest.fixture
def backoffice_client(app, backoffice) -> FlaskClient:
    return _logged_in(app, backoffice)


@pytest.fixture
def cli_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own with committed data, for CLI commands."""
    url = database_url_for("cli", tmp_path)
    reset_database(url)
    app = create_app(environ=environ_for(url))
    migrate.upgrade(app.extensions["database"].engine)
    yield app
    app.extensions["database"].engine.dispose()


# --- browser tests: a real server on 127.0.0.1 with the demo data --------------------------------


def _static_files_read_at_once(app: Flask) -> None:
    """The live test server (werkzeug's development server) leaves a static file open when the browser
    resets the connection while werkzeug drains the request (its `close()` is never reached) — a
    ResourceWarning that fails the test. Here static files are read and closed before the response
    goes out (production serves them through gunicorn or the proxy)."""

    @app.after_request
    def read_at_once(response):
        if request.endpoint == "static" and response.direct_passthrough:
            body = b"".join(response.response) if response.status_code != 304 else b""
            response.response.close()
            response.direct_passthrough = False
            if response.status_code == 304:
                response.response = []
            else:
                response.set_data(body)
        return response


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from werkzeug.serving import make_server

    live_dir = tmp_path_factory.mktemp("live")
    url = database_url_for("live", live_dir)
    reset_database(url)
    app = create_app(environ={**environ_for(url), "DOCUMENT_STORAGE_DIR": str(live_dir / "documents")})
    migrate.upgrade(app.extensions["database"].engine)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    _static_files_read_at_once(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["database"].engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    return live_server


@pytest.fixture
def demo_reference(session: so.Session) -> None:
    """The demo vehicles, Typklassen, places and Regionalklassen (as `flask demo seed` writes them)."""
    from demo.seed import _seed_reference_data

    _seed_reference_data(session)
    session.commit()


# --- messaging: real SMTP server and twilio stand-in ------------------------------------------------

TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM = "AC" + "1" * 32, "test-token", "+4915700000000"


@pytest.fixture
def smtp_server():
    from tests.fakes import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def twilio_server():
    from tests.fakes import TwilioStandIn

    server = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN)
    server.start()
    yield server
    server.stop()


def messaging_environ(url: str, smtp, twilio) -> dict[str, str]:
    return {
        **environ_for(url),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_USE_TLS": "false",
        "MAIL_DEFAULT_SENDER": "Vermittler-Rechner <no-reply@rechner.test>",
        # generous: the SMTP server runs in a thread of the busy test process (a test of the timeout
        # sets its own)
        "MAIL_TIMEOUT_SECONDS": "10",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TWILIO_TIMEOUT_SECONDS": "10",
        "OUTBOX_BACKOFF_SECONDS": "1",
    }


@pytest.fixture
def outbox_app(database_url, connection, smtp_server, twilio_server) -> Iterator[Flask]:
    """An app whose mail goes to the local SMTP server and SMS to the twilio stand-in; its database
    work (the worker's included) runs inside the test's rolled-back transaction."""
    from jinja2 import ChoiceLoader, DictLoader

    app = create_app(environ=messaging_environ(database_url, smtp_server, twilio_server))
    app.extensions["database"].bind_to(connection)
    app.jinja_loader = ChoiceLoader([DictLoader(TEST_TEMPLATES), app.jinja_loader])
    yield app
    app.extensions["database"].engine.dispose()


TEST_TEMPLATES = {
    "sms/raw.txt": "{{ text }}",
    "emails/hello.txt": "Hallo {{ name }},\nIhr Link: {{ app_url('staff.login') }}\n",
    "emails/hello.html": "<p>Hallo {{ name }},</p><p><a href=\"{{ app_url('staff.login') }}\">Link</a></p>",
    "letters/hello.html": "<p>Sehr geehrte/r {{ name }},</p><p>{{ text }}</p>",
}


@pytest.fixture(autouse=True)
def _document_storage(tmp_path, monkeypatch):
    """Documents of a test go to its own directory (never into instance/)."""
    monkeypatch.setenv("DOCUMENT_STORAGE_DIR", str(tmp_path / "documents"))


@pytest.fixture
def portal_server(tmp_path, smtp_server, twilio_server):
    """A live server on its own committed database with the demo data, mail to the local SMTP server
    and SMS to the twilio stand-in (for Chromium journeys that read both)."""
    from werkzeug.serving import make_server

    url = database_url_for("portal", tmp_path)
    reset_database(url)
    app = create_app(
        environ={
            **messaging_environ(url, smtp_server, twilio_server),
            "DOCUMENT_STORAGE_DIR": str(tmp_path / "documents"),
        }
    )
    migrate.upgrade(app.extensions["database"].engine)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    _static_files_read_at_once(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["database"].engine.dispose()


# --- Redis: a real redis-server on a free port (rate limits shared by app processes) ------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    import shutil
    import subprocess

    from tests.fakes import free_port, wait_for_port
    from tests.helpers import missing

    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


# --- S3: moto's server mode as the stand-in of an S3-compatible object store -------------------------

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-central-1",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One S3 stand-in for the session, on a free port, spoken to over HTTP like the real service."""
    from moto.server import ThreadedMotoServer

    from tests.fakes import free_port, wait_for_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> dict[str, str]:
    """A new bucket for the test and the settings that point an app at it."""
    import boto3

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"docs-{next(_numbers)}-{os.getpid()}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-central-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    return {
        "DOCUMENT_STORAGE_URL": f"s3://{bucket}/documents",
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": "eu-central-1",
    }

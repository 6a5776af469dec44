"""A limit kept by Flask-Limiter holds across app processes when they share Redis
(RATELIMIT_STORAGE_URI=redis://…): two real server processes, one Redis server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from core import migrate
from core.app import create_app
from tests.conftest import TEST_SECRET
from tests.fakes import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import sys
from werkzeug.serving import run_simple
from core.app import create_app
app = create_app()
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""


def _servers(tmp_path: Path, storage: str, n: int = 2) -> tuple[list[subprocess.Popen], list[str]]:
    db = tmp_path / "shared.sqlite3"
    environ = {
        **os.environ,
        "APP_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "APP_BASE_URL": "http://portal.test",
        "DATABASE_URL": f"sqlite:///{db}",
        "RATELIMIT_STORAGE_URI": storage,
        "PASSWORD_FORGOT_LIMIT_PER_ADDRESS": "3 per 15 minutes",
        "API_RATE_LIMIT": "3 per minute",
    }
    app = create_app(environ=environ)
    migrate.upgrade(app.extensions["database"].engine)
    _api_client(app, tmp_path)
    app.extensions["database"].engine.dispose()
    processes, urls = [], []
    for _ in range(n):
        port = free_port()
        processes.append(subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=environ))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_for_port(int(url.rsplit(":", 1)[1]))
    return processes, urls


def _api_client(app, tmp_path: Path) -> None:
    """A broker API client (issue #30) in the shared database; its id and secret in a file."""
    from api.clients import create_client
    from core import db
    from core.users import Agency, Role, User

    with app.app_context():
        s = db.session()
        agency = Agency(name="Agentur", broker_number="S000001")
        manager = User(email="al@example.org", full_name="AL", role=Role.MANAGER, agency=agency, password_hash="x")
        s.add_all([agency, manager])
        s.flush()
        row, secret = create_client(s, manager, "MVP", ["quotes"])
        s.commit()
        (tmp_path / "client").write_text(f"{row.client_id} {secret}")


def _pings(tmp_path: Path, urls: list[str], n: int) -> list[int]:
    client_id, secret = (tmp_path / "client").read_text().split()
    token = requests.post(
        f"{urls[0]}/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    return [requests.get(f"{urls[i % 2]}/api/v1/ping", headers=headers, timeout=10).status_code for i in range(n)]


def _forgot(base: str) -> int:
    with requests.Session() as http:
        page = http.get(f"{base}/portal/passwort-vergessen", timeout=10).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        answer = http.post(
            f"{base}/portal/passwort-vergessen",
            data={"csrf_token": token, "kennung": "jemand@example.org"},
            allow_redirects=False,
            timeout=10,
        )
        return answer.status_code


@pytest.mark.parametrize(("shared", "allowed"), [(True, 3), (False, 6)])
def test_two_app_processes_share_a_limit_only_through_redis(tmp_path, redis_url, shared, allowed):
    processes, urls = _servers(tmp_path, redis_url if shared else "memory://")
    try:
        statuses = [_forgot(urls[n % 2]) for n in range(8)]  # alternating between the processes
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    assert statuses.count(302) == allowed  # 3 per address in all, or 3 per process without Redis
    assert statuses.count(429) == 8 - allowed


@pytest.mark.parametrize(("shared", "allowed"), [(True, 3), (False, 6)])
def test_the_api_limit_per_client_holds_across_processes_through_redis(tmp_path, redis_url, shared, allowed):
    """API_RATE_LIMIT counts a client's calls in the limiter's storage: with Redis once for all
    processes; in memory each process would count on its own."""
    processes, urls = _servers(tmp_path, redis_url if shared else "memory://")
    try:
        statuses = _pings(tmp_path, urls, 8)
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    assert statuses.count(200) == allowed
    assert statuses.count(429) == 8 - allowed

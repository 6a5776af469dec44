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
    }
    app = create_app(environ=environ)
    migrate.upgrade(app.extensions["database"].engine)
    app.extensions["database"].engine.dispose()
    processes, urls = [], []
    for _ in range(n):
        port = free_port()
        processes.append(subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=environ))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_for_port(int(url.rsplit(":", 1)[1]))
    return processes, urls


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

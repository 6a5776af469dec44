"""The production topology, started for real and spread as over machines: two web "machines" (a
gunicorn with two processes each) and two worker processes, each with a local document directory of
its own (no shared disk) and the documents in an S3-compatible bucket (moto's server); the suite's
database (PostgreSQL in CI), Redis for Flask-Limiter, APP_ENV=production behind a (simulated) TLS
proxy. One policing goes through to the link e-mail at the SMTP server and the SMS code at the twilio
stand-in; a Versicherungsschein rendered by a worker is served by either web machine; limits hold
across the web processes; /readyz and /metrics see the workers and every process's requests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core import migrate
from core.app import create_app
from tests.conftest import TEST_SECRET, database_url_for, messaging_environ, reset_database
from tests.fakes import free_port, wait_for_port
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
METRICS_TOKEN = "metrics-" + "t" * 32


class Browser:
    """requests with the cookie handling of a browser behind TLS: the app is in production mode
    (Secure cookies, strict CSRF referer check) and we talk plain HTTP to it as its proxy would."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, "Referer": f"https://{self.base.split('//')[1]}{path}", **kwargs.pop("headers", {})}
        response = self.http.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        for cookie in self.http.cookies:
            cookie.secure = False  # our side of the proxy speaks HTTP
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self._send("GET", path, **kwargs)

    def form(self, path: str, data: dict, page: str | None = None) -> requests.Response:
        html = self.get(page or path).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
        return self._send("POST", path, data={"csrf_token": token, **data})


def _log(logs: list, path: Path):
    """The processes' stderr goes to files in the test's directory (read them when it fails)."""
    log = open(path, "a")  # noqa: SIM115 - closed by the fixture after the processes ended
    logs.append(log)
    return log


@pytest.fixture
def topology(tmp_path, smtp_server, twilio_server, redis_url, s3_bucket) -> Iterator[tuple[str, str, dict]]:
    if shutil.which(str(BIN / "gunicorn")) is None:
        pytest.fail("gunicorn is missing from the venv (requirements.txt pins it)")
    url = database_url_for("topology", tmp_path)
    reset_database(url)
    environ = {
        **os.environ,
        **messaging_environ(url, smtp_server, twilio_server),
        "APP_ENV": "production",
        # production refuses the suite's cheap password hash: OWASP's minimum, the cheapest it takes
        "PASSWORD_HASH_TIME_COST": "2",
        "PASSWORD_HASH_MEMORY_KIB": "19456",
        "PASSWORD_HASH_PARALLELISM": "1",
        "SECRET_KEY": TEST_SECRET,
        "SECRETS_KEYS": "Zm9yLXRoZS10b3BvbG9neS10ZXN0LW9ubHktMzJieXQ=",
        "APP_BASE_URL": "https://portal.test",
        **s3_bucket,  # the documents of every machine (AWS_* credentials: os.environ, set by the fixture)
        "RATELIMIT_STORAGE_URI": redis_url[:-1] + "1",  # a Redis database of its own
        "PASSWORD_FORGOT_LIMIT_PER_ADDRESS": "3 per 15 minutes",
        "TRUSTED_PROXIES": "1",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "OUTBOX_POLL_SECONDS": "1",
        "FLASK_APP": "wsgi",
    }
    (tmp_path / "metrics").mkdir()
    seeding = create_app(environ={**messaging_environ(url, smtp_server, twilio_server)})
    migrate.upgrade(seeding.extensions["database"].engine)
    assert seeding.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0  # refused in production
    seeding.extensions["database"].engine.dispose()

    def machine(name: str) -> dict:
        """A machine's own environment: a local document directory nobody else sees."""
        return {**environ, "DOCUMENT_STORAGE_DIR": str(tmp_path / name / "documents")}

    ports = [free_port(), free_port()]
    logs: list = []
    processes = [
        subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=machine(f"web-{n}"),
            stdout=subprocess.DEVNULL,
            stderr=_log(logs, tmp_path / f"gunicorn-{n}.log"),
        )
        for n, port in enumerate(ports)
    ]
    for n in range(2):
        processes.append(
            subprocess.Popen(
                [str(BIN / "flask"), "worker", "run"],
                cwd=ROOT,
                env=machine(f"worker-{n}"),
                stdout=subprocess.DEVNULL,
                stderr=_log(logs, tmp_path / "worker.log"),
            )
        )
    try:
        for port in ports:
            wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", environ
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_policing_to_link_and_code_with_gunicorn_workers_and_redis(topology, smtp_server, twilio_server):
    base, _, _ = topology
    broker = Browser(base)
    assert (
        broker.form("/anmelden", {"email": "vermittler@demo.example", "password": "Demo-Passwort-1!"}).status_code
        == 302
    )
    offer = broker.form("/rechner/kfz/berechnen", KFZ_ANSWERS, page="/rechner/kfz/").headers["Location"].rsplit("/")[-1]
    start = time.strftime("%d.%m.%Y", time.localtime(time.time() + 14 * 86400))
    antrag = f"/angebote/{offer}/antrag"
    applied = broker.form(
        antrag,
        {
            "vertragsbeginn": start,
            "kontoinhaber": "Jürgen Müller",
            "iban": "DE89370400440532013000",
            "sepa_mandat": "y",
            **ANTRAG_DECLARATIONS,
            "zustellung": "portal",
            "kunde_email": "topologie@example.org",
            "kunde_mobil": "0151 12345678",
        },
    )
    assert applied.status_code == 302, applied.text[:500]

    # a worker process delivers the link e-mail through SMTP
    def link_mail():
        return next(
            (
                m
                for m in smtp_server.inbox.messages
                if m["To"] == "topologie@example.org" and m["Subject"] == "Ihr Zugang zum Kunden-Portal"
            ),
            None,
        )

    _until(lambda: link_mail() is not None)
    mail = link_mail()
    link = re.search(r"https://portal\.test(/zugang/[\w-]+)", mail.get_body(("plain",)).get_content()).group(1)
    customer = Browser(base)
    assert customer.get(link).status_code == 200
    sent = customer.form(f"{link}/code", {}, page=link)
    assert sent.status_code in (200, 302)
    _until(lambda: len(twilio_server.messages) >= 1)  # and the SMS through the twilio client
    assert re.search(r"Zugangs-Code für das Kunden-Portal: \d{6}\.", twilio_server.messages[-1]["Body"])

    # limits hold across both web processes: the login throttle (database) and Flask-Limiter (Redis)
    attacker = Browser(base)
    statuses = [
        attacker.form("/anmelden", {"email": "vermittler@demo.example", "password": f"Falsch-{n}!"}).status_code
        for n in range(7)
    ]
    assert statuses == [200] * 5 + [429, 429]
    forgot = [attacker.form("/portal/passwort-vergessen", {"kennung": "x@example.org"}).status_code for _ in range(5)]
    assert forgot == [302, 302, 302, 429, 429]

    ready = broker.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = broker.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    served = sum(
        float(v)
        for v in re.findall(r'vr_http_request_duration_seconds_count\{endpoint="staff.login"[^}]*\} (\S+)', metrics)
    )
    assert served >= 8  # every login request, whichever of the two processes answered it
    assert 'vr_outbox_messages{kind="email",state="sent"}' in metrics


def test_a_document_rendered_by_a_worker_is_served_by_either_web_machine(topology, tmp_path):
    """Issue #28 item 9: the agency manager switches an existing contract to the portal on one web
    machine; a worker renders its Versicherungsschein; the broker downloads it from the other."""
    first, second, _ = topology
    manager = Browser(first)
    login = {"email": "agenturleiter@demo.example", "password": "Demo-Passwort-1!"}
    assert manager.form("/anmelden", login).status_code == 302
    stock = manager.get("/bestand/?q=BV-4711001").text
    public_id = re.search(r'href="/vertraege/([\w-]+)/zustellweg"', stock).group(1)
    switched = manager.form(
        f"/vertraege/{public_id}/zustellweg",
        {"aktion": "portal", "email": "bestand.topologie@example.org", "mobile": "0151 22233344"},
    )
    assert switched.status_code == 302, switched.text[:500]

    broker = Browser(second)
    login = {"email": "vermittler@demo.example", "password": "Demo-Passwort-1!"}
    assert broker.form("/anmelden", login).status_code == 302

    def policy_link():
        page = broker.get(f"/vertraege/{public_id}").text
        found = re.search(r'href="(/dokumente/[\w-]+)"[^>]*>[^<]*Versicherungsschein', page)
        return found.group(1) if found else None

    _until(policy_link)
    for base in (first, second):  # either machine serves it from the bucket
        viewer = Browser(base)
        assert viewer.form("/anmelden", login).status_code == 302
        response = viewer.get(policy_link())
        assert response.status_code == 200
        assert response.content.startswith(b"%PDF")
        assert response.headers["Cache-Control"] == "private, no-store"
    for name in ("web-0", "web-1", "worker-0", "worker-1"):  # nothing on any machine's own disk
        assert not (tmp_path / name / "documents").exists() or not any((tmp_path / name / "documents").rglob("*-*"))

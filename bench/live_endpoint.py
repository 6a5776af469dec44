"""Requests/s of the live-premium endpoint under gunicorn + wrk, as ratios to two baselines of the
same server in the same run: a trivial logged-in htmx request (goal: live ≥ 0.6 × it) and the
trivial /healthz (goal: logged-in trivial ≥ 0.5 × it).

A logged-in broker posts a complete Kfz quote (VW Golf, Berlin) the way htmx does (HX-Request,
X-CSRFToken). Three alternating rounds of `wrk -t2 -c16 -d5s`; medians are compared.
Run: .venv/bin/python -m bench.live_endpoint [DATABASE_URL]   (default a new SQLite file; production
runs PostgreSQL — pass its URL; needs Debian's wrk, which make test installs)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import ROOT, csrf_token
from tests.conftest import reset_database
from tests.helpers import KFZ_ANSWERS

ANSWERS = {**KFZ_ANSWERS, "_changed": "sf_kh"}  # a complete Kfz quote (VW Golf, Berlin)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, script: Path | None = None) -> float:
    cmd = ["wrk", "-t2", "-c16", "-d5s", url] + (["-s", str(script)] if script else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw failed responses:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate is not None, out
    return float(rate.group(1))


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="vr-bench-live-"))
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{workdir}/live.sqlite3"
    reset_database(url)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + "k" * 40,
        "SECRETS_KEYS": "YmVuY2gta2V5LW9mLXRoZS1saXZlLWVuZHBvaW50LTM=",  # a Fernet key (32 bytes), bench only
        "APP_BASE_URL": "http://127.0.0.1",
        "DATABASE_URL": url,
        "FLASK_APP": "wsgi",
        "LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
    }
    flask = str(ROOT / ".venv/bin/flask")
    subprocess.run([flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    # the demo seed refuses production; seed the same data in testing mode
    subprocess.run(
        [flask, "demo", "seed"], env={**env, "APP_ENV": "testing"}, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # production marks the session cookie Secure; over plain http carry it by hand
        cookies: dict[str, str] = {}

        def call(path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> str:
            request = urllib.request.Request(
                base + path,
                data=urllib.parse.urlencode(data).encode() if data is not None else None,
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), **(headers or {})},
            )
            try:
                response = urllib.request.build_opener(NoRedirect).open(request)
            except urllib.error.HTTPError as redirect:  # 302 after login
                response = redirect
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                cookies[name] = rest.split(";", 1)[0]
            return response.read().decode()

        def token(path: str) -> str:
            return csrf_token(call(path))

        call(
            "/anmelden",
            {"csrf_token": token("/anmelden"), "email": "vermittler@demo.example", "password": "Demo-Passwort-1!"},
        )
        csrf = token("/rechner/kfz/")
        body = urllib.parse.urlencode(ANSWERS)
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        check = urllib.request.Request(
            f"{base}/rechner/kfz/live",
            data=body.encode(),
            headers={
                "Cookie": cookie,
                "X-CSRFToken": csrf,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        html = urllib.request.urlopen(check).read().decode()
        assert "Gesamtbeitrag" in html, html[:500]
        script = workdir / "live.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {body!r}\n'.replace("'", '"')
            + 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            + f'wrk.headers["Cookie"] = "{cookie}"\n'
            + f'wrk.headers["X-CSRFToken"] = "{csrf}"\n'
            + 'wrk.headers["HX-Request"] = "true"\n'
        )
        # second baseline: an authenticated htmx request that does nothing (the empty vehicle search):
        # session cookie, user load and headers as the live request, no quote work
        auth_script = workdir / "auth.lua"
        auth_script.write_text(f'wrk.headers["Cookie"] = "{cookie}"\nwrk.headers["HX-Request"] = "true"\n')
        trivial, authed, live = [], [], []
        for _ in range(3):
            trivial.append(wrk(f"{base}/healthz"))
            authed.append(wrk(f"{base}/fahrzeuge/suche?q=", auth_script))
            live.append(wrk(f"{base}/rechner/kfz/live", script))
        t, a, lv = statistics.median(trivial), statistics.median(authed), statistics.median(live)
        print(f"/healthz (trivial): {[round(x) for x in trivial]} req/s, median {t:.0f}")
        print(f"/fahrzeuge/suche?q= (trivial, logged in): {[round(x) for x in authed]} req/s, median {a:.0f}")
        print(f"/rechner/kfz/live (complete Golf quote): {[round(x) for x in live]} req/s, median {lv:.0f}")
        backend = url.split(":", 1)[0]
        print(
            f"[{backend}] live / logged-in trivial: {lv / a:.2f} (goal ≥ 0.6); logged-in trivial / healthz: "
            f"{a / t:.2f} (goal ≥ 0.5); live / healthz: {lv / t:.2f}"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

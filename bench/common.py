"""Shared set-up for the benchmarks: a throwaway database with the schema (and optionally data)."""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        sys.exit(f"{path} is missing: the benchmarks need ../shared beside the checkout")
    return path


def throwaway_app(database_url: str | None = None):
    """An app on a new SQLite file (or the given database, emptied first), migrated."""
    from core import migrate
    from core.app import create_app
    from tests.conftest import reset_database

    url = database_url or f"sqlite:///{tempfile.mkdtemp(prefix='vr-bench-')}/bench.sqlite3"
    reset_database(url)  # a run starts from nothing: figures do not depend on the run before
    app = create_app(environ={"APP_ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "b" * 40})
    migrate.upgrade(app.extensions["database"].engine)
    return app


def describe(samples_s: list[float]) -> dict[str, float]:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples_s)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def csrf_token(page: str) -> str:
    """The CSRF token of a rendered form."""
    import re

    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def demo_user(session: Any, email: str) -> Any:
    """A user of the demo seed (the benchmarks run on it); it must exist."""
    import sqlalchemy as sa

    from core.users import User

    user = session.scalar(sa.select(User).where(User.email == email))
    assert user is not None, f"the demo seed has no {email}"
    return user


def logged_in_client(app, email: str):
    """A Flask test client logged in as this demo user (the login form with its CSRF token)."""
    from demo.seed import DEMO_PASSWORD as password

    client = app.test_client()
    page = client.get("/anmelden").get_data(as_text=True)
    token = csrf_token(page)
    answer = client.post("/anmelden", data={"csrf_token": token, "email": email, "password": password})
    assert answer.status_code == 302, answer.status_code
    return client


def median_ms(client, url: str, runs: int) -> float:
    """The median of `runs` GET requests in milliseconds (each must answer 200)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times) * 1000


def _job_worker(url: str, kind: str, extra: dict[str, str], travel_to: str | None, ready: Any, stop: Any) -> None:
    """A worker process running only jobs of `kind`, polled as `flask worker run` polls; on the
    given clock if travel_to is set (the benchmark's own clock, e.g. a month before a due date)."""
    import contextlib

    import time_machine

    from core import jobs
    from core.app import create_app

    clock = time_machine.travel(travel_to, tick=True) if travel_to else contextlib.nullcontext()
    with clock:
        app = create_app(environ={"APP_ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "b" * 40, **extra})
        run = jobs.runner(app, [kind])
        ready.set()
        while not stop.is_set():
            with app.app_context(), app.extensions["database"].sessionmaker() as session:
                if not run(session):
                    stop.wait(0.05)


@contextlib.contextmanager
def job_workers(
    url: str, kind: str, count: int, extra: dict[str, str] | None = None, travel_to: str | None = None
) -> Iterator[list[Any]]:
    """`count` worker processes (spawned: each its own interpreter, as on its own machine), started
    and idle when the block begins, stopped when it ends; yields the processes (for their pids)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    readies = [context.Event() for _ in range(count)]
    processes = [
        context.Process(target=_job_worker, args=(url, kind, extra or {}, travel_to, ready, stop)) for ready in readies
    ]
    for process in processes:
        process.start()
    for ready in readies:
        ready.wait(120)
    try:
        yield processes
    finally:
        stop.set()
        for process in processes:
            process.join(60)

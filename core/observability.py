"""Operations: a request id on every request and log line, JSON logs, Prometheus metrics
(multi-process under gunicorn), readiness (/readyz) with the worker's heartbeat.

- Request id: the incoming `X-Request-ID` when it is a plain token, else a new one; echoed in the
  response and in every log line of the request. The access log names the route's rule
  (`/zugang/<token>`), never the path itself: access tokens in URLs do not reach the logs.
- Metrics: `/metrics` answers only with `Authorization: Bearer <METRICS_TOKEN>` (404 without a
  token configured). Request latency per endpoint from every gunicorn process
  (PROMETHEUS_MULTIPROC_DIR, prometheus_client's multiprocess mode); outbox depth per state, age of
  the oldest due message, jobs per state and the worker's last heartbeat are read from the database
  at scrape time, so any process answers for all.
- Readiness: database reachable, schema at the newest migration, a worker heartbeat younger than
  READY_WORKER_MAX_AGE_SECONDS.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, abort, current_app, g, has_request_context, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from pythonjsonlogger.json import JsonFormatter

from core import clock, migrate
from core.db import Base
from core.db import session as db_session

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LATENCY = Histogram(
    "vr_http_request_duration_seconds",
    "Time to answer a request, per endpoint",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
access_log = logging.getLogger("vr.access")


class WorkerHeartbeat(Base):
    """Written by every worker process on every loop: /readyz and /metrics tell whether one runs."""

    __tablename__ = "worker_heartbeats"

    worker_id: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    seen_at: so.Mapped[datetime]
    # what the worker survived last: a database error it backed off from, and when (issue #25 item 9)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    last_error_at: so.Mapped[datetime | None]


def beat(session: so.Session, worker_id: str, error: tuple[datetime, str] | None = None) -> None:
    """Record that this worker is alive (one row per worker, updated in place), and the database
    error it recovered from since the last beat."""
    now = clock.now()
    values: dict[str, Any] = {"seen_at": now}
    if error is not None:
        values.update(last_error_at=error[0], last_error=error[1][:300])
    updated = session.execute(sa.update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id).values(**values))
    if not getattr(updated, "rowcount", 0):
        session.add(WorkerHeartbeat(worker_id=worker_id, **values))
    session.commit()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(log_format: str) -> None:
    """One handler on the root logger: JSON lines (production) or readable text."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_vr", False)]:
        root.removeHandler(old)
    handler._vr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _start() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    started = g.get("request_started")
    if started is not None and request.endpoint != "static":
        elapsed = time.perf_counter() - started
        endpoint = request.endpoint or "unknown"
        LATENCY.labels(endpoint, request.method, str(response.status_code)).observe(elapsed)
        access_log.info(
            "%s %s %s %.1f ms",
            request.method,
            request.url_rule.rule if request.url_rule else "(no route)",
            response.status_code,
            elapsed * 1000,
            extra={"endpoint": endpoint, "status": response.status_code, "duration_ms": round(elapsed * 1000, 1)},
        )
    return response


MetricSource = Callable[[so.Session], Iterator[GaugeMetricFamily]]


def register_metrics(app: Flask, source: MetricSource) -> None:
    """A package's figures read from the database at scrape time (e.g. the outbox's queue)."""
    app.extensions.setdefault("metric_sources", []).append(source)


def core_metrics(session: so.Session) -> Iterator[GaugeMetricFamily]:
    from core.jobs import Job

    jobs = GaugeMetricFamily("vr_jobs", "Background jobs per kind and state", labels=["kind", "state"])
    for kind, state, n in session.execute(
        sa.select(Job.kind, Job.state, sa.func.count()).group_by(Job.kind, Job.state)
    ):
        jobs.add_metric([kind, state.value], n)
    yield jobs
    last = session.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))
    heartbeat = GaugeMetricFamily("vr_worker_heartbeat_age_seconds", "Seconds since a worker was last seen")
    heartbeat.add_metric([], (clock.now() - last).total_seconds() if last else float("inf"))
    yield heartbeat


class DatabaseCollector:
    """The registered sources, read at scrape time (the same for whichever process answers)."""

    def __init__(self, session: so.Session, sources: list[MetricSource]) -> None:
        self.session, self.sources = session, sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for source in self.sources:
            yield from source(self.session)


def _metrics() -> Response:
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every gunicorn process's request metrics
    else:
        registry.register(LATENCY)
    registry.register(DatabaseCollector(db_session(), current_app.extensions.get("metric_sources", [])))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def readiness(session: so.Session, max_worker_age: int) -> dict[str, str]:
    """Each check "ok" or why not."""
    checks: dict[str, str] = {}
    try:
        session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as error:
        return {"database": f"unreachable: {type(error).__name__}", "migrations": "unknown", "worker": "unknown"}
    current = MigrationContext.configure(session.connection()).get_current_revision()
    head = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()
    checks["migrations"] = "ok" if current == head else f"at {current}, newest is {head}: flask db upgrade"
    if checks["migrations"] != "ok":
        checks["worker"] = "unknown"  # its table may not exist yet
        return checks
    last = session.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))
    age = (clock.now() - last).total_seconds() if last else None
    checks["worker"] = "ok" if age is not None and age <= max_worker_age else "no worker heartbeat"
    return checks


def last_worker_error(session: so.Session) -> str | None:
    """The database error a worker survived last ("<when UTC>: <error>"), for /readyz."""
    try:
        row = session.execute(
            sa.select(WorkerHeartbeat.last_error_at, WorkerHeartbeat.last_error)
            .where(WorkerHeartbeat.last_error_at.is_not(None))
            .order_by(WorkerHeartbeat.last_error_at.desc())
            .limit(1)
        ).first()
    except sa.exc.SQLAlchemyError:
        return None
    if row is None or row[0] is None:
        return None
    return f"{row[0].isoformat(timespec='seconds')}: {row[1]}"


def _readyz() -> tuple[Response, int]:
    session = db_session()
    checks = readiness(session, current_app.config["READY_WORKER_MAX_AGE_SECONDS"])
    ok = all(v == "ok" for v in checks.values())
    recovered = last_worker_error(session) if checks.get("migrations") == "ok" else None
    body = {"status": "ready" if ok else "not ready", "checks": checks}
    if recovered:
        body["worker_recovered_from"] = recovered  # informational: the worker went on
    return jsonify(body), 200 if ok else 503


def init_app(app: Flask) -> None:
    if app.config["LOG_FORMAT"]:
        configure_logging(app.config["LOG_FORMAT"])
    app.before_request(_start)
    app.after_request(_finish)
    app.add_url_rule("/readyz", "readyz", _readyz)
    app.add_url_rule("/metrics", "metrics", _metrics)
    register_metrics(app, core_metrics)

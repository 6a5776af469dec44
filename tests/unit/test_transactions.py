"""Who commits (issue #27 item 2): the edge — a view, a CLI command, a worker task — owns the
transaction; services never commit, so a view can put two of them into one transaction and a test
can call one without writing half a use case. This scan fails the build when a function outside the
edges calls `.commit()`. The list below names every other place that commits, and why it is an edge."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "staff", "calculator", "messaging", "contracts", "onboarding", "agency", "api", "demo")
# modules that are edges as a whole: routes (views.py, *_views.py, the portal's two route modules and
# the API's pages) and CLI commands
EDGE_MODULES = {"portal.py", "account.py", "cli.py", "pages.py"}


def is_edge_module(module: str) -> bool:
    name = Path(module).name
    return name in EDGE_MODULES or name == "views.py" or name.endswith("_views.py")


EDGES = {
    # a view's helper: the new server-side session and its cookie are written together
    ("core/sessions.py", "log_in"),
    # a request hook: the session's last activity (idle timeout), committed before the view runs
    ("core/app.py", "_keep_session_alive"),
    # the worker and the job queue: claim, step, outcome — each its own transaction
    ("core/leases.py", "claim"),
    ("core/jobs.py", "run_due"),
    ("core/observability.py", "beat"),
    ("messaging/worker.py", "deliver_batch"),
    ("messaging/outbox.py", "purge_letters"),
    ("contracts/renewal.py", "step"),
    ("contracts/renewal.py", "_finish"),
    # a new PostgreSQL connection's setting (before any session uses it; a SET is transactional)
    ("core/db.py", "_postgresql_custom_plans"),  # the renewal step's end: the run finished under its lock
    ("contracts/probelauf.py", "preview_step"),
    ("contracts/jobs.py", "step"),
    ("contracts/einstufung.py", "expire"),
    ("agency/snapshots.py", "close_months"),
    ("onboarding/invitations.py", "post_expired_invitations"),
    ("onboarding/login.py", "process_reset_requests"),
    # worker tasks of the self-registration: the claim and its answer commit together
    ("onboarding/registration.py", "process_registrations"),
    ("onboarding/registration.py", "end_expired"),
    # the bulk switch: one transaction per chunk of rows (within the request for a small job, by the
    # worker for a large one), a failed chunk redone row by row
    ("agency/bulk.py", "store_job"),
    ("agency/bulk.py", "_switch_one"),
    ("agency/bulk.py", "run_chunk"),
    ("agency/jobs.py", "start"),
    ("agency/jobs.py", "run_step"),
    ("agency/jobs.py", "_finish"),
    # throttled logins and codes: the attempt is made durable before the secret is compared, so a
    # request that then fails (or is killed) still counts it (SPEC's login limits)
    ("staff/services.py", "log_in"),
    ("onboarding/login.py", "log_in"),
    ("onboarding/two_factor.py", "_claim_attempt"),
    ("onboarding/two_factor.py", "check_login"),
    # the broker API: the worker's house-keeping; the webhook secret's look-up ends its read before
    # the worker talks to the receiver
    ("api/housekeeping.py", "purge"),
    ("api/webhooks.py", "secret_of"),
    # `flask demo history`: a year written event by event, each followed by the worker's pass
    ("demo/history.py", "seed_history"),
}


def _committing_functions() -> set[tuple[str, str]]:
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    calls = (n for n in ast.walk(node) if isinstance(n, ast.Call))
                    if any(isinstance(c.func, ast.Attribute) and c.func.attr == "commit" for c in calls):
                        found.add((path.relative_to(ROOT).as_posix(), node.name))
    return found


def test_only_the_edges_commit():
    committing = _committing_functions()
    services = {(module, name) for module, name in committing if not is_edge_module(module)}
    assert services - EDGES == set(), "a service commits: let its caller (view, CLI, worker task) commit"


def test_every_listed_edge_still_commits():
    """An edge that no longer commits leaves the list (no stale exceptions)."""
    assert EDGES - _committing_functions() == set()

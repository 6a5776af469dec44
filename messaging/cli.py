"""`flask outbox …`: run the delivery worker, look at the queue, send a test message."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from core import db
from messaging import outbox, worker
from messaging.models import OutboxMessage

outbox_cli = AppGroup("outbox", help="Outgoing e-mails, SMS and letters.")


worker_cli = AppGroup("worker", help="The worker process: message delivery and background jobs.")


@worker_cli.command("run")
@click.option("--once", is_flag=True, help="Do what is due now (messages, job steps), then exit.")
def worker_run_command(once: bool) -> None:
    """Deliver messages and run background jobs (keeps running; SIGTERM or Ctrl-C stops it after the
    current message or job step)."""
    _run(once)


@outbox_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def run_command(once: bool) -> None:
    """The same as `flask worker run` (kept for existing deployments)."""
    _run(once)


def _run(once: bool) -> None:
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    if not once:
        click.echo("Zustell-Worker läuft; SIGTERM beendet ihn nach der aktuellen Nachricht.", err=True)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    totals = worker.run(app, once=once, stop=stop)
    click.echo(f"versendet {totals['sent']}, später erneut {totals['retry']}, fehlgeschlagen {totals['failed']}")


@outbox_cli.command("status")
def status_command() -> None:
    """Count messages per kind and state."""
    rows = db.session().execute(
        sa.select(OutboxMessage.kind, OutboxMessage.state, sa.func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.state)
        .order_by(OutboxMessage.kind, OutboxMessage.state)
    )
    for kind, state, count in rows:
        click.echo(f"{kind.value}\t{state.value}\t{count}")


@outbox_cli.command("test-email")
@click.argument("address")
def test_email_command(address: str) -> None:
    """Queue a test e-mail (checks the SMTP settings end to end with the worker)."""
    from core import clock

    s = db.session()
    try:
        message = outbox.enqueue_email(
            s,
            key=f"test-email:{address}:{clock.now().isoformat()}",
            to=address,
            subject="Testnachricht Vermittler-Rechner",
            template="test",
            context={},
        )
    except outbox.MessageError as exc:
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"E-Mail an {message.recipient} eingereiht.")


@outbox_cli.command("test-sms")
@click.argument("number")
def test_sms_command(number: str) -> None:
    """Queue a test SMS (checks the twilio settings end to end with the worker)."""
    from core import clock

    s = db.session()
    try:
        message = outbox.enqueue_sms(
            s,
            key=f"test-sms:{number}:{clock.now().isoformat()}",
            to=number,
            template="test",
            context={},
            subject="Test-SMS",
        )
    except outbox.MessageError as exc:
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"SMS an {message.recipient} eingereiht.")

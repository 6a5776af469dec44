"""Deliver 10,000 messages (half e-mail, half SMS) to the local SMTP server and twilio stand-in with
1 and with 2 worker processes (`flask outbox run --once`): messages/s and duplicates.
Goal: ≥ 300/s per worker, close to linear with 2, zero duplicates.

Rate = messages / (last sent_at − first sent_at), so process start-up is not counted. Baselines in
the same run: the raw SMTP client and the raw twilio client sending the same messages directly.
Run: .venv/bin/python -m bench.outbox POSTGRESQL_URL   (scripts/bench.sh starts a throwaway one)
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage

import sqlalchemy as sa

from bench.common import ROOT
from core import migrate
from core.app import create_app
from messaging import outbox
from messaging.models import OutboxMessage, State
from tests.conftest import TEST_TEMPLATES, TWILIO_FROM, messaging_environ, reset_database
from tests.fakes import SmtpServer, TwilioStandIn

TOTAL = 10_000


def enqueue(app, total: int) -> float:
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_loader = ChoiceLoader([DictLoader(TEST_TEMPLATES), app.jinja_loader])
    started = time.perf_counter()
    with app.app_context():
        s = app.extensions["database"].sessionmaker()
        for n in range(total // 2):
            outbox.enqueue_email(
                s,
                key=f"mail:{n}",
                to=f"kunde{n}@example.org",
                subject=f"Nachricht {n}",
                template="hello",
                context={"name": str(n)},
            )
            outbox.enqueue_sms(s, key=f"sms:{n}", to=f"+49151{n:08d}", template="raw", context={"text": f"SMS {n}"})
            if n % 500 == 499:
                s.commit()
        s.commit()
        s.close()
    return time.perf_counter() - started


def deliver(app, env: dict[str, str], workers: int) -> tuple[float, int, float, float]:
    """Returns span, sent, CPU seconds of this process (the SMTP server and twilio stand-in) and of
    the worker processes during the run."""
    import resource

    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/flask"), "outbox", "run", "--once"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            sys.exit(err)
    servers_cpu = (time.process_time() - cpu_before) / (time.perf_counter() - wall_before)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime) / (
        time.perf_counter() - wall_before
    )
    with app.extensions["database"].sessionmaker() as s:
        first, last, sent = s.execute(
            sa.select(sa.func.min(OutboxMessage.sent_at), sa.func.max(OutboxMessage.sent_at), sa.func.count()).where(
                OutboxMessage.state == State.SENT
            )
        ).one()
    return (last - first).total_seconds(), sent, servers_cpu, workers_cpu


def raw_baselines(smtp: SmtpServer, twilio: TwilioStandIn, n: int = 1000) -> tuple[float, float]:
    from twilio.rest import Client

    connection = smtplib.SMTP("127.0.0.1", smtp.port)
    started = time.perf_counter()
    for i in range(n):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@example.org", f"b{i}@example.org", "x"
        mail.set_content("Hallo")
        connection.send_message(mail)
    smtp_rate = n / (time.perf_counter() - started)
    connection.quit()
    client = Client(twilio.account_sid, twilio.auth_token)
    client.api.base_url = twilio.base_url
    started = time.perf_counter()
    for i in range(n):
        client.messages.create(to=f"+49151{i:08d}", from_=TWILIO_FROM, body="x")
    return smtp_rate, n / (time.perf_counter() - started)


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].startswith("postgresql"):
        sys.exit("usage: python -m bench.outbox POSTGRESQL_URL")
    url = sys.argv[1]
    smtp, twilio = SmtpServer(), TwilioStandIn("AC" + "1" * 32, "test-token")
    smtp.start()
    twilio.start()
    env = {**os.environ, **messaging_environ(url, smtp, twilio), "FLASK_APP": "wsgi", "OUTBOX_BATCH_SIZE": "100"}
    try:
        smtp_rate, sms_rate = raw_baselines(smtp, twilio)
        print(f"baseline, raw clients in one process: SMTP {smtp_rate:.0f}/s, twilio {sms_rate:.0f}/s")
        results = {}
        for workers in (1, 2):
            reset_database(url)
            app = create_app(environ=messaging_environ(url, smtp, twilio))
            migrate.upgrade(app.extensions["database"].engine)
            smtp.inbox.messages.clear()
            twilio.messages.clear()
            enqueue_s = enqueue(app, TOTAL)
            span, sent, servers_cpu, workers_cpu = deliver(app, env, workers)
            mail_ids = [m["Message-ID"] for m in smtp.inbox.messages]
            bodies = [m["Body"] for m in twilio.messages]
            duplicates = (len(mail_ids) - len(set(mail_ids))) + (len(bodies) - len(set(bodies)))
            rate = sent / span
            results[workers] = rate
            print(
                f"{workers} worker(s): {sent} sent ({len(mail_ids)} e-mails, {len(bodies)} SMS received) in "
                f"{span:.1f} s = {rate:.0f} messages/s ({rate / workers:.0f}/s per worker), duplicates "
                f"{duplicates}; enqueueing took {enqueue_s:.1f} s; cores busy: workers {workers_cpu:.2f}, "
                f"SMTP server + twilio stand-in {servers_cpu:.2f} (of 2)"
            )
            app.extensions["database"].engine.dispose()
        print(f"speed-up with 2 workers: {results[2] / results[1]:.2f}×")
    finally:
        smtp.stop()
        twilio.stop()


if __name__ == "__main__":
    main()

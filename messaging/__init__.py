"""Outgoing messages: the outbox (e-mail, SMS, letters), the worker process (delivery and the
durable jobs of core.jobs), and the back office's Nachrichten and Postausgang pages. Business code
enqueues through messaging.outbox."""

from __future__ import annotations

from flask import Flask

from core import jobs, navigation, observability, storage
from core.authz import BACKOFFICE_AREA


def init_app(app: Flask) -> None:
    from messaging import cli, failures, outbox, views
    from messaging.worker import Settings, register_task

    app.extensions["messaging_settings"] = Settings.from_config(app.config)  # once, at start-up
    app.add_template_filter(failures.explain, "failure_explained")
    app.add_template_global(failures.address_refused, "address_refused")
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.worker_cli)
    register_task(app, jobs.runner(app))  # durable background jobs of every package (core.jobs)
    register_task(app, outbox.purge_letters)
    register_task(app, storage.sweeper(app))  # objects of failed transactions (core.storage)
    observability.register_metrics(app, outbox.queue_metrics)
    app.cli.add_command(cli.outbox_cli)
    navigation.register(app, "Nachrichten", "messaging.messages", BACKOFFICE_AREA, order=50)
    navigation.register(app, "Postausgang", "messaging.postausgang", BACKOFFICE_AREA, order=40)
    if app.config["OUTBOX_EMBEDDED_WORKER"]:
        _start_embedded_on_first_request(app)


def _start_embedded_on_first_request(app: Flask) -> None:
    """Only the serving process delivers (not every `flask …` command that builds the app)."""
    started = False

    @app.before_request
    def start() -> None:
        nonlocal started
        if not started:
            started = True
            from messaging.worker import start_embedded

            start_embedded(app)

"""Operations: request ids, /readyz with the worker's heartbeat, /metrics behind a token."""

import logging

from core import migrate
from messaging import worker


def test_every_response_carries_a_request_id_and_a_good_incoming_one_is_kept(client):
    fresh = client.get("/anmelden").headers["X-Request-ID"]
    assert len(fresh) == 32
    assert client.get("/anmelden", headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"] == "lb-1234abcd"
    assert client.get("/anmelden", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


def test_the_access_log_names_the_route_not_the_token_in_the_path(client, caplog):
    with caplog.at_level(logging.INFO, logger="vr.access"):
        client.get("/zugang/geheimes-token-1234567890")
    lines = [r.getMessage() for r in caplog.records if r.name == "vr.access"]
    assert any("GET /zugang/<token> 404" in line for line in lines), lines
    assert not any("geheimes-token" in line for line in lines)


def test_readyz_wants_database_schema_and_a_worker_heartbeat(app, client):
    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json["checks"] == {"database": "ok", "migrations": "ok", "worker": "no worker heartbeat"}
    worker.run(app, once=True)  # a worker loop beats
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "ready"


def test_readyz_names_a_missing_migration(tmp_path):
    from core.app import create_app
    from tests.conftest import TEST_SECRET

    app = create_app(
        environ={"APP_ENV": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": f"sqlite:///{tmp_path}/old.db"}
    )
    migrate.upgrade(app.extensions["database"].engine, "0009")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config(app.extensions["database"].engine)).get_current_head()
    assert head != "0009"
    assert response.json["checks"]["migrations"] == f"at 0009, newest is {head}: flask db upgrade"
    assert response.json["checks"]["database"] == "ok"
    app.extensions["database"].engine.dispose()


def test_metrics_only_with_the_token_and_with_queue_figures(app, client, session):
    assert client.get("/metrics").status_code == 404  # no token configured: no metrics at all
    app.config["METRICS_TOKEN"] = "m" * 32
    assert client.get("/metrics", headers={"Authorization": "Bearer falsch"}).status_code == 404
    client.get("/anmelden")
    with app.app_context():
        from messaging import outbox

        outbox.enqueue_email(session, key="m1", to="a@example.org", subject="A", template="test", context={})
    session.commit()
    body = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).get_data(as_text=True)
    assert 'vr_outbox_messages{kind="email",state="pending"} 1.0' in body
    assert "vr_outbox_oldest_due_seconds" in body
    assert 'vr_http_request_duration_seconds_count{endpoint="staff.login",method="GET",status="200"}' in body
    assert "vr_worker_heartbeat_age_seconds" in body

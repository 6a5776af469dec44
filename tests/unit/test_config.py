from datetime import timedelta

import pytest

from core.app import create_app
from core.config import ConfigError, load_config

KEYS = {"SECRETS_KEYS": "dGVzdC1rZXktb2YtdGhpcy1zdWl0ZS0zMi1ieXRlcyE="}  # a Fernet key (32 bytes)


def test_production_refuses_to_start_without_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config({"APP_BASE_URL": "https://portal.example"}, tmp_path)


def test_production_is_the_default_environment(tmp_path):
    # a deployment that forgets APP_ENV gets the strict settings, not dev shortcuts
    with pytest.raises(ConfigError):
        create_app(environ={})


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="too short"):
        load_config({"SECRET_KEY": "geheim", "APP_BASE_URL": "https://portal.example"}, tmp_path)


def test_production_requires_app_base_url_for_email_links(tmp_path):
    with pytest.raises(ConfigError, match="APP_BASE_URL"):
        load_config({"SECRET_KEY": "k" * 40}, tmp_path)


def test_production_cookies_are_secure_and_strict(tmp_path):
    config = load_config({**KEYS, "SECRET_KEY": "k" * 40, "APP_BASE_URL": "https://portal.example/"}, tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["APP_BASE_URL"] == "https://portal.example"
    assert config["DEBUG"] is False


def test_development_needs_no_settings_and_keeps_its_generated_secret(tmp_path):
    first = load_config({"APP_ENV": "development"}, tmp_path)
    second = load_config({"APP_ENV": "development"}, tmp_path)
    assert len(first["SECRET_KEY"]) == 64
    assert first["SECRET_KEY"] == second["SECRET_KEY"]  # sessions survive a restart
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o777 == 0o600
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'calculator.sqlite3'}"
    assert first["MAIL_BACKEND"] == "console"
    assert first["SMS_BACKEND"] == "console"
    assert first["SESSION_COOKIE_SECURE"] is False
    assert first["APP_BASE_URL"] == "http://127.0.0.1:5000"


def test_real_mail_and_sms_backends_when_configured(tmp_path):
    config = load_config(
        {
            "APP_ENV": "development",
            "MAIL_SERVER": "smtp.example",
            "MAIL_PORT": "2525",
            "MAIL_USE_TLS": "false",
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        },
        tmp_path,
    )
    assert config["MAIL_BACKEND"] == "smtp"
    assert config["SMS_BACKEND"] == "twilio"
    assert config["MAIL_PORT"] == 2525
    assert config["MAIL_USE_TLS"] is False
    assert config["TWILIO_API_BASE_URL"] == "http://127.0.0.1:9"


def test_security_numbers_are_overridable_defaults(tmp_path):
    config = load_config({"APP_ENV": "development", "SESSION_IDLE_MINUTES": "15"}, tmp_path)
    assert config["PASSWORD_MIN_LENGTH"] == 8
    assert config["PASSWORD_MAX_LENGTH"] == 128
    assert config["SESSION_IDLE_MINUTES"] == 15  # enforced on the server (core.sessions.Policy)
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)  # the cookie: SESSION_MAX_HOURS


@pytest.mark.parametrize(
    "env",
    [
        {"APP_ENV": "staging"},
        {"APP_ENV": "development", "MAIL_PORT": "abc"},
        {"APP_ENV": "development", "MAIL_USE_TLS": "vielleicht"},
        {"APP_ENV": "development", "PASSWORD_HASH_TIME_COST": "0"},
        {"APP_ENV": "development", "PASSWORD_HASH_PARALLELISM": "4", "PASSWORD_HASH_MEMORY_KIB": "16"},
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(tmp_path, env):
    with pytest.raises(ConfigError):
        load_config(env, tmp_path)


def test_production_refuses_a_password_hash_below_owasps_minimum(tmp_path):
    env = {**KEYS, "SECRET_KEY": "s" * 40, "APP_BASE_URL": "https://portal.example"}
    assert load_config(env, tmp_path)["PASSWORD_HASH_MEMORY_KIB"] == 65536  # the default
    assert load_config({**env, "PASSWORD_HASH_MEMORY_KIB": "19456", "PASSWORD_HASH_TIME_COST": "2"}, tmp_path)
    for cheap in ({"PASSWORD_HASH_MEMORY_KIB": "64"}, {"PASSWORD_HASH_TIME_COST": "1"}):
        with pytest.raises(ConfigError, match="too cheap for production"):
            load_config({**env, **cheap}, tmp_path)
    # the test suite's cost is allowed outside production
    assert load_config({"APP_ENV": "testing", **cheap}, tmp_path)


def test_development_links_follow_the_port(tmp_path):
    config = load_config({"APP_ENV": "development", "PORT": "5077"}, tmp_path)
    assert config["APP_BASE_URL"] == "http://127.0.0.1:5077"
    assert load_config({"APP_ENV": "development"}, tmp_path)["APP_BASE_URL"] == "http://127.0.0.1:5000"


def test_a_flask_command_without_settings_says_what_to_set_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "SECRET_KEY", "APP_BASE_URL", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "current"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_production_refuses_the_embedded_worker(tmp_path):
    """Issue #25 item 10: background work in production runs only in `flask worker run`."""
    base = {**KEYS, "SECRET_KEY": "k" * 40, "APP_BASE_URL": "https://portal.example"}
    with pytest.raises(ConfigError, match="OUTBOX_EMBEDDED_WORKER is for development only"):
        load_config({**base, "OUTBOX_EMBEDDED_WORKER": "true"}, tmp_path)
    assert load_config({**base, "OUTBOX_EMBEDDED_WORKER": "false"}, tmp_path)["OUTBOX_EMBEDDED_WORKER"] is False
    assert load_config({"APP_ENV": "development"}, tmp_path)["OUTBOX_EMBEDDED_WORKER"] is True


def test_production_refuses_to_start_without_secrets_keys_or_with_a_bad_one(tmp_path):
    """Issue #25 item 11: secrets at rest need SECRETS_KEYS in production."""
    base = {"SECRET_KEY": "k" * 40, "APP_BASE_URL": "https://portal.example"}
    with pytest.raises(ConfigError, match="SECRETS_KEYS is not set"):
        load_config(base, tmp_path)
    with pytest.raises(ConfigError, match="Fernet key"):
        load_config({**base, "SECRETS_KEYS": "kein-schluessel"}, tmp_path)
    assert load_config({**base, **KEYS}, tmp_path)["SECRETS_KEYS"] == KEYS["SECRETS_KEYS"]

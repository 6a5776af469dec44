"""Configuration from environment variables.

Every setting has a documented default (README, .env.example). The security numbers of SPEC.md are
defaults here and may be overridden by an environment variable of the same name; code reads them from
``app.config`` and never hard-codes them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.crypto import SecretBox, SecretError
from core.passwords import MIN_PRODUCTION_COST

ENVIRONMENTS = ("development", "testing", "production")

# Settings whose value may come from the environment, with their defaults. The type of the default
# decides how the environment string is parsed.
DEFAULTS: dict[str, Any] = {
    # where links in e-mails point to; never derived from the request's Host header
    "APP_BASE_URL": "",
    # the footer's Impressum and Datenschutz links (default: the app's own pages)
    "IMPRINT_URL": "",
    "PRIVACY_URL": "",
    # e-mail over SMTP (delivery through the outbox, issue #4)
    "MAIL_SERVER": "",
    "MAIL_PORT": 587,
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "MAIL_USE_TLS": True,
    "MAIL_DEFAULT_SENDER": "Demo Versicherung <no-reply@localhost>",
    "MAIL_TIMEOUT_SECONDS": 10,
    # SMS through twilio
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_FROM_NUMBER": "",
    "TWILIO_API_BASE_URL": "",
    "TWILIO_TIMEOUT_SECONDS": 10,
    # outbox worker: attempts before "failed", backoff (base × 2^(attempt-1), ± jitter, capped), lease
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_BACKOFF_SECONDS": 30,
    "OUTBOX_BACKOFF_MAX_SECONDS": 3600,
    "OUTBOX_LEASE_SECONDS": 300,
    "OUTBOX_BATCH_SIZE": 50,
    "OUTBOX_POLL_SECONDS": 1,
    # operations: log format ("json" in production, "text", or empty: Flask's default), the bearer
    # token that opens /metrics (empty: no /metrics), the worker heartbeat age /readyz accepts
    "LOG_FORMAT": "",
    "METRICS_TOKEN": "",
    "READY_WORKER_MAX_AGE_SECONDS": 120,
    # background jobs (core.jobs): how long a claimed job step belongs to its worker
    "JOB_LEASE_SECONDS": 120,
    # deliver in a background thread of the app process (the embedded default; off in production)
    "OUTBOX_EMBEDDED_WORKER": False,
    # secrets at rest (core.crypto): Fernet keys, comma-separated, newest first; required in production
    "SECRETS_KEYS": "",
    # shared storage for rate limits (e.g. redis://host:6379) when several app processes run
    "RATELIMIT_STORAGE_URI": "memory://",
    # number of reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted
    "TRUSTED_PROXIES": 0,
    # login throttling (staff and customers, NIST SP 800-63B): per account and per client address,
    # the first failures are free, then every attempt waits LOGIN_DELAY_SECONDS, doubling, capped
    "LOGIN_FREE_ATTEMPTS_PER_ACCOUNT": 5,
    "LOGIN_FREE_ATTEMPTS_PER_ADDRESS": 30,
    "LOGIN_DELAY_SECONDS": 2,
    "LOGIN_MAX_DELAY_ACCOUNT_SECONDS": 60,
    "LOGIN_MAX_DELAY_ADDRESS_SECONDS": 900,
    "LOGIN_FAILURE_WINDOW_HOURS": 24,
    # "Passwort vergessen" requests per client address (Flask-Limiter notation)
    "PASSWORD_FORGOT_LIMIT_PER_ADDRESS": "10 per 15 minutes",
    # sessions: idle timeout (on the server: the session's last activity, written at most every
    # SESSION_TOUCH_SECONDS) and absolute maximum
    "SESSION_IDLE_MINUTES": 60,
    "SESSION_MAX_HOURS": 12,
    "SESSION_TOUCH_SECONDS": 60,
    # pooled database connections are renewed after this long (no ping before every request; a
    # connection found dead by a transaction's first statement is replaced and the statement retried)
    "DATABASE_POOL_RECYCLE_SECONDS": 1800,
    # SQLite (the embedded default): how long a writer waits for the write lock in all
    "SQLITE_WAIT_SECONDS": 60,
    # the reference data (vehicles, Typklassen, places, Regionalklassen) is served from an in-process
    # snapshot; each process checks its version at most this often (an import takes effect within it)
    "REFERENCE_CHECK_SECONDS": 30,
    # wkhtmltopdf processes at once for batches (0: one per CPU core)
    "PDF_WORKERS": 0,
    # where document PDFs are kept: a directory on this machine (default: instance/documents), or an
    # S3-compatible bucket for several machines (s3://bucket/prefix; credentials from the environment
    # as boto3 reads them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
    "DOCUMENT_STORAGE_DIR": "",
    "DOCUMENT_STORAGE_URL": "",
    "S3_ENDPOINT_URL": "",  # another S3-compatible service than AWS (MinIO, Ceph, a cloud's own)
    "S3_REGION": "",
    # objects of a transaction that failed: swept once older than this, from the last days, by the worker
    "STORAGE_ORPHAN_HOURS": 24,
    "STORAGE_SWEEP_DAYS": 3,
    "STORAGE_SWEEP_MINUTES": 60,
    # further tariff directories (os.pathsep-separated) beside the shipped demo tariffs
    "TARIFF_EXTRA_DIRS": "",
    # onboarding (SPEC §4): access link, SMS code, letter code, password reset
    "ACCESS_LINK_DAYS": 30,
    "ACCESS_CODE_LENGTH": 6,
    "ACCESS_CODE_MINUTES": 10,
    "ACCESS_CODE_MAX_ATTEMPTS": 5,
    "ACCESS_CODE_RESEND_SECONDS": 60,
    "ACCESS_CODE_MAX_SENDS_PER_DAY": 5,
    "LETTER_CODE_LENGTH": 12,
    "LETTER_CODE_DAYS": 30,
    # "Neue Dokumente" e-mail: sent this long after the first new document of a day (documents of
    # one batch share it); one e-mail per customer and day, later ones wait for the next morning
    "NEW_DOCUMENTS_DELAY_MINUTES": 15,
    "NEW_DOCUMENTS_MORNING_HOUR": 7,
    "LETTER_CODE_MAX_ATTEMPTS": 5,
    "PASSWORD_RESET_HOURS": 24,
    # self-registration (issue #29, seed 002): the confirmation link is valid this long; registrations
    # per contract number and per e-mail address (the first free, then a growing wait, within a day);
    # the form per client address (Flask-Limiter notation); a new confirmation e-mail for the same
    # contract and address only after the resend wait; code letters per contract within 30 days
    "REGISTRATION_CONFIRM_HOURS": 48,
    "REGISTRATION_FREE_PER_CONTRACT": 3,
    "REGISTRATION_FREE_PER_EMAIL": 3,
    "REGISTRATION_LIMIT_PER_ADDRESS": "10 per hour",
    "REGISTRATION_RESEND_MINUTES": 15,
    "REGISTRATION_LETTERS_PER_30_DAYS": 3,
    # "Kontakt" in the portal (issue #29): messages per customer and day without a wait (then a growing
    # one), and the form per client address (Flask-Limiter notation)
    "CONTACT_FREE_PER_DAY": 10,
    "CONTACT_LIMIT_PER_ADDRESS": "30 per hour",
    # the portal's Nutzungsbedingungen and Datenschutzhinweise (templates/portal/texts/): a new version
    # asks every customer again at his next login
    "PORTAL_TERMS_VERSION": "2026-12-01",
    "PORTAL_PRIVACY_VERSION": "2026-12-01",
    # contract changes (issue #14): how far back a change may take effect; the notice period of a
    # Kündigung zum Ablauf (later: to the following Hauptfälligkeit); contracts per renewal step
    "CONTRACT_CHANGE_BACKDATE_DAYS": 90,
    "RENEWAL_STEP_CONTRACTS": 25,
    # § 40 VVG: a tariff-driven premium increase is announced at least this many months before the
    # Hauptfälligkeit; a renewal run later than that keeps such contracts on their tariff for a year
    "RENEWAL_NOTICE_MONTHS": 1,
    # "Schaden melden" in the portal: photos (JPEG, PNG, HEIC) and PDFs per claim, and size of each
    "CLAIM_UPLOAD_MAX_FILES": 5,
    "CLAIM_UPLOAD_MAX_MB": 6,
    # the longest value of a query-string parameter (searches, filters); longer ones get a German 400
    "QUERY_VALUE_MAX_LENGTH": 500,
    # the broker's worklist: access links unused this many days get "Erinnerung senden"; decisions
    # on Anträge are listed this many days
    "WORKLIST_REMINDER_DAYS": 7,
    "WORKLIST_DECISION_DAYS": 14,
    # an invitation ending within this many days while its code letter still lies unposted in the
    # Postausgang: a warning on the worklist (the customer may never get to use it)
    "WORKLIST_LETTER_WARNING_DAYS": 7,
    # eVB-Nummer for the registration office, issued with a Kfz contract: days it can be used
    "EVB_VALID_DAYS": 90,
    # the insurer (Risikoträger) named on the Versicherungsschein and in the Vertragsinformationen;
    # the defaults are demo values — a real insurer sets its own
    "INSURER_NAME": "Demo Versicherung AG (Demo-Risikoträger)",
    "INSURER_ADDRESS": "Musterstraße 1, 80331 München",
    "INSURER_REGISTER": "Amtsgericht München, HRB 000000 (Demo)",
    "INSURER_SUPERVISOR": "BaFin, Graurheindorfer Straße 108, 53117 Bonn",
    # the insurer's brand toward customers (portal header, e-mails, SMS, letters): its short name,
    # the signature under messages, the service's postal address (letters' return line), a logo
    # (a path under static/, empty: the name as text); the staff pages stay "Vermittler-Rechner"
    "BRAND_NAME": "Demo Versicherung",
    "BRAND_SIGNATURE": "Ihr Kundenservice der Demo Versicherung",
    "BRAND_POSTAL_ADDRESS": "Postfach 10 01 00 · 80001 München",
    "BRAND_LOGO": "",
    # the agency dashboard: the funnel's period unless one is chosen, the longest period, and when
    # an invitation still open counts as "waiting too long" (its own bar, to be reminded)
    "DASHBOARD_DEFAULT_DAYS": 90,
    "DASHBOARD_MAX_YEARS": 5,
    "DASHBOARD_WAITING_DAYS": 14,
    # the customer's own changes in the portal: a new e-mail address applies after the link sent
    # to it (valid this long); a new mobile number after an SMS code (ACCESS_CODE_* numbers)
    "CONTACT_CHANGE_LINK_HOURS": 24,
    # optional two-factor login (TOTP): the name in the authenticator app; wrong codes: the first
    # TOTP_FREE_ATTEMPTS are free, then growing delays (LOGIN_DELAY_SECONDS doubling, capped);
    # the code must follow the password within TOTP_LOGIN_MINUTES; one-time recovery codes
    "TOTP_ISSUER": "Demo Versicherung Kunden-Portal",
    "TOTP_FREE_ATTEMPTS": 5,
    "TOTP_MAX_DELAY_SECONDS": 900,
    "TOTP_LOGIN_MINUTES": 5,
    "TOTP_RECOVERY_CODES": 10,
    # bulk switch upload (agency manager): largest CSV file and most rows per file
    "BULK_SWITCH_MAX_BYTES": 2 * 1024 * 1024,
    "BULK_SWITCH_MAX_ROWS": 20_000,
    # … and up to how many valid rows are switched within the request (more: by the worker)
    "BULK_SWITCH_SYNC_ROWS": 200,
    # argon2id's cost for new password hashes (RFC 9106's second recommendation; production refuses
    # less than OWASP's minimum of 19 MiB and two passes)
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_KIB": 65536,
    "PASSWORD_HASH_PARALLELISM": 4,
    # the broker API (issue #30): access tokens' lifetime (client credentials), calls per client
    # (flask-limiter's storage: Redis in production), the largest request body, webhooks (HTTPS
    # only and no private or loopback address outside development and tests; the receiver's time to
    # answer; attempts before a delivery is "fehlgeschlagen" — it stays in the log to send again)
    "API_TOKEN_SECONDS": 900,
    "API_RATE_LIMIT": "600 per minute",
    "API_MAX_BODY_BYTES": 64 * 1024,
    "API_IDEMPOTENCY_HOURS": 24,
    "API_WEBHOOK_ALLOW_INSECURE": False,
    "API_WEBHOOK_TIMEOUT_SECONDS": 10,
    "API_WEBHOOK_MAX_ATTEMPTS": 15,
    # password rule (seed 000, SPEC §4)
    "PASSWORD_MIN_LENGTH": 8,
    "PASSWORD_MAX_LENGTH": 128,
}


class ConfigError(RuntimeError):
    """The configuration is not safe or not complete for the chosen environment."""


def _parse(value: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"not a boolean: {value!r}")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"not a whole number: {value!r}") from exc
    return value


def _dev_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder, so dev sessions survive restarts."""
    path = instance_path / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_config(environ: Mapping[str, str], instance_path: str | Path) -> dict[str, Any]:
    """Build the Flask config dict from an environment mapping; refuse unsafe production settings."""
    instance = Path(instance_path)
    app_env = environ.get("APP_ENV", "production").strip().lower()
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {app_env!r}")
    dev = app_env == "development"
    production = app_env == "production"

    config: dict[str, Any] = {"APP_ENV": app_env}
    for key, default in DEFAULTS.items():
        raw = environ.get(key)
        config[key] = default if raw is None else _parse(raw, default)

    secret_key = environ.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY is not set. Outside development the app needs a real secret key "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))'); "
                "for the embedded default set APP_ENV=development."
            )
        instance.mkdir(parents=True, exist_ok=True)
        secret_key = _dev_secret_key(instance) if dev else secrets.token_hex(32)
    elif production and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY is too short: use at least 32 random characters.")
    config["SECRET_KEY"] = secret_key

    database_url = environ.get("DATABASE_URL", "")
    if not database_url:
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'calculator.sqlite3'}"
    config["DATABASE_URL"] = database_url
    config["TARIFF_EXTRA_DIRS"] = [p for p in str(config["TARIFF_EXTRA_DIRS"]).split(os.pathsep) if p]

    if not config["APP_BASE_URL"]:
        if production:
            raise ConfigError("APP_BASE_URL is not set: it is the address used in e-mail links.")
        port = environ.get("PORT", "").strip() or "5000"
        if not port.isdigit():
            raise ConfigError(f"PORT must be a port number, not {port!r}")
        config["APP_BASE_URL"] = f"http://127.0.0.1:{port}"
    config["APP_BASE_URL"] = config["APP_BASE_URL"].rstrip("/")
    _check_hash_cost(config, production)

    # mail and SMS go to the dev mailbox unless a real server/account is configured
    config["MAIL_BACKEND"] = "smtp" if config["MAIL_SERVER"] else "console"
    config["SMS_BACKEND"] = "twilio" if config["TWILIO_ACCOUNT_SID"] else "console"
    if production and "LOG_FORMAT" not in environ:
        config["LOG_FORMAT"] = "json"
    if dev and "OUTBOX_EMBEDDED_WORKER" not in environ:
        config["OUTBOX_EMBEDDED_WORKER"] = True
    if not production and "API_WEBHOOK_ALLOW_INSECURE" not in environ:
        config["API_WEBHOOK_ALLOW_INSECURE"] = True  # a receiver on this machine, over http
    if production and config["API_WEBHOOK_ALLOW_INSECURE"]:
        raise ConfigError("API_WEBHOOK_ALLOW_INSECURE is for development and tests only.")
    if production and not str(config["SECRETS_KEYS"]).strip():
        raise ConfigError(
            "SECRETS_KEYS is not set: production encrypts secrets at rest (the two-factor secrets) with it. "
            "Make a key with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    try:
        SecretBox.from_config(config)
    except SecretError as error:
        raise ConfigError(str(error)) from None
    if production and config["OUTBOX_EMBEDDED_WORKER"]:
        raise ConfigError(
            "OUTBOX_EMBEDDED_WORKER is for development only: in production background work runs in "
            "`flask worker run` (a thread in a web process dies with it and is not shared)."
        )
    if production and (config["MAIL_BACKEND"] == "console" or config["SMS_BACKEND"] == "console"):
        # allowed, but loudly: a production system without SMTP/twilio cannot onboard customers
        config["DELIVERY_WARNING"] = "MAIL_SERVER or TWILIO_ACCOUNT_SID is not set"

    config.update(
        SESSION_COOKIE_NAME="vr_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not dev and app_env != "testing",
        REMEMBER_COOKIE_HTTPONLY=True,
        # the idle timeout is the server's (core.sessions): the cookie is not signed anew on every
        # response and lives as long as a session may (SESSION_MAX_HOURS)
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config["SESSION_MAX_HOURS"]),
        PREFERRED_URL_SCHEME="https" if production else "http",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_I18N_ENABLED=False,  # WTForms' own German messages via Meta.locales
        RATELIMIT_HEADERS_ENABLED=False,
        # a claim's photos (CLAIM_UPLOAD_MAX_FILES × CLAIM_UPLOAD_MAX_MB) and the form around them
        MAX_CONTENT_LENGTH=(config["CLAIM_UPLOAD_MAX_FILES"] * config["CLAIM_UPLOAD_MAX_MB"] + 2) * 1024 * 1024,
        DEBUG=dev,
        TESTING=app_env == "testing",
    )
    return config


def _check_hash_cost(config: dict[str, Any], production: bool) -> None:
    t, m, p = (config[f"PASSWORD_HASH_{k}"] for k in ("TIME_COST", "MEMORY_KIB", "PARALLELISM"))
    if t < 1 or p < 1 or m < 8 * p:
        raise ConfigError(
            "PASSWORD_HASH_TIME_COST and _PARALLELISM must be at least 1, "
            "PASSWORD_HASH_MEMORY_KIB at least 8 × PASSWORD_HASH_PARALLELISM."
        )
    if production and (t < MIN_PRODUCTION_COST.time_cost or m < MIN_PRODUCTION_COST.memory_kib):
        raise ConfigError(
            f"The password hash is too cheap for production: use at least PASSWORD_HASH_TIME_COST="
            f"{MIN_PRODUCTION_COST.time_cost} and PASSWORD_HASH_MEMORY_KIB={MIN_PRODUCTION_COST.memory_kib} "
            "(OWASP's minimum for argon2id)."
        )


def from_environment(instance_path: str | Path) -> dict[str, Any]:
    return load_config(os.environ, instance_path)

"""Small helpers for web tests: CSRF tokens from pages, logging in through the real form."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask.testing import FlaskClient

from core.passwords import hash_password

PASSWORD = "Richtig-Geheim-7!"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, Any], *, page: str | None = None, **kwargs: Any):
    """POST like a browser: first GET the page the form is on and take its CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(client, page or url), **data}, **kwargs)


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    return post_form(client, "/anmelden", {"email": email, "password": password})


@cache
def cached_hash(password: str) -> str:
    """argon2 is slow on purpose; hash each test password once per run."""
    return hash_password(password)

"""Impressum and Datenschutz: the footer links to the operator's pages (IMPRINT_URL, PRIVACY_URL)
or, by default, to pages of ours."""

from __future__ import annotations

from flask import Flask, current_app, render_template, url_for


def _imprint() -> str:
    return render_template("legal/impressum.html")


def _privacy() -> str:
    return render_template("legal/datenschutz.html", config=current_app.config)


def footer_links() -> dict[str, str]:
    config = current_app.config
    return {
        "imprint": config["IMPRINT_URL"] or url_for("imprint"),
        "privacy": config["PRIVACY_URL"] or url_for("privacy"),
    }


def init_app(app: Flask) -> None:
    app.add_url_rule("/impressum", "imprint", _imprint)
    app.add_url_rule("/datenschutz", "privacy", _privacy)
    app.jinja_env.globals["footer_links"] = footer_links

"""Impressum and Datenschutz: the footer links to the operator's pages (IMPRINT_URL, PRIVACY_URL)
or, by default, to pages of ours; the insurer's brand the customer sees (Brand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template, url_for


@dataclass(frozen=True)
class Brand:
    """The insurer's brand toward customers (BRAND_* settings): the portal header, every e-mail,
    SMS and letter name it — not the broker tool's "Vermittler-Rechner"."""

    name: str
    signature: str
    postal_address: str
    logo: str

    @classmethod
    def from_config(cls, config: Any) -> Brand:
        return cls(
            config["BRAND_NAME"], config["BRAND_SIGNATURE"], config["BRAND_POSTAL_ADDRESS"], config["BRAND_LOGO"]
        )


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
    app.jinja_env.globals["brand"] = Brand.from_config(app.config)

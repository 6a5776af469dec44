"""Demo data for the embedded default (`flask demo seed`). Never used outside development/testing."""

from flask import Flask


def init_app(app: Flask) -> None:
    from demo.cli import demo_cli

    app.cli.add_command(demo_cli)

from core.app import create_app
from tests.conftest import environ_for


def test_apps_of_one_process_share_compiled_templates(tmp_path):
    """The suite creates an app per test: the second one loads compiled templates, parses none."""
    first = create_app(environ=environ_for(f"sqlite:///{tmp_path / 'a.sqlite3'}"))
    second = create_app(environ=environ_for(f"sqlite:///{tmp_path / 'b.sqlite3'}"))
    assert first.jinja_env.bytecode_cache is second.jinja_env.bytecode_cache
    first.jinja_env.get_template("base.html")

    compiled = []
    original = second.jinja_env.compile
    second.jinja_env.compile = lambda *args, **kwargs: compiled.append(args) or original(*args, **kwargs)
    template = second.jinja_env.get_template("base.html")
    assert compiled == []
    assert "content" in template.blocks  # the real template, from the cache

.PHONY: run test lint bench
# Start the app with the embedded default on http://127.0.0.1:5000 (installs what is missing).
run:
	scripts/run.sh
# The whole test suite, SQLite and PostgreSQL, browser tests included (installs what is missing).
test:
	scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/mypy --strict --follow-imports=silent -p calculator.tariffs && .venv/bin/lint-imports
# Benchmarks (figures in BENCHMARKS.md).
bench:
	scripts/bench.sh

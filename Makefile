# The README's two commands: `make demo` (the main job on the embedded defaults)
# and `make test` (the whole suite). Both install what they need on a bare machine.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")

.PHONY: setup demo test lint typecheck unit bench bench-alerting bench-api postgres-binaries browser

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --frozen

postgres-binaries:
	@bash scripts/ensure-postgres.sh

browser:
	@bash scripts/ensure-browser.sh

demo: setup
	@bash scripts/demo.sh

lint: setup
	uv run ruff check .
	uv run ruff format --check .

typecheck: setup
	uv run mypy

test: setup postgres-binaries browser lint typecheck
	uv run pytest

bench: setup
	uv run python -m bench

bench-alerting: setup postgres-binaries
	uv run python -m bench.alerting
	uv run python -m bench.alerting --prefect-database postgres

bench-api: setup postgres-binaries
	uv run python -m bench.metrics_api

# `make run` starts reglab on this machine; `make test` runs the whole suite.
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install chromium run test lint pytest bench clean

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[torch,tensorflow,dev]' \
		-e './client[cli]'
	touch $@

install: $(STAMP)

# The browser tests drive Debian's chromium (Playwright never downloads a browser). Without it
# they skip, except under CI=true, where failing to install it fails the target.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium; } || \
		{ [ "$$CI" != true ] && echo "no chromium: the browser tests will skip"; }

run: $(STAMP)
	VENV=$(VENV) ./scripts/run_local.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP) chromium
	$(BIN)/python -m pytest

test: lint pytest

bench: $(STAMP)
	$(BIN)/python bench/train_overhead.py
	$(BIN)/python bench/api_latency.py
	$(BIN)/python bench/auth_latency.py
	$(BIN)/python bench/metrics_scrape.py
	$(BIN)/python bench/event_polls.py
	$(BIN)/python bench/query_latency.py
	$(BIN)/python bench/checkpoint_cost.py
	$(BIN)/python bench/body_limit.py
	$(BIN)/python bench/sqlite_concurrency.py
	$(BIN)/python bench/search_at_bound.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/blob_store.py
	$(BIN)/python bench/upload.py

clean:
	rm -rf $(VENV) .reglab .pytest_cache .mypy_cache .ruff_cache

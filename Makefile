# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Both create .venv in the checkout and install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DATA ?= ./data

.PHONY: run test lint bench setup browser ffmpeg replay analysis oidc clean

setup: $(STAMP) browser ffmpeg replay analysis

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

browser: $(STAMP)
	@scripts/ensure-browser

ffmpeg:
	@scripts/ensure-ffmpeg

replay:
	@scripts/ensure-replay

analysis:
	@scripts/ensure-analysis

# Only the tests need it: a real OpenID Connect provider (Node.js) for the login tests.
oidc:
	@scripts/ensure-oidc-provider

run: setup
	@echo "Paste this token into the browser extension's options (extension/;"
	@echo "\`osint-capture token\` prints it again):"
	@$(BIN)/osint-capture token --data $(DATA)
	$(BIN)/osint-capture serve --data $(DATA) --ocr

test: setup oidc
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Benchmarks (bench/README.md): every one, or a quick run, e.g.
#   make bench ONLY=hashing SIZE=100M    make bench ONLY=capture PAGES=10
bench: setup
	$(BIN)/python -m bench $(if $(ONLY),--only $(ONLY)) $(if $(SIZE),--size $(SIZE)) \
		$(if $(PAGES),--pages $(PAGES)) $(if $(REQUESTS),--requests $(REQUESTS)) \
		$(if $(QUEUED),--queued $(QUEUED))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

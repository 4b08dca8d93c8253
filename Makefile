# The studio's everyday commands. `make run` starts it, `make test` tests it.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.PHONY: help run test setup services lint clean

VENV := .venv
# Data folder of `make run` (database, keys, broker, logs). Absolute, so every process agrees.
STUDIO_HOME ?= $(CURDIR)/.studio
export STUDIO_HOME
# Throwaway data folder of `make test`.
TEST_HOME := $(CURDIR)/.studio-test
# What pytest gets; `make test PYTEST_ARGS="-k workspace -x"` replaces it.
PYTEST_ARGS ?= -n 2
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/studio
TEST_BROKER_URL := redis://127.0.0.1:6379/15

help:
	@echo "make run       set up (first time) and start web, worker and beat (Ctrl-C stops all)"
	@echo "make test      set up, make sure PostgreSQL/Redis/Docker/Chromium are there, run pytest"
	@echo "               (PYTEST_ARGS=... replaces the default '-n 2')"
	@echo "make setup     virtualenv, packages, data folder, migrations, first admin"
	@echo "make services  start/install PostgreSQL, Redis, the Docker engine and Chromium"
	@echo "make lint      ruff check ."
	@echo "make clean     remove caches and the test data folder (keeps .venv and .studio)"

setup:
	scripts/setup.sh

services:
	scripts/services.sh

run: setup
	scripts/base-image.sh --optional
	@echo "==> starting web (http://$${STUDIO_BIND:-127.0.0.1}:$${STUDIO_PORT:-8000}), worker and beat; Ctrl-C stops them"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(VENV)/bin/honcho start -f Procfile

# The set-up step migrates a throwaway SQLite database in $(TEST_HOME): it proves the set-up
# path works; pytest then creates its own test databases.
test:
	STUDIO_HOME="$(TEST_HOME)" env -u DATABASE_URL -u CELERY_BROKER_URL scripts/setup.sh
	scripts/services.sh
	@export STUDIO_HOME="$(TEST_HOME)"; \
	unset DATABASE_URL CELERY_BROKER_URL; \
	if scripts/services.sh --check postgres; then \
		export DATABASE_URL="$(TEST_DATABASE_URL)"; \
	else \
		echo "WARNING: PostgreSQL unreachable: testing on SQLite" >&2; \
	fi; \
	if scripts/services.sh --check redis; then \
		export CELERY_BROKER_URL="$(TEST_BROKER_URL)"; \
	else \
		echo "WARNING: Redis unreachable: testing with the filesystem broker" >&2; \
	fi; \
	echo "==> pytest $(PYTEST_ARGS)  (STUDIO_HOME=$$STUDIO_HOME DATABASE_URL=$${DATABASE_URL:-sqlite} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-filesystem})"; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint:
	scripts/setup.sh --packages-only
	$(VENV)/bin/ruff check .

clean:
	rm -rf "$(TEST_HOME)" .pytest_cache .ruff_cache build dist *.egg-info test-results
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

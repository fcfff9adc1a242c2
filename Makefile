# gridgis — `make help` lists the targets.
#
# Two commands matter: `make run` (set everything up, serve the app) and
# `make test` (set everything up, run the whole suite on a throwaway database).
# When DATABASE_URL is set, that database is used and no cluster is started.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GRIDGIS := $(BIN)/gridgis
export GRIDGIS_HOST ?= 127.0.0.1
export GRIDGIS_PORT ?= 5000
export GRIDGIS_PGPORT ?= 55432
PIDFILE := $(CURDIR)/var/run/gunicorn.pid
WORKER_PIDFILE := $(CURDIR)/var/run/worker.pid
PYTEST_ARGS ?=
# `make test T=tests/gridgis/routing` runs a part of the suite (any pytest path or node id).
T ?=
# Translation catalogs: edited as .po, compiled to .mo at setup (never committed).
PO := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
ASSETS := web/vendor/node_modules/.installed

# Stops the worker `make run` started, then says $(1) (if not empty). SIGTERM lets it
# finish the message in hand (a receiver may take a few timeouts); past 15 s SIGKILL
# is safe too: a message is marked delivered only after its receiver's 2xx.
define stop_worker
if [ -f $(WORKER_PIDFILE) ] && kill -0 $$(cat $(WORKER_PIDFILE)) 2>/dev/null; then \
  kill -TERM $$(cat $(WORKER_PIDFILE)); \
  for i in $$(seq 150); do [ -f $(WORKER_PIDFILE) ] || break; sleep 0.1; done; \
  if [ -f $(WORKER_PIDFILE) ]; then kill -KILL $$(cat $(WORKER_PIDFILE)) 2>/dev/null; rm -f $(WORKER_PIDFILE); fi; \
  [ -z "$(1)" ] || echo "$(1)"; \
else rm -f $(WORKER_PIDFILE); [ -z "$(2)" ] || echo "$(2)"; fi
endef

.PHONY: help system system-test venv assets translations messages db migrate demo run serve stop test lint bench replica replica-stop clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

system: ## Install missing system packages (PostgreSQL, PostGIS, python3-venv)
	@scripts/system-deps.sh

system-test: ## Install missing system packages for the tests (adds Chromium)
	@scripts/system-deps.sh --browser

venv: $(VENV)/.installed ## Create .venv and install gridgis with its dev tools

$(VENV)/.installed: setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

assets: $(ASSETS) ## Install the front-end libraries the app serves itself (npm ci; never a CDN)

# npm, not a CDN and not a vendored copy: Leaflet.VectorGrid (vector tiles) is
# published on npm only. `npm ci` installs exactly web/vendor/package-lock.json.
$(ASSETS): web/vendor/package.json web/vendor/package-lock.json
	@cd web/vendor && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

translations: $(MO) ## Compile the translation catalogs (.po → .mo)

# Not `pybabel compile`: it skips our header-less catalogs as fuzzy (see web/i18n.py).
%.mo: %.po $(VENV)/.installed
	@$(BIN)/python -c "from web.i18n import compile_catalogs; compile_catalogs()"
	@touch $@

messages: venv ## Extract the interface's messages and update the .po catalogs to translate
	@$(BIN)/pybabel -q extract -F babel.cfg -k N_ --sort-by-file --omit-header \
	  -o web/translations/messages.pot gridgis web
	@$(BIN)/pybabel -q update -i web/translations/messages.pot -d web/translations --omit-header
	@echo "Updated $(PO); translate the empty msgstr entries, then 'make translations'."

db: ## Start the project-local PostGIS under var/ (unless DATABASE_URL is set)
	@if [ -n "$$DATABASE_URL" ]; then echo "Using DATABASE_URL; no local cluster started."; \
	else scripts/pgcluster.sh start; fi

migrate: venv db ## Apply database migrations
	@$(GRIDGIS) db upgrade

demo: migrate ## Load the demo community if the database has no community yet
	@$(GRIDGIS) demo load --if-empty

run: system venv assets translations demo ## Set up everything, serve the app at http://$GRIDGIS_HOST:$GRIDGIS_PORT, start the worker
	@mkdir -p var/run var/log
	@# A running server is restarted, not HUP-reloaded: its master process has
	@# gridgis modules loaded, and new workers must not mix old and new code.
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then \
	  kill -TERM $$(cat $(PIDFILE)); \
	  for i in $$(seq 100); do [ -f $(PIDFILE) ] || break; sleep 0.1; done; \
	  echo "Restarting the gridgis server with the current code"; \
	fi
	@$(GRIDGIS) serve --daemon --pidfile $(PIDFILE) --log-file $(CURDIR)/var/log/gridgis.log
	@$(BIN)/python scripts/wait_http.py http://$(GRIDGIS_HOST):$(GRIDGIS_PORT)/api/v1 \
	  || { echo "The server did not start; see var/log/gridgis.log" >&2; tail -n 20 var/log/gridgis.log >&2; exit 1; }
	@# The worker (notifications, 督办) likewise runs the current code: stopped, then started.
	@$(call stop_worker,Restarting the gridgis worker with the current code,)
	@$(GRIDGIS) worker --daemon --pidfile $(WORKER_PIDFILE) --log-file $(CURDIR)/var/log/worker.log
	@for i in $$(seq 50); do [ -f $(WORKER_PIDFILE) ] && break; sleep 0.1; done; \
	  [ -f $(WORKER_PIDFILE) ] && echo "gridgis worker running (pid $$(cat $(WORKER_PIDFILE)), log var/log/worker.log)" \
	  || { echo "The worker did not start; see var/log/worker.log" >&2; tail -n 20 var/log/worker.log >&2; exit 1; }
	@echo "Open http://$(GRIDGIS_HOST):$(GRIDGIS_PORT)/ — stop with 'make stop'."
	@$(GRIDGIS) user hint

serve: venv assets translations db ## Serve in the foreground (Ctrl-C stops it)
	@$(GRIDGIS) serve

stop: ## Stop what `make run` started (the server, the worker and the local cluster)
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then \
	  kill -TERM $$(cat $(PIDFILE)); echo "gridgis server stopped"; \
	  for i in $$(seq 50); do [ -f $(PIDFILE) ] || break; sleep 0.1; done; \
	else echo "gridgis server is not running"; fi
	@$(call stop_worker,gridgis worker stopped,gridgis worker is not running)
	@if [ -d var/pg-replica ]; then scripts/replica.sh stop; fi
	@if [ -z "$$DATABASE_URL" ] && [ -d var/pg ]; then scripts/pgcluster.sh stop; fi

test: system-test venv assets translations db ## Run the test suite on a throwaway database (T=path for a part)
	@$(BIN)/python -m pytest $(PYTEST_ARGS) $(T)

lint: venv ## ruff, import contracts, dead code (vulture), security (bandit), mypy on gridgis/
	@$(BIN)/ruff check gridgis web tests bench migrations vulture_allowlist.py
	@$(BIN)/ruff format --check -q gridgis web tests bench migrations
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/vulture gridgis web vulture_allowlist.py
	@$(BIN)/bandit -q -r gridgis web
	@$(BIN)/mypy gridgis

replica: db ## Start a hot standby of the local cluster (streaming replication); prints GRIDGIS_READ_DATABASE_URL
	@scripts/replica.sh start

replica-stop: ## Stop the hot standby `make replica` started
	@scripts/replica.sh stop

bench: venv db ## Run the benchmarks (they print ratios against baselines)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: stop ## Stop everything and remove .venv and var/ (the local database!)
	rm -rf $(VENV) var

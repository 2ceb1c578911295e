# Two commands do all the set-up on a fresh machine (Python 3.11 and make):
#   make run    install, migrate, load the demo county, serve on http://127.0.0.1:5000 with the
#               SMS worker, the escalation and the stats refresh beside it (tools/run.py)
#   make test   install and run the whole suite (TEST_DATABASE_URL selects PostgreSQL)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := subsidy

.PHONY: run test test-fast lint requirements install catalogs-update catalogs db demo bench browser loadgen audit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed. Both files are compiled (make requirements)
# and carry every package's hashes, so pip installs exactly what was reviewed.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

# After editing requirements.in or requirements-dev.in (the short lists of direct dependencies).
requirements: $(VENV)/.installed
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements-dev.txt requirements-dev.in

install: $(VENV)/.installed catalogs instance/config.py

# Compiled message catalogues are build products (git-ignored).
catalogs: $(VENV)/.installed
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d translations -f >/dev/null; fi

# After changing Chinese text: extract (labels of enums are lazy strings: -k _l) and update.
catalogs-update: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

# Per-installation secret keys, made once, readable by the owner only; the app refuses to start
# on the built-in SECRET_KEY.
instance/config.py:
	@mkdir -p instance && chmod 700 instance
	@umask 077 && $(BIN)/python -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32)); print('AUDIT_KEY = %r' % secrets.token_hex(32))" > $@
	@echo "wrote $@ with a new SECRET_KEY and AUDIT_KEY (keep a copy of AUDIT_KEY: the audit log is checked with it)"

db: install
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask demo load --if-empty

# The web server and its jobs (SMS worker, daily escalation, stats refresh every 5 minutes),
# stopped together by Ctrl-C.
run: demo
	@$(BIN)/flask demo logins
	$(BIN)/python -m tools.run --host 127.0.0.1 --port 5000

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
browser:
	@bash tools/install-browser.sh

# The load tests (bench/load.py, run small by the suite) drive Debian's wrk.
loadgen:
	@bash tools/install-wrk.sh

test: install browser loadgen
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: no browser, no benchmarks, no load tests, no generated API run.
test-fast: install
	$(BIN)/python -m pytest -m "not browser and not bench and not load and not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install loadgen
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Needs the network (PyPI's JSON API or OSV); see README "Known limits".
audit: install
	$(BIN)/pip install --quiet pip-audit==2.10.1
	$(BIN)/pip-audit -r requirements.txt -r requirements-dev.txt

clean:
	rm -rf $(VENV) .pytest_cache

# The two commands of the README's quick start: `make demo` and `make test`.
#
# Both work on a stock Debian/Ubuntu/Raspberry Pi OS, whose python3 is "externally managed"
# (PEP 668) and refuses `pip install`: the project lives in its own virtual environment
# ($(VENV), made with the system's python3), and Debian packages come from apt-get.
SYSTEM_PY ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The gateway as a Raspberry Pi installs it: the `edge` extra alone, no cloud libraries.
EDGE_VENV ?= .venv-edge
EDGE_PY := $(EDGE_VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# servers the tests and the demo start (mosquitto, influxdb, postgresql), serial bridges (socat),
# the browser for the web tests (chromium), the PDF font (fonts-dejavu-core), venv for python3
DEBS ?= mosquitto influxdb socat shellcheck openssl postgresql chromium fonts-dejavu-core python3-venv
EXTRAS ?= all,test

.PHONY: setup deps-debian deps-python check-python test test-edge lint demo bench clean-venv i18n

deps-debian:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

check-python:
	@command -v $(SYSTEM_PY) >/dev/null 2>&1 || { \
	  echo "fejl / error: $(SYSTEM_PY) findes ikke / not found: apt-get install python3 (>= 3.11)"; exit 1; }
	@$(SYSTEM_PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "fejl / error: indeklima kræver / needs Python >= 3.11; $(SYSTEM_PY) er / is" \
	    "$$($(SYSTEM_PY) -c 'import platform; print(platform.python_version())')." \
	    "Debian 12, Ubuntu 24.04 and Raspberry Pi OS 12 have 3.11+; or run" \
	    "make SYSTEM_PY=/path/to/python3.11 ..."; exit 1; }

# The venv is rebuilt when pyproject.toml changes (the stamp records the last install).
$(VENV)/.installed-$(EXTRAS): pyproject.toml | check-python deps-debian
	@[ -x $(PY) ] || { echo "creating $(VENV) with $$(command -v $(SYSTEM_PY))"; \
	  $(SYSTEM_PY) -m venv $(VENV) || { \
	    echo "fejl / error: python3 -m venv failed; install python3-venv (apt-get install python3-venv)"; \
	    exit 1; }; }
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $@

deps-python: $(VENV)/.installed-$(EXTRAS)

$(EDGE_VENV)/.installed-edge: pyproject.toml | check-python deps-debian
	@[ -x $(EDGE_PY) ] || { echo "creating $(EDGE_VENV) (edge extra only) with $$(command -v $(SYSTEM_PY))"; \
	  $(SYSTEM_PY) -m venv $(EDGE_VENV) || { \
	    echo "fejl / error: python3 -m venv failed; install python3-venv (apt-get install python3-venv)"; \
	    exit 1; }; }
	$(EDGE_PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(EDGE_PY) -m pip install -q --disable-pip-version-check '.[edge]'
	@touch $@

# A regular (not editable) install of this tree with only the edge extra, as
# deploy/install.sh gateway makes on a Pi; tests/test_edge_install.py then runs its commands
# (--help, decode, scan without Bluetooth, a short run against a real Mosquitto).
test-edge: setup $(EDGE_VENV)/.installed-edge
	$(EDGE_PY) -m pip install -q --disable-pip-version-check --no-deps --force-reinstall .
	INDEKLIMA_EDGE_VENV=$(EDGE_VENV) $(PY) -m pytest -p no:cacheprovider tests/test_edge_install.py

setup: deps-debian deps-python

lint: setup
	$(PY) -m ruff check edge cloud firmware_sim tests bench dashboards
	$(PY) -m ruff format --check edge cloud firmware_sim tests bench dashboards
	$(PY) -m mypy edge cloud

test: setup lint test-edge
	$(PY) -m pytest -p no:cacheprovider

demo: setup
	$(PY) -m cloud.cli demo $(ARGS)

bench: setup
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The web pages' texts: extract from templates and Python (babel.cfg), merge into the da/en
# catalogs, compile the .mo files (both committed). Translate new entries in
# cloud/web/locale/da/LC_MESSAGES/messages.po, then run it again.
i18n: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -w 100 --no-location --sort-output -o cloud/web/locale/messages.pot cloud/web
	$(VENV)/bin/pybabel update -w 100 --no-fuzzy-matching -i cloud/web/locale/messages.pot -d cloud/web/locale
	$(VENV)/bin/pybabel compile --use-fuzzy -d cloud/web/locale

clean-venv:
	rm -rf $(VENV) $(EDGE_VENV)

# The two commands of the README's quick start: `make demo` and `make test`.
PY ?= python3
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
DEBS := mosquitto influxdb socat shellcheck openssl

.PHONY: setup deps-debian deps-python test lint demo bench

deps-debian:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-python:
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all,test]'

setup: deps-debian deps-python

lint:
	$(PY) -m ruff check edge cloud firmware_sim tests bench dashboards
	$(PY) -m ruff format --check edge cloud firmware_sim tests bench dashboards
	$(PY) -m mypy edge cloud

test: setup lint
	$(PY) -m pytest -p no:cacheprovider

demo: setup
	$(PY) -m cloud.cli demo $(ARGS)

bench: setup
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

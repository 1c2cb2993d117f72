# One-command entry points; see README. Everything runs from the project venv.
.DEFAULT_GOAL := help
.PHONY: help venv run test chromium lint clean-var

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-installed
PIP    := $(PY) -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=

help:
	@echo "make run        start the app (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)"
	@echo "make test       run the test suite (PYTEST_ARGS='-k foo' to filter)"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make clean-var  delete var/ (embedded database, Redis socket, beat schedule)"

$(PY):
	python3 -m venv $(VENV)

# Reinstall only when requirements.txt is newer than the last successful install.
$(STAMP): requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	touch $@

venv: $(STAMP)

run: venv
	exec $(PY) -m dam.launcher run

test: venv chromium
	exec $(PY) -m dam.launcher test $(PYTEST_ARGS)

# Browser tests drive Debian's chromium, `bench renditions` (and its test) libvips'
# vipsthumbnail; install them only when we can (root + apt).
chromium:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/vipsthumbnail ]; } && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends chromium libvips-tools \
		|| echo "warning: could not install chromium/libvips-tools; browser or bench tests may fail" >&2; \
	fi

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean-var:
	rm -rf var

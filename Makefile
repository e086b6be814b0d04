# ModelDeck: two commands.
#   make run    serve the dashboard on the bundled sample registry at http://127.0.0.1:8050
#               (gunicorn, several workers; docs/deploy.md)
#   make test   run every test (unit, contract, browser in headless Chromium, a real Redis)
# Both create .venv and install the pinned packages on first use.
#   make dev    Dash's debug server (reloads on code changes), for working on ModelDeck

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export TMPDIR ?= /tmp

.PHONY: run dev test install browser axe redis java sample bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test,mlflow,redis,spark]"
	touch $@

install: $(VENV)/.installed

# Debian's Chromium and its driver (browser tests, image export), npm for axe-core, and the
# DejaVu fonts the deck measures its text with (reports/text_fit.py).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	  command -v npm >/dev/null && \
	  test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
	  ( $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver \
	      npm fonts-dejavu-core )

# The pinned accessibility rule engine the browser tests inject (tests/axe/package-lock.json).
AXE := tests/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/axe/package.json tests/axe/package-lock.json | browser
	cd tests/axe && npm ci --no-audit --no-fund --silent
	touch $@

axe: $(AXE)

# Debian's Redis server: the serving tests start their own on a free loopback port.
redis:
	@command -v redis-server >/dev/null || \
	  ( $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server )

# Debian's Java runtime: the engine contract also runs on Apache Spark in local mode
# (tests/test_engines.py).
java:
	@command -v java >/dev/null || \
	  ( $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jre-headless )

# gunicorn with serving/gunicorn_conf.py; ARGS: --registry, --host, --port, --workers, --threads
run: install
	$(PY) -m serving.run $(ARGS)

dev: install
	$(PY) app.py --debug $(ARGS)

test: install browser axe redis java
	mkdir -p $(TMPDIR)/modeldeck-tests
	TMPDIR=$(TMPDIR)/modeldeck-tests $(PY) -m pytest --headless $(PYTEST_ARGS)

# Rebuild data/sample-registry by training the sample models again.
sample: install
	$(PY) data/build_sample.py

clean:
	rm -rf $(VENV) .pytest_cache tests/axe/node_modules

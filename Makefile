# Set-up and the two everyday commands. Everything runs inside .venv, made from the
# pinned requirements.txt; DVC keeps its state inside the repository.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/tmp/site_cache
export PYTHONUNBUFFERED := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: repro test quick lint system bench plots-offline

repro: $(VENV)/.installed vega/page.html  ## regenerate every result on the offline default
	$(BIN)/dvc repro

test: $(VENV)/.installed system vega/page.html  ## the whole test suite, the end-to-end pipeline included
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/pytest -n auto --dist loadfile  # one worker per core; a test file stays on one worker

quick: $(VENV)/.installed  ## everyday subset: no dvc or stage subprocesses, no real training runs
	$(BIN)/pytest -m "not slow and not pipeline"

lint: $(VENV)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# MariaDB and OpenSSH for the database and remote tests (they start their own servers on 127.0.0.1).
system:
	@command -v mariadbd >/dev/null || command -v /usr/sbin/mariadbd >/dev/null || { \
	  echo "installing mariadb-server for the database tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium for the offline plots test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x /usr/sbin/sshd || { \
	  echo "installing openssh-server for the remote tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null; }

# Offline plots: vega, vega-lite and vega-embed from npm (pinned in vega/package-lock.json),
# inlined into vega/page.html, the page template .dvc/config gives `dvc plots show`.
plots-offline: vega/page.html

vega/page.html: vega/package.json vega/package-lock.json vega/page.html.in scripts/offline_plots.py
	$(PY) scripts/offline_plots.py  # from the npm registry, integrity-checked; no npm needed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt  # pinned, and the project itself (-e .)
	touch $@

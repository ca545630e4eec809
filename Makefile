# The two commands a new user needs: `make lab` (set up + open the tour) and `make test` (set up + run the tests).
# Both create or reuse the virtual environment .venv at the repo root; re-running them is cheap.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
LAB_PORT ?= 8888

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup lab test test-fast lint browser clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_tour.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench widgets tests benchmarks

# The browser test drives Debian's chromium (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: lint browser
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# For development: everything but the tests that build and time real programs, tune, or drive a browser.
test-fast: lint
	$(VENV)/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

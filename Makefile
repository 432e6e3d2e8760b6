# Each target does its own set-up: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
# pytest-xdist processes: the suite waits on servers, sockets and timers as much as it computes
TEST_WORKERS ?= 4
# every process the suite starts (xdist workers, servers, CLI runs) reads the bytecode and the rewritten test
# modules that the first one wrote, even where the environment says never to write any
export PYTHONDONTWRITEBYTECODE :=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench mutate clean

$(STAMP): pyproject.toml setup.py sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the service pulls the SDK from ./sdk (setup.py); then the SDK again, editable, for development
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e './sdk[openfeature]'
	touch $(STAMP)

# panva's oidc-provider, a certified OpenID provider the sign-in tests run under Node, from its lock file
IDP := tests/oidc/node_modules/.package-lock.json
$(IDP): tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --silent || echo "npm ci failed: the sign-in tests will skip" >&2

run: $(STAMP)
	$(BIN)/gate db upgrade
	$(BIN)/gate serve --bind 127.0.0.1:8000

test: $(STAMP) $(IDP)
	rm -f .coverage .coverage.*
	COVERAGE_PROCESS_START=$(CURDIR)/pyproject.toml $(BIN)/python -m coverage run -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS); \
	status=$$?; \
	$(BIN)/python -m coverage combine --quiet; \
	$(BIN)/python -m coverage report; cov=$$?; \
	echo "TOTAL coverage of gate and gate_sdk: $$($(BIN)/python -m coverage report --format=total)%"; \
	[ $$status -eq 0 ] && [ $$cov -eq 0 ]

DEV := $(VENV)/.dev-installed
$(DEV): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps -e ./sdk  # '.[dev]' reinstalled the SDK as a copy
	touch $(DEV)

# the unit layers only (domain, SDK, spec vectors, API and dashboard in-process), on SQLite, without the
# fuzzer (tests/fuzz) and the live servers (tests/integration): for the edit loop
test-fast: $(STAMP) $(IDP)
	GATE_TEST_POSTGRES_URL= $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -p no:schemathesis -p no:hypothesispytest \
		tests/domain tests/services tests/ops tests/sdk tests/spec tests/api tests/web tests/cli tests/db -m "not integration" $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check gate sdk tests benchmarks mutation
	$(BIN)/ruff format --check gate sdk tests benchmarks mutation
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# mutation testing of the pure core (mutation/run.py): fails below 85% of mutants killed
mutate: $(DEV)
	$(BIN)/python mutation/run.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) instance .coverage .coverage.* htmlcov .mutate

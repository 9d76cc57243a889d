# chatgpt-api — every command the README, docs/ and CI use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two install stamps: `make run`/`make demo` need the runtime only (a small virtualenv, fast
# first start); `make test`/`make lint`/benchmarks add the development extras on top.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt
ARGS ?=
PYTEST_ARGS ?=
# `make test` runs the suite in this many worker processes (pytest-xdist; 0: in this process).
TEST_WORKERS ?= 3

.PHONY: run demo test lint format venv dev-venv clean bench bench-quick soak docs reliability

venv: $(RUNTIME_STAMP)

dev-venv: $(DEV_STAMP)

$(RUNTIME_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(PIP) -e '.[dev]'
	touch $(DEV_STAMP)

run: $(RUNTIME_STAMP)  ## run the service on 127.0.0.1:3000 (ARGS="--host 0.0.0.0" to widen)
	$(BIN)/chatgpt-api serve $(ARGS)

demo: $(RUNTIME_STAMP)  ## run the service with the built-in emulator as its upstream
	$(BIN)/chatgpt-api serve --demo $(ARGS)

test: $(DEV_STAMP)  ## the whole test suite (TEST_WORKERS=3 processes in parallel)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(DEV_STAMP)  ## ruff (lint + format check), mypy --strict and the import layers (lint-imports)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

bench: $(DEV_STAMP)  ## the full benchmark (< 10 min): bench/results/<date>.json, see docs/performance.md
	$(BIN)/python -m bench full

bench-quick: $(DEV_STAMP)  ## a < 1 min benchmark that fails only on a gross ratio regression (CI)
	$(BIN)/python -m bench quick

RELIABILITY_TESTS = tests/test_faults.py tests/test_faults_load.py tests/test_client_faults.py \
	tests/test_durability.py tests/test_durability_outage.py tests/test_store_outage.py \
	tests/test_shutdown.py tests/test_ssrf_policy.py tests/test_ssrf_service.py \
	tests/test_ssrf_rebinding.py tests/test_keys.py tests/test_secret_leaks.py \
	tests/test_fuzz_api.py tests/test_fuzz_properties.py tests/test_sse.py tests/test_bodies.py \
	tests/test_web_answer.py tests/test_admission_hardening.py tests/test_access_log_fields.py \
	tests/test_answer_limits.py tests/test_refused_inputs.py \
	tests/test_report_reliability.py \
	tests/test_socket_limits.py tests/test_header_size_socket.py \
	tests/test_forwarded_headers.py

reliability: $(DEV_STAMP)  ## run the reliability suites and regenerate docs/reliability.md
	rm -rf test-output/reliability && mkdir -p test-output/reliability
	-$(BIN)/python -m pytest -q -p no:cacheprovider \
		--junitxml=test-output/reliability/junit.xml $(RELIABILITY_TESTS)
	$(BIN)/python -m tests.report_reliability

docs: $(RUNTIME_STAMP)  ## regenerate docs/configuration.md's settings table from the settings model
	$(BIN)/chatgpt-api settings --write docs/configuration.md

soak: $(DEV_STAMP)  ## the long fault runs (1,000+ faulted requests, dropped connections, 2,000 slow connections; records docs/measured/): a few minutes
	CHATGPT_API_SOAK=1 $(BIN)/python -m pytest tests/test_faults_load.py tests/test_client_faults.py \
		tests/test_socket_limits.py $(PYTEST_ARGS)

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .grimp_cache .import_linter_cache

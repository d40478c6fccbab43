# Two commands on a fresh machine (Python 3.11, pip, make): `make demo` and `make test`.
PY ?= python3
UVENV := .cache/uv-tool
UV := $(UVENV)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Demo ports, for a machine where they are taken: `make demo UI_PORT=3001 SFTP_PORT=2322`.
# SFTP_PORT is the first tenant's SFTP server (acme), the next tenant takes the next port;
# SFTP_PORT=0 picks free ports. The ERP sandboxes always take free ports.
UI_PORT ?= 3000
SFTP_PORT ?= 2222

.PHONY: demo demo-once test test-fast lint bench ui clean

$(UV):
	$(PY) -m venv $(UVENV)
	$(UVENV)/bin/pip install --quiet uv==0.13.9

# --compile-bytecode: every Dagster run worker is a fresh process importing the code location;
# with .pyc files that takes about a third of the CPU (python -m bench.import_cost: 3.7 vs 9.4 s).
# --extra celery: the Celery run launcher (deploy/dagster-celery.yaml) stays an optional extra of
# the package, but CI runs its two-worker kill test, so this environment always has it.
$(SYNCED): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode --extra celery --python $(PY)
	touch $(SYNCED)

demo: $(SYNCED)  ## run the product on its embedded sandboxes, with the Dagster UI on :$(UI_PORT)
	$(VENV)/bin/bridge demo --port $(UI_PORT) --sftp-port-base $(SFTP_PORT)

demo-once: $(SYNCED)  ## one headless demo cycle, prints a summary
	$(VENV)/bin/bridge demo --once --sftp-port-base $(SFTP_PORT)

test: $(SYNCED)  ## the whole test suite (what CI runs)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

lint: $(SYNCED)
	$(VENV)/bin/ruff check bridge_pipelines bridge_pipelines_tests bench
	$(VENV)/bin/ruff format --check bridge_pipelines bridge_pipelines_tests bench
	$(VENV)/bin/mypy bridge_pipelines
	$(VENV)/bin/lint-imports

bench: $(SYNCED)  ## every benchmark, printing figures
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) .cache .demo

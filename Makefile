# Steward: `make run` starts the app with demo data; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist): each has its own test database, Celery queue and, in integration tests, worker.
TEST_PROCESSES ?= 2

.PHONY: run test lint install migrate demo worker beat check-deploy bench-ingest bench-master bench-quality harden clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Steward needs Python 3.11 ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --no-input

demo: migrate
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py load_demo

run: demo
	@echo "Steward is starting on http://$(HOST):$(PORT)/ (sign in with one of the demo users above)"
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --durations=25 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# The worker runs the beat too (-B), for development; in production run one `celery -A steward beat` of its own.
worker: install
	$(BIN)/celery -A steward worker -B --loglevel=INFO

beat: install
	$(BIN)/celery -A steward beat --loglevel=INFO

check-deploy: install
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=steward.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py $(ROWS) --format $(or $(FORMAT),csv)

# Steward vs plain dedupe on every shared data set (hours); QUICK=1 for seed 1 at 50 and 100 labels,
# SETS=febrl1,rldata500 and SEEDS=1,2 to narrow it, BENCH_ARGS for anything else benchmarks/quality.py takes.
# Mastering at scale on PostgreSQL with a real worker: N=100000 records (BENCH_ARGS: --concurrency 1, --heavy-tail, --input CSV).
bench-master: install
	$(BIN)/python benchmarks/master_scale.py $(or $(N),100000) $(BENCH_ARGS)

bench-quality: install
	$(BIN)/python benchmarks/quality.py $(if $(QUICK),--quick) $(if $(SETS),--sets $(SETS)) $(if $(SEEDS),--seeds $(SEEDS)) $(BENCH_ARGS)

# Hardening probes (a few minutes): one JSON line of figures, exit 1 if a figure misses its target.
# PARTS=access,schema,browser picks parts (default: all); see benchmarks/harden/run.py.
harden: install
	$(BIN)/python benchmarks/harden/run.py $(if $(PARTS),--parts $(PARTS)) $(HARDEN_ARGS)

clean:
	rm -rf $(VENV) data/steward.sqlite3* data/uploads

# Two set-up commands (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The pinned upstream packages the knowledge bases are built from; the rebuild tests use them and
# skip when they cannot be fetched (offline).
SOURCES ?= /tmp/dl

.PHONY: demo test lint bench clean sources

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pgxguard call examples/demo.vcf --outside-calls examples/demo-outside-calls.tsv --format tsv
	mkdir -p out
	$(VENV)/bin/pgxguard report examples/demo.vcf --outside-calls examples/demo-outside-calls.tsv \
	  --sample PATIENT1 --meds examples/demo-medicines.txt -o out/demo-report.html
	@echo "clinician report: out/demo-report.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

sources: $(STAMP)
	@mkdir -p $(SOURCES)
	@[ -f $(SOURCES)/pypgx-0.27.0-py3-none-any.whl ] || $(PY) -m pip download -q --no-deps \
	  -d $(SOURCES) pypgx==0.27.0 || echo "pypgx wheel not fetched: KB rebuild tests will skip"
	@[ -f $(SOURCES)/drug_named_entity_recognition-2.0.9-py3-none-any.whl ] || $(PY) -m pip \
	  download -q --no-deps -d $(SOURCES) drug-named-entity-recognition==2.0.9 \
	  || echo "drug-named-entity-recognition not fetched: name-list rebuild test skips"

test: $(STAMP) lint sources
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_call.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

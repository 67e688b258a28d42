# Two set-up commands (see README): `make demo` and `make test`. Both create .venv on first use.
# `make test` runs everything CI runs (ruff, mypy, every test); `make check` is the edit loop's
# fast tier (ruff and the tests not marked `slow`); `make golden` rewrites the demo's expected
# outputs (examples/demo.calls.json, examples/demo.review.json) after an intended change.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The pinned upstream packages the knowledge bases are built from; the rebuild tests use them and
# skip when they cannot be fetched (offline).
SOURCES ?= /tmp/dl
ALDY_VERSION := 4.8.3
ALDY_SHA256 := 2612e849b35bc3c11fd0ee5752c8c732ae7d39fe095975d5249ea1666e867acd

.PHONY: demo test check golden lint bench clean sources

# a fictional patient: 943 476 5919 is an NHS test-data number (valid check digit), nobody real
DEMO_PATIENT = --patient-name "DEMO, Patient" --nhs-number 9434765919 --birth-date 1970-01-01

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pgxguard call examples/demo.vcf --outside-calls examples/demo-outside-calls.tsv --format tsv
	mkdir -p out
	$(VENV)/bin/pgxguard report examples/demo.vcf --outside-calls examples/demo-outside-calls.tsv \
	  --sample PATIENT1 --meds examples/demo-medicines.txt $(DEMO_PATIENT) -o out/demo-report.html
	$(VENV)/bin/pgxguard report examples/demo.vcf --outside-calls examples/demo-outside-calls.tsv \
	  --sample PATIENT1 --meds examples/demo-medicines.txt $(DEMO_PATIENT) --format patient \
	  -o out/demo-patient.html
	@echo "clinician report: out/demo-report.html; patient summary: out/demo-patient.html"

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
	@# Aldy's sdist carries Aldy's expected output for its test BAM (the outside-call fixture).
	@# pip builds an sdist's metadata to download it; Aldy's needs Cython and pysam, so a
	@# throwaway venv does the download. The file is checked against its pinned SHA-256.
	@[ -f $(SOURCES)/aldy-$(ALDY_VERSION).tar.gz ] || { $(PYTHON) -m venv $(SOURCES)/.sdist-venv \
	  && $(SOURCES)/.sdist-venv/bin/pip install -q cython setuptools wheel pysam \
	  && $(SOURCES)/.sdist-venv/bin/pip download -q --no-deps --no-binary :all: \
	     --no-build-isolation -d $(SOURCES) aldy==$(ALDY_VERSION); \
	  rm -rf $(SOURCES)/.sdist-venv; } || echo "aldy sdist not fetched: its fixture tests skip"
	@[ ! -f $(SOURCES)/aldy-$(ALDY_VERSION).tar.gz ] || (cd $(SOURCES) && echo \
	  "$(ALDY_SHA256)  aldy-$(ALDY_VERSION).tar.gz" | sha256sum -c --quiet) \
	  || { rm -f $(SOURCES)/aldy-$(ALDY_VERSION).tar.gz; echo "aldy sdist: SHA-256 mismatch, removed"; }

test: $(STAMP) lint sources
	PGXGUARD_SOURCES=$(SOURCES) $(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	PGXGUARD_SOURCES=$(SOURCES) $(PY) -m pytest -q -m "not slow"

golden: $(STAMP)
	$(PY) tests/golden.py --write

bench: $(STAMP)
	$(PY) bench/bench_call.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two set-up commands (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

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

test: $(STAMP) lint
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_call.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

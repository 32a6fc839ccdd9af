# Every target creates .venv and installs the project into it first: a bare machine needs only python3 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test test-compat lint docs demo bench clean

# make test-compat: one venv per older Airflow (kept in .venv-compat/ and rebuilt when its requirements
# file or pyproject.toml changes) running the compact suite below. The newest Airflow is `make test`'s.
COMPAT_AIRFLOWS ?= 2.11 3.0 3.1 3.2
COMPAT_DIR := .venv-compat
COMPAT_SUITE = $(wildcard tests/compat tests/integration tests/hooks tests/sensors tests/triggers tests/operators \
	tests/test_get_provider_info.py tests/test_example_dags.py tests/api/test_connection.py)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,docs]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

$(COMPAT_DIR)/airflow-%/.installed-stamp: tests/compat/requirements/airflow-%.txt pyproject.toml
	test -x $(COMPAT_DIR)/airflow-$*/bin/python || $(PYTHON) -m venv $(COMPAT_DIR)/airflow-$*
	$(COMPAT_DIR)/airflow-$*/bin/python -m pip install --quiet --disable-pip-version-check -r $< -e '.[test]'
	touch $@

test-compat: $(foreach v,$(COMPAT_AIRFLOWS),$(COMPAT_DIR)/airflow-$(v)/.installed-stamp)
	@failed=""; for v in $(COMPAT_AIRFLOWS); do \
		start=$$(date +%s); \
		echo "== Airflow $$($(COMPAT_DIR)/airflow-$$v/bin/python -c 'import airflow; print(airflow.__version__)')"; \
		$(COMPAT_DIR)/airflow-$$v/bin/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
			$(COMPAT_SUITE) || failed="$$failed $$v"; \
		echo "== Airflow $$v: compact suite in $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-compat FAILED on Airflow$$failed"; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_conversations tests example_dags benchmarks
	$(BIN)/ruff format --check airflow_provider_conversations tests example_dags benchmarks
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

demo: $(STAMP)
	$(BIN)/python demo/run.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/change_sync_cost.py
	$(BIN)/python benchmarks/transcripts_cost.py --paced --out .bench/transcripts_cost.json
	$(BIN)/python benchmarks/iceberg_bench.py

clean:
	rm -rf $(VENV) $(COMPAT_DIR) docs/_build .demo .bench

# The README's two commands. Each creates .venv when missing, installs the project, then runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

.PHONY: demo test test-fast check-java check-chromium check-pg-clients lint clean bench bench-quick bench-onnx \
	bench-incremental bench-warm bench-paper bench-cost-error

demo: check-java $(STAMP)
	$(BIN)/python examples/demo_data.py build/demo
	$(BIN)/vista-sql -f examples/demo.sql

# Two pytest processes, a file each at a time (a file's module fixtures stay in one process):
# two keep both cores busy, and a third's JVM and Python workers no longer fit in memory. Files
# go out longest first, in the order tests/conftest.py gives them.
test: check-java check-chromium check-pg-clients $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# The tier to run while editing: parser, grammar, binder-free optimizer fixtures, layering,
# DB-API parameters; no JVM and no TensorFlow model (tests/conftest.py refuses both here).
test-fast: $(STAMP)
	VISTA_SQL_TEST_TIER=fast $(BIN)/python -m pytest -p no:xdist -q -m "not spark and not cnn"

lint: $(STAMP)
	$(BIN)/ruff check vista_sql tests examples
	$(BIN)/lint-imports

check-java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "vista_sql needs Java 17 or newer (found: $${v:-none}): install it, e.g. 'sudo apt-get install openjdk-17-jre-headless', and put java on PATH"; \
	  exit 1; \
	fi

# The console tests drive Debian's Chromium through its chromedriver (no browser downloads).
check-chromium:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "the console tests need Debian's chromium and chromium-driver, and installing them needs root: run 'sudo apt-get install chromium chromium-driver', then make test again"; \
	  exit 1; \
	fi; \
	echo "installing Debian's chromium and chromium-driver for the console tests"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

# The PostgreSQL endpoint's tests drive Debian's psql and its JDBC driver (what DBeaver and
# Metabase load), as BI users would.
PG_JDBC := /usr/share/java/postgresql.jar
check-pg-clients:
	@if command -v psql >/dev/null 2>&1 && [ -f $(PG_JDBC) ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "the PostgreSQL endpoint tests need Debian's psql and pgjdbc, and installing them needs root: run 'sudo apt-get install postgresql-client libpostgresql-jdbc-java', then make test again"; \
	  exit 1; \
	fi; \
	echo "installing Debian's postgresql-client and libpostgresql-jdbc-java for the PostgreSQL endpoint tests"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client libpostgresql-jdbc-java

# uv resolves the same versions as pip and installs them in 35 s instead of pip's 72 s on a clean
# clone (downloads in parallel). Bytecode is compiled at install, as pip does: where
# PYTHONDONTWRITEBYTECODE is set (CI), no import writes it, and every process that imports
# TensorFlow would compile it again (10.1 s against 4.2 s for TensorFlow, Keras and pyspark.sql).
# First from uv's cache alone (--offline), then from the index for what the cache lacks (a fresh
# machine). Online, this registry's answers are never fresh: uv downloaded pyspark's 400 MB source
# again and built it again at every install (12.5 s, and 1.3 GB more in the cache each time, which
# filled this machine's disk); offline the install took 11.7 s instead of 27.4 s, same versions.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.13,<0.14'
	$(INSTALL) --offline -e '.[dev]' 2>/dev/null || $(INSTALL) -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf build spark-warehouse metastore_db derby.log

# Benchmark (bench/RESULTS.md): vista_sql vs peers and the limit; not part of make test.
bench: check-java $(STAMP)
	$(INSTALL) -r bench/requirements.txt
	$(BIN)/python -m bench.run full --fresh --profile

bench-quick: check-java $(STAMP)
	$(INSTALL) -r bench/requirements.txt
	$(BIN)/python -m bench.run quick --fresh --profile

# ONNX Runtime vs TensorFlow on the same ResNet50 (bench/onnx_compare.py); no --profile: py-spy's
# sampling would load the two shared cores unevenly across the two runs being compared.
bench-onnx: check-java $(STAMP)
	$(INSTALL) -r bench/requirements.txt
	$(BIN)/python -m bench.run onnx --fresh

# A feature table refreshed after +1 %, +10 %, +50 % new images vs from scratch (bench/incremental.py).
bench-incremental: check-java $(STAMP)
	$(INSTALL) -r bench/requirements.txt
	$(BIN)/python -m bench.incremental

# One session's TRANSFER, then new layers of the same CNN, then another learner on recorded
# layers, against the single-machine script (bench/warm.py).
bench-warm: check-java $(STAMP)
	$(INSTALL) -r bench/requirements.txt
	$(BIN)/python -m bench.warm

# Vista's published setups planned EXPLAIN-only at the paper's scale (bench/paper_scale.py): no
# data, no Spark, no Java; the CNNs are built on the CPU only for their layer shapes and FLOPs.
bench-paper: $(STAMP)
	$(BIN)/python -m bench.paper_scale

# The cost model's estimates beside the measured CNN stages of the runs already recorded in
# bench/results/{quick,full}.json (bench/cost_error.py): reads JSON only, no Spark, no Java.
bench-cost-error: $(STAMP)
	$(BIN)/python -m bench.cost_error

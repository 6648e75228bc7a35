# Two entry points for a fresh machine: `make demo` and `make test`.
# Without an active virtual environment everything goes into .venv; the torch
# pin lives in constraints.txt only (a CPU wheel; an unpinned torch pulls CUDA).

SHELL := /bin/bash
ifdef VIRTUAL_ENV
PYTHON := $(VIRTUAL_ENV)/bin/python
STAMP := $(VIRTUAL_ENV)/.scgppl-installed
else
PYTHON := .venv/bin/python
STAMP := .venv/.scgppl-installed
endif
PIP := $(PYTHON) -m pip
NUMPYRO_VENV ?= .bench-venvs/numpyro
NUMPYRO_PYTHON := $(NUMPYRO_VENV)/bin/python
EXTRAS ?= test,examples

.PHONY: setup demo test lint bench format docs

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x "$(PYTHON)" ]; then python3 -m venv .venv; fi
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: setup
	MPLBACKEND=Agg $(PYTHON) examples/eight_schools.py

test: setup
	$(PYTHON) -m pytest -n 2 -q

lint: setup
	$(PYTHON) -m ruff check --no-cache .
	$(PYTHON) -m ruff format --no-cache --check .
	$(PYTHON) -m mypy  # the typed-modules ratchet: files listed in pyproject.toml [tool.mypy]

format: setup
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

# The docs site into docs/_build/html: nitpicky (-n), every warning an error, and a
# fresh environment (-E) so that no warning hides in a page cached by an earlier build.
DOCS_STAMP := $(STAMP)-docs

$(DOCS_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[docs]"
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PYTHON) -m sphinx -E -W --keep-going -n -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

bench: setup
	$(PIP) install -q -c constraints.txt -e ".[bench]" || echo "pyro-ppl not installable: benchmarking without Pyro"
	# NumPyro, a peer in its own interpreter (jax): the section is skipped when it does not install.
	@[ -x $(NUMPYRO_PYTHON) ] || python3 -m venv $(NUMPYRO_VENV) || rm -rf $(NUMPYRO_VENV)
	@$(NUMPYRO_PYTHON) -c "import numpyro" 2>/dev/null || $(NUMPYRO_VENV)/bin/pip install -q jax jaxlib numpyro \
		|| echo "jax/numpyro not installable: benchmarking without NumPyro"
	# glibc hands blocks over 128 KiB straight back to the OS, so every fresh 1e6-element
	# tensor page-faults anew; on sandboxed machines that fault cost swamps the
	# arithmetic being compared. Keeping such blocks in the heap (for every peer alike)
	# makes the large-input ratios measure the arithmetic.
	MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=268435456 NUMPYRO_PYTHON=$(NUMPYRO_PYTHON) \
	MPLBACKEND=Agg OMP_NUM_THREADS=1 $(PYTHON) -m benchmarks

# A long randomized run of the distribution fuzzer (the suite runs a short,
# derandomized budget of the same properties).
.PHONY: fuzz
fuzz: setup
	DIST_FUZZ=1 $(PYTHON) -m pytest tests/distributions/test_fuzz.py -q -p no:cacheprovider

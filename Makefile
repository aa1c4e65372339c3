# Two commands for a new user: `make run` and `make test`.
#
# The virtual environment gets torch first, so that the project's own
# "torch>=2.13" requirement is already met and pip never fetches a
# multi-gigabyte CUDA build by itself.  For a GPU build, choose it here:
#   make run TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu128
# (any torch >= 2.13 with CUDA works; see README "GPU").

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin

.PHONY: run test screenshots benchmark clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/specgan-gui --example coffee

test: $(BIN)/.installed
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

screenshots: $(BIN)/.installed
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py

# Prints every figure of docs/performance.md; takes about 30 minutes on 2 cores.
benchmark: $(BIN)/.installed
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The README's two commands: `make demo` and `make test`. Both set up everything from scratch.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU torch goes in first where there is no CUDA, so nothing pulls a multi-GB CUDA build.
# Override on a CUDA machine, e.g. `make test TORCH_INSTALL=torch`.
TORCH_INSTALL ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_INSTALL)
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m diffcoder demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m diffcoder bench all --out docs

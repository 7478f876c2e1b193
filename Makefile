# The README's two commands: `make demo` and `make test`. Both set up everything from scratch.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU torch goes in first where there is no CUDA, so nothing pulls a multi-GB CUDA build.
# Override on a CUDA machine, e.g. `make test TORCH_INSTALL=torch`.
TORCH_INSTALL ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench vsix test-vscode test-e2e-vscode train-tiny

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_INSTALL)
	$(PY) -m pip install -e '.[dev,eval]'
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

test: lint test-vscode
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m diffcoder bench all --out docs

# The VS Code extension (extensions/vscode): npm packages pinned by its package-lock.json.
VSCODE := extensions/vscode
NPM_STAMP := $(VSCODE)/node_modules/.installed
# code-server for the e2e test lives outside the repository (about 300 MB).
E2E_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/diffcoder-e2e

$(NPM_STAMP): $(VSCODE)/package.json $(VSCODE)/package-lock.json
	cd $(VSCODE) && JOBS=2 npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

vsix: $(NPM_STAMP)
	cd $(VSCODE) && npm run -s package

# tsc (strict), unit tests with a fake `vscode`, the client protocol against the real server.
test-vscode: $(STAMP) $(NPM_STAMP)
	cd $(VSCODE) && npx tsc -p . && npm run -s test:unit
	cd $(VSCODE) && DIFFCODER_PYTHON=$(abspath $(PY)) npm run -s test:protocol

# A real VS Code (code-server 4.100.3) in headless Chromium; needs apt's chromium and ripgrep.
test-e2e-vscode: $(STAMP) vsix
	cd $(VSCODE) && npx tsc -p .
	CODE_SERVER=$$($(VSCODE)/scripts/install-code-server.sh $(E2E_CACHE)/code-server) && \
	cd $(VSCODE) && DIFFCODER_PYTHON=$(abspath $(PY)) node --require ./out/test/unit/register_fake_vscode.js \
		out/test/e2e/run.js --code-server "$$CODE_SERVER" --vsix "$$(ls -t diffcoder-*.vsix | head -n 1)"

# The embedded demo model (docs/demo-model.md) from scratch, as it was trained: pre-training cut
# short after 1200 of 2400 scheduled steps, then an edit- and infill-heavy second stage. CI never
# runs this; it rewrites diffcoder/model/demo_checkpoint (measured: 61 + 32 min on 2 cores).
DEMO_BUILD := build/demo-model
train-tiny: $(STAMP)
	$(PY) -m diffcoder train --out $(DEMO_BUILD)/stage1 --untrained-out $(DEMO_BUILD)/untrained \
		--steps 2400 --stop-after 1200
	$(PY) -m diffcoder train --out diffcoder/model/demo_checkpoint --init-from $(DEMO_BUILD)/stage1 \
		--steps 900 --learning-rate 1e-3 --lr-warmup-steps 20 --mask-warmup-steps 0 \
		--fim-share 0.35 --edit-share 0.55 --seed 1

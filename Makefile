# roboloop: `make demo` runs the main job, `make test` the test suite. Both set up everything first
# (Debian packages for headless rendering and open3d, a .venv with the project) and are quick when
# it is already there.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_PACKAGES := libosmesa6 libgl1 libegl1 libusb-1.0-0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# pip's configured local indexes print one harmless warning per package; keep the output readable.
PIP_FILTER := grep -v "is ignored: it is neither a file nor a directory" || true
DEMO := runs/demo

.PHONY: help setup deps demo test test-slow lint bench experiments compare-deps clean

help:
	@echo "make demo        collect 100 PushCube demos, train BC, evaluate 50 held-out episodes, write videos"
	@echo "make test        lint + the test suite (slow tests excluded)"
	@echo "make test-slow   only the slow tests (100-episode expert check, longer training)"
	@echo "make bench       env speed (~3 min) and RL training speed (~40 s) -> benchmarks/results/"
	@echo "make experiments BC learning curve over seeds -> docs/results/"
	@echo "make compare-deps the imitation library, for the DAgger comparison in scripts/experiments/covariate_shift.py"

setup: deps $(STAMP)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@echo "installing roboloop into $(VENV) (about a minute the first time)"
	@$(PY) -m pip install -q torch==2.13.0 2>&1 | $(PIP_FILTER)
	@$(PY) -m pip install -q -e ".[dev]" 2>&1 | $(PIP_FILTER)
	@$(PY) -c "import torch, mujoco, pybullet, open3d, gymnasium, hydra" 
	@touch $(STAMP)

demo: setup
	@rm -rf $(DEMO)
	$(PY) scripts/collect_demos.py episodes=100 hydra.run.dir=$(DEMO)/collect
	$(PY) scripts/train.py dataset=$(DEMO)/collect/dataset eval.episodes=50 hydra.run.dir=$(DEMO)/train

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n auto  # one worker per core (pytest-xdist); tests run torch single-threaded

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m benchmarks
	$(PY) -m benchmarks.rl_speed

experiments: setup
	$(PY) scripts/experiments/bc_push_cube.py

# The optional extra `compare` (pyproject.toml): imitation itself with --no-deps (its own pins would
# replace gymnasium and stable-baselines3), the rest constrained to what is installed. The check
# after it fails if they were replaced anyway.
COMPARE := $(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['compare']))"
compare-deps: setup
	@set -- $$($(COMPARE)); $(PY) -m pip install -q --no-deps "$$1" 2>&1 | $(PIP_FILTER); shift; \
	  $(PY) -m pip freeze | grep -iE '^(gymnasium|stable.baselines3|torch|numpy|huggingface.hub)==' > $(VENV)/compare-constraints.txt; \
	  $(PY) -m pip install -q -c $(VENV)/compare-constraints.txt "$$@" 2>&1 | $(PIP_FILTER)
	@$(PY) -c "import gymnasium, stable_baselines3, torch; from packaging.version import Version as V; \
	  ok = V(gymnasium.__version__) >= V('1.0') and V(stable_baselines3.__version__) >= V('2.3'); \
	  assert ok, f'gymnasium {gymnasium.__version__} / SB3 {stable_baselines3.__version__} were replaced'; \
	  import imitation.algorithms.dagger, imitation.algorithms.bc; \
	  print('imitation', imitation.__version__, 'beside gymnasium', gymnasium.__version__, \
	        'stable-baselines3', stable_baselines3.__version__, 'torch', torch.__version__)"

clean:
	rm -rf runs outputs .pytest_cache .ruff_cache

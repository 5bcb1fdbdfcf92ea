# The commands the README gives. Each builds .venv first when setup.cfg changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= demo

.PHONY: demo test bench reliability clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The main job on the embedded default: synthetic chips -> records -> imbalance table -> FCN-FL.
demo: $(BIN)/.installed
	$(BIN)/lim-tf data synth $(DEMO)/synthetic --overwrite
	$(BIN)/lim-tf data build $(DEMO)/synthetic/bijie $(DEMO)/records --chip-size 128 --overwrite
	$(BIN)/lim-tf data stats $(DEMO)/records
	rm -rf $(DEMO)/run
	$(BIN)/lim-tf train $(DEMO)/records $(DEMO)/run --preset fcn-fl --width 0.25 --epochs 25 --learning-rate 3e-4
	$(BIN)/lim-tf eval $(DEMO)/run --threshold optimal --overwrite
	$(BIN)/lim-tf map $(DEMO)/synthetic/scene/scene.tif $(DEMO)/run $(DEMO)/map --min-area 50 \
		--check $(DEMO)/synthetic/scene/inventory.gpkg --overwrite
	@echo "Demo outputs in $(DEMO)/: synthetic/ (chips, GeoTIFF scene), records/, run/ (models, logs, eval-test/), map/"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_input.py
	$(BIN)/python benchmarks/bench_train.py

# Kills at random moments, out-of-space writes and fuzzed inputs against every command (about an hour).
reliability: $(BIN)/.installed
	$(BIN)/python -m reliability

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info

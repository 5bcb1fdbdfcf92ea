# The commands the README gives. Each builds .venv first when setup.cfg changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= demo

.PHONY: demo test bench reliability clean

$(BIN)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The main job on the embedded default: synthetic chips (0.8 m) -> records -> imbalance table ->
# FCN-FL trained on whole chips at their ground resolution -> evaluation -> a mapped scene.
demo: $(BIN)/.installed
	$(BIN)/lim-tf data synth $(DEMO)/synthetic --overwrite
	$(BIN)/lim-tf data build $(DEMO)/synthetic/bijie $(DEMO)/records --overwrite
	$(BIN)/lim-tf data stats $(DEMO)/records
	rm -rf $(DEMO)/run
	$(BIN)/lim-tf train $(DEMO)/records $(DEMO)/run --preset fcn-fl --width 0.25 --encoder-bn --tile 128 \
		--batch-size 16 --epochs 15 --learning-rate 1e-3
	$(BIN)/lim-tf eval $(DEMO)/run --threshold optimal --overwrite
	$(BIN)/lim-tf map $(DEMO)/synthetic/scene/scene.tif $(DEMO)/run $(DEMO)/map --min-area 50 \
		--check $(DEMO)/synthetic/scene/inventory.gpkg --overwrite
	@echo "Demo outputs in $(DEMO)/: synthetic/ (chips, GeoTIFF scene), records/, run/ (models, logs, eval-test/), map/"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_input.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_fit.py
	$(BIN)/python benchmarks/bench_cluster.py

# Kills at random moments, out-of-space writes and fuzzed inputs against every command (about an hour).
reliability: $(BIN)/.installed
	$(BIN)/python -m reliability

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info

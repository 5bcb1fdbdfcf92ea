# The commands the README gives. Each builds .venv first when setup.cfg changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= demo

.PHONY: demo test bench reliability clean qgis-screenshot wheel-check docs typecheck

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

# Two pytest workers (pytest-xdist); --dist loadfile keeps a module's tests on one worker, so its
# fixtures are made once. TEST_WORKERS=0 runs in this process (for a debugger).
TEST_WORKERS ?= 2
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The documentation site (docs/ and the generated CLI and API reference), warnings as errors.
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

typecheck: $(BIN)/.installed
	$(BIN)/mypy lim_tf cli

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_input.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_fit.py
	$(BIN)/python benchmarks/bench_cluster.py

# Kills at random moments, out-of-space writes and fuzzed inputs against every command (about an hour).
reliability: $(BIN)/.installed
	$(BIN)/python -m reliability

# The README's QGIS picture: the demo scene mapped with the shipped model, opened and rendered by QGIS
# itself with lim-tf's styles (needs: apt-get install qgis python3-qgis).
# Run it whenever the shipped model or the styles change: tests/test_styles.py fails on a stale picture.
qgis-screenshot: $(BIN)/.installed
	$(BIN)/lim-tf -q data synth $(DEMO)/synthetic --overwrite
	$(BIN)/lim-tf -q map $(DEMO)/synthetic/scene/scene.tif bijie $(DEMO)/map-bijie --min-area 50 --overwrite
	QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=$$(mktemp -d) /usr/bin/python3 lim_tf/mapping/qgis_snapshot.py \
		$(DEMO)/map-bijie docs/qgis-demo-map.jpg --order project --size 800
	$(BIN)/python -c "import json; from lim_tf.mapping.styles import picture_stamp; \
		print(json.dumps(picture_stamp('bijie'), indent=2))" > docs/qgis-demo-map.json

# The package as users install it: a wheel in a fresh environment, run from outside the checkout.
wheel-check: $(BIN)/.installed
	bash .ci/wheel-check

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info

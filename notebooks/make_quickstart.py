"""Writes quickstart.ipynb from the cells below (edit here, then run: python notebooks/make_quickstart.py)."""

from pathlib import Path

import nbformat

CELLS = [
    ("md", """# lim-tf quick start

From generated landslide chips to a georeferenced landslide inventory, with the public `lim_tf` API:
generate data, look at it, build records and their imbalance table, train a small FCN-FL, evaluate it,
map a scene and export the model for TF Serving. At these tiny sizes it runs in a few minutes on a CPU;
the command line (`lim-tf data|train|eval|map|export`) does the same steps."""),
    ("code", """import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

WORK = Path(os.environ.get("LIM_TF_NOTEBOOK_DIR", "quickstart-output")).resolve()
EPOCHS = int(os.environ.get("LIM_TF_NOTEBOOK_EPOCHS", "6"))  # the test suite checks the plumbing with 1
WORK.mkdir(parents=True, exist_ok=True)
print("working in", WORK)"""),
    ("md", "## 1. Data: the embedded synthetic dataset (Bijie layout plus a GeoTIFF scene)"),
    ("code", """from lim_tf.data.synth import SynthConfig, write_synthetic

synthetic = write_synthetic(WORK / "synthetic", SynthConfig(landslide_chips=30, non_landslide_chips=40,
                                                            scene_size=384, scene_landslides=4, seed=1),
                            overwrite=True)
chips = sorted((synthetic / "bijie/landslide/image").glob("*.png"))[:4]
figure, axes = plt.subplots(2, 4, figsize=(12, 6))
for column, path in enumerate(chips):
    axes[0, column].imshow(Image.open(path))
    axes[1, column].imshow(Image.open(synthetic / "bijie/landslide/mask" / path.name), cmap="gray")
    axes[0, column].set_title(path.stem)
for axis in axes.flat:
    axis.axis("off")
plt.show()"""),
    ("md", "## 2. Records and the imbalance table (the paper's Table 2)"),
    ("code", """from lim_tf.config import DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.manifest import imbalance_table

# Chips stay whole at their 0.8 m pixels; the test split holds both kinds in the dataset's ratio.
records = WORK / "records"
manifest = build_dataset(synthetic / "bijie", records, DataConfig(split=SplitConfig(test_landslide=5, folds=3)),
                         overwrite=True, progress=False)
print(imbalance_table(manifest))"""),
    ("md", "## 3. Train a small FCN-FL (focal loss, alpha 0.25 on background as the paper reads it, gamma 1.75)"),
    ("code", """import shutil

from lim_tf.config import resolve_train_config
from lim_tf.training.train import train

run = WORK / "run"
shutil.rmtree(run, ignore_errors=True)
config = resolve_train_config("fcn-fl", overrides={"width": 0.125, "epochs": EPOCHS, "batch_size": 8, "tile": 64,
                                                   "learning_rate": 3e-4, "log_images": 2})
state = train(records, run, config, progress=False)
print(json.dumps(state.to_json()["folds"], indent=1))
print("TensorBoard: tensorboard --logdir", run / "logs")"""),
    ("md", "## 4. Evaluate on the held-out test chips (threshold chosen on validation data)"),
    ("code", """from lim_tf.evaluate import EvalRequest, evaluate_run

metrics = evaluate_run(run, run / "eval-test", EvalRequest(threshold="optimal", figures=3), overwrite=True, progress=False)
print({k: round(metrics[k], 4) for k in ("accuracy", "precision", "recall", "f1", "miou")})
figures = sorted((run / "eval-test/figures").glob("*.png"))
figure, axes = plt.subplots(len(figures), 1, figsize=(8, 4 * len(figures)))
for axis, path in zip(np.atleast_1d(axes), figures):
    axis.imshow(Image.open(path))
    axis.set_title(path.stem + ": TP green, FP red, FN blue")
    axis.axis("off")
plt.show()"""),
    ("md", "## 5. Map the georeferenced scene into an inventory"),
    ("code", """from lim_tf.mapping.config import MapConfig, PolygonOptions
from lim_tf.mapping.scene_map import map_scene

summary = map_scene(synthetic / "scene/scene.tif", run, WORK / "map",
                    MapConfig(polygons=PolygonOptions(min_area=20),
                              inventory=str(synthetic / "scene/inventory.gpkg")),
                    overwrite=True, progress=False)
print(json.dumps(summary.to_json(), indent=1))
plt.figure(figsize=(7, 7))
plt.imshow(Image.open(WORK / "map/quicklook.png"))
plt.axis("off")
plt.show()"""),
    ("md", """## 6. The analyst's loop: review the map, turn the review into labels, adapt the model

In QGIS an analyst opens `map/inventory.gpkg` (styled on open), sets `review` to `confirmed` on real
landslides and `rejected` on false alarms, and draws missed landslides with `confirmed`. Here the
scene's known truth plays the analyst. `data build --review` makes records in which confirmed and
drawn polygons are landslide, rejected ones background (hard negatives) and unreviewed ground is
ignored; `train --init-from` starts from the model that made the map."""),
    ("code", """import pyogrio.raw
import shapely

meta, _, geometry, _ = pyogrio.raw.read(WORK / "map/inventory.gpkg", layer="inventory")
mapped = list(shapely.from_wkb(geometry))
truth = list(shapely.from_wkb(pyogrio.raw.read(synthetic / "scene/inventory.gpkg")[2]))
reviews = ["confirmed" if any(p.intersects(t) for t in truth) else "rejected" for p in mapped]
missed = [t for t in truth if not any(t.intersects(p) for p in mapped)]
polygons, reviews = mapped + missed, reviews + ["confirmed"] * len(missed)
pyogrio.raw.write(WORK / "edited.gpkg", shapely.to_wkb(polygons),
                  [np.arange(1, len(polygons) + 1), np.array(reviews, dtype=object)], ["id", "review"],
                  driver="GPKG", geometry_type="Polygon", crs=meta["crs"])
print({r: reviews.count(r) for r in ("confirmed", "rejected")}, "of which drawn:", len(missed))

from lim_tf.config import ChipConfig, SourceConfig

reviewed = WORK / "reviewed"
build_dataset(synthetic / "scene/scene.tif", reviewed,
              DataConfig(source=SourceConfig(format="geotiff", labels=str(WORK / "edited.gpkg"), review=True),
                         chip=ChipConfig(mode="grid", size=128), split=SplitConfig(test_landslide=0, folds=2)),
              overwrite=True, progress=False)
shutil.rmtree(WORK / "adapted", ignore_errors=True)
adapted = train(reviewed, WORK / "adapted",
                resolve_train_config("fcn-fl", overrides={"init_from": str(run), "epochs": min(EPOCHS, 2), "batch_size": 4,
                                                          "tile": 64, "freeze_encoder_epochs": 1, "log_images": 0}),
                progress=False)
print("adapted from", adapted.init_from, "->", adapted.models)"""),
    ("md", "## 7. Export for TF Serving"),
    ("code", """from lim_tf.export.savedmodel import export_run

shutil.rmtree(WORK / "serving", ignore_errors=True)
exported = export_run(run, WORK / "serving", name="landslides")
print(exported["path"], "signatures:", list(exported["signatures"]),
      "reload check:", exported["max_abs_difference"])"""),
]


def main() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
                      for kind, text in CELLS]
    nbformat.write(notebook, Path(__file__).with_name("quickstart.ipynb"))


if __name__ == "__main__":
    main()

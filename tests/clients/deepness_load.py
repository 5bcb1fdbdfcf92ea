"""Load an ONNX file the way an analyst's click in QGIS does, with the Deepness plugin's own code
(run in QGIS's Python, headless, with PYTHONPATH at Deepness's src/): the dock widget loads the model
and fills its parameters from the metadata, then its Segmentor predicts one tile of given pixels.

Run: python3 deepness_load.py MODEL.onnx TILE.npy   (TILE: uint8 [N, N, bands])
Prints one JSON object: the widget's fields, its error if any, and the prediction's path (.npy).
"""

import json
import os
import sys
from pathlib import Path

os.environ["IS_DEBUG"] = "1"  # Deepness raises instead of opening a message box (which blocks offscreen)


def main() -> None:
    import numpy as np
    from qgis.core import QgsApplication

    model, tile = sys.argv[1], Path(sys.argv[2])
    app = QgsApplication([], False)
    app.initQgis()
    from deepness.deepness_dockwidget import DeepnessDockWidget

    widget = DeepnessDockWidget(iface=None)
    widget.lineEdit_modelPath.setText(model)
    report = {}
    try:
        widget._load_model_and_display_info()  # what choosing the file does
        widget._load_default_model_parameters()  # the "load default parameters" button
    except Exception as error:  # noqa: BLE001 - reported, as the plugin's dialog would show it
        report["error"] = f"{type(error).__name__}: {error}"
    report.update(info=widget.label_modelInfo.text(), tile_size=widget.spinBox_tileSize_px.value(),
                  batch_size_enabled=widget.spinBox_batchSize.isEnabled(),
                  resolution_cm=widget.doubleSpinBox_resolution_cm_px.value(),
                  overlap_percent=widget.spinBox_processingTileOverlapPercentage.value(),
                  threshold=widget.doubleSpinBox_probabilityThreshold.value(),
                  threshold_enabled=widget.checkBox_pixelClassEnableThreshold.isChecked(),
                  model_type=widget.comboBox_modelType.currentText())
    if widget._model is not None and "error" not in report:
        prediction = widget._model.process(np.load(tile)[None])  # Deepness's own preprocessing and run
        target = tile.with_name(tile.stem + "-deepness.npy")
        np.save(target, np.asarray(prediction, dtype=np.float32))
        report["prediction"] = str(target)
    print(json.dumps(report))
    app.exitQgis()


if __name__ == "__main__":
    main()

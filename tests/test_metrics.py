import math
from pathlib import Path

import numpy as np
import pytest

from lim_tf.metrics import Confusion, LandslideScore, ThresholdSweep, count_objects, points_inside


def test_scores_from_a_hand_computed_confusion_matrix():
    truth = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    predicted = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    confusion = Confusion.from_masks(truth, predicted)
    assert confusion == Confusion(tp=3, fp=1, fn=2, tn=4)
    scores = confusion.scores()
    assert scores["accuracy"] == 0.7 and scores["precision"] == 0.75 and scores["recall"] == 0.6
    assert math.isclose(scores["f1"], 2 * 0.75 * 0.6 / (0.75 + 0.6))
    assert scores["iou_landslide"] == 3 / 6 and scores["iou_background"] == 4 / 7
    assert math.isclose(scores["miou"], (3 / 6 + 4 / 7) / 2)


@pytest.mark.parametrize("confusion, expected", [
    (Confusion(tn=10), {"precision": 1, "recall": 1, "f1": 1, "iou_landslide": 1, "miou": 1, "accuracy": 1}),
    (Confusion(fn=3, tn=7), {"precision": 0, "recall": 0, "f1": 0, "iou_landslide": 0, "accuracy": 0.7}),
    (Confusion(fp=2, tn=8), {"precision": 0, "recall": 0, "f1": 0, "iou_landslide": 0, "iou_background": 0.8}),
    (Confusion(tp=5), {"precision": 1, "recall": 1, "f1": 1, "iou_landslide": 1, "iou_background": 1}),
    (Confusion(), {"accuracy": 1, "miou": 1}),
])
def test_degenerate_cases_are_defined(confusion, expected):
    scores = confusion.scores()
    assert not any(math.isnan(v) for v in scores.values())
    for key, value in expected.items():
        assert scores[key] == value, key


def test_counts_sum_across_batches_like_a_single_pass():
    rng = np.random.default_rng(0)
    truth = rng.random((6, 16, 16)) > 0.8
    predicted = rng.random((6, 16, 16)) > 0.7
    valid = rng.random((6, 16, 16)) > 0.1
    parts = sum((Confusion.from_masks(truth[i:i + 2], predicted[i:i + 2], valid[i:i + 2]) for i in (0, 2, 4)),
                Confusion())
    assert parts == Confusion.from_masks(truth, predicted, valid)


def test_streaming_keras_metric_matches_the_confusion_matrix():
    rng = np.random.default_rng(1)
    truth = (rng.random((4, 8, 8, 1)) > 0.7).astype(np.float32)
    probability = rng.random((4, 8, 8, 1)).astype(np.float32)
    weight = (rng.random((4, 8, 8)) > 0.2).astype(np.float32)
    expected = Confusion.from_masks(truth[..., 0] > 0.5, probability[..., 0] >= 0.5, weight > 0).scores()
    for score in ("f1", "precision", "recall", "iou"):
        metric = LandslideScore(score)
        for i in range(0, 4, 2):
            metric.update_state(truth[i:i + 2], probability[i:i + 2], weight[i:i + 2])
        assert math.isclose(float(metric.result()), expected["iou_landslide" if score == "iou" else score],
                            rel_tol=1e-6)


def square(canvas, row, col, size):
    canvas[row:row + size, col:col + size] = True


def test_object_counts_on_drawn_shapes():
    truth = np.zeros((40, 40), bool)
    predicted = np.zeros((40, 40), bool)
    for row, col in ((2, 2), (2, 25), (25, 2)):
        square(truth, row, col, 8)
    square(predicted, 2, 2, 8)  # exact
    square(predicted, 2, 25, 4)  # a quarter of the second landslide
    square(predicted, 30, 30, 5)  # a false alarm
    counts = count_objects(truth, predicted)
    assert (counts.true_objects, counts.detected, counts.predicted_objects, counts.predicted_hits) == (3, 2, 3, 2)
    assert count_objects(truth, predicted, min_overlap=0.5).detected == 1
    assert counts.scores() == {"detection_rate": 2 / 3, "hit_share": 2 / 3}


def test_points_inside_predicted_landslides():
    predicted = np.zeros((10, 10), bool)
    predicted[2:5, 2:5] = True
    assert points_inside(np.array([3, 8, 2]), np.array([3, 8, 4]), predicted) == 2 / 3


def test_sweep_finds_the_separating_threshold():
    truth = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    probability = np.array([0.8, 0.85, 0.9, 0.3, 0.2, 0.35, 0.1])
    sweep = ThresholdSweep(bins=100)
    sweep.add(truth[:3], probability[:3])
    sweep.add(truth[3:], probability[3:])  # summing two parts
    threshold, f1 = sweep.best_threshold()
    assert 0.35 < threshold <= 0.8 and f1 == 1.0
    curve = sweep.curve()
    assert curve["recall"][0] == 1.0 and math.isclose(curve["precision"][0], 3 / 7)


def test_best_f1_metric_agrees_with_the_threshold_sweep():
    from lim_tf.metrics import BestF1, ThresholdSweep

    rng = np.random.default_rng(4)
    truth = rng.random((3, 20, 20)) > 0.8
    probability = np.clip(truth * 0.35 + rng.random((3, 20, 20)) * 0.65, 0, 0.999).astype(np.float32)
    weight = (rng.random((3, 20, 20)) > 0.1).astype(np.float32)
    f1, threshold = BestF1(bins=100), BestF1(bins=100, report="threshold")
    for metric in (f1, threshold):
        metric.update_state(truth[..., None].astype(np.float32), probability[..., None], weight)
    sweep = ThresholdSweep(bins=100)
    sweep.add(truth, probability, weight > 0)
    best, best_f1 = sweep.best_threshold()
    assert float(threshold.result()) == pytest.approx(best)
    assert float(f1.result()) == pytest.approx(best_f1, rel=1e-5)


def _best_f1_both_ways(truth: np.ndarray, probability: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(threshold, F1) from ThresholdSweep and from the Keras BestF1 metric, on the same pixels."""
    from lim_tf.metrics import BestF1

    sweep = ThresholdSweep(bins=100)
    sweep.add(truth, probability)
    f1, at = BestF1(bins=100), BestF1(bins=100, report="threshold")
    for metric in (f1, at):
        metric.update_state(truth[None, :, None].astype(np.float32), probability[None, :, None].astype(np.float32))
    return sweep.best_threshold(), (float(at.result()), float(f1.result()))


def test_best_f1_counts_only_thresholds_that_beat_calling_every_pixel_a_landslide():
    # Sparse labels, mostly landslide: 6 landslide and 4 background pixels. Calling all 10 a
    # landslide scores 2*6 / (2*6 + 4) = 0.75 whatever the model.
    truth = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], bool)
    # This model separates one landslide pixel (0.6) from the background (0.1): its best real
    # threshold scores 2*1 / (2*1 + 5) = 2/7, thresholds up to 0.05 call everything (0.75): no skill.
    unskilled = np.array([0.6, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1])
    sweep = ThresholdSweep(bins=100)
    sweep.add(truth, unskilled)
    assert sweep.curve()["f1"][0] == pytest.approx(0.75) and sweep.curve()["f1"][50] == pytest.approx(2 / 7)
    numpy_best, keras_best = _best_f1_both_ways(truth, unskilled)
    assert numpy_best == (0.0, 0.0) and keras_best == (0.0, 0.0)
    # Five landslide pixels at 0.9, one at 0.05, background at 0.1 and 0.02: above 0.1, TP 5, FN 1:
    # F1 10/11, which beats 0.75; between 0.02 and 0.05 all 6 and 3 background: 12/15 = 0.8.
    skilled = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.05, 0.1, 0.1, 0.1, 0.02])
    (threshold, f1), (keras_threshold, keras_f1) = _best_f1_both_ways(truth, skilled)
    assert 0.1 < threshold <= 0.9 and f1 == pytest.approx(10 / 11)
    assert keras_threshold == pytest.approx(threshold) and keras_f1 == pytest.approx(10 / 11, rel=1e-6)
    # Where every labelled pixel is a landslide, calling them all one is simply right.
    everything = ThresholdSweep(bins=100)
    everything.add(np.ones(4, bool), np.array([0.02, 0.3, 0.5, 0.9]))
    assert everything.best_threshold() == (0.0, 1.0)


def test_the_best_model_is_saved_when_validation_improves_and_on_a_tie_at_the_later_epoch(tmp_path):
    from lim_tf.training.callbacks import BestModel

    class Model:  # what BestModel uses of a Keras model: save() and stop_training
        stop_training, saved = False, []

        def save(self, path):
            Path(path).write_text("weights")
            self.saved.append(epoch)

    history = tmp_path / "history.csv"
    best = BestModel(tmp_path / "model.keras", "val_best_f1", history, patience=2)
    best.set_model(Model())
    scores = [0.0, 0.0, 0.4, 0.4, 0.3]  # no skill twice, a gain, a tie, a loss
    for epoch, score in enumerate(scores):
        best.on_epoch_end(epoch, {"val_best_f1": score, "loss": 1.0})
    assert best.model.saved == [0, 1, 2, 3] and best.best_epoch == 3
    assert best.model.stop_training  # the tie and the loss: two validations without a gain
    assert (tmp_path / "model.keras").exists() and not list(tmp_path.glob(".*partial*"))
    history.write_text("epoch,val_best_f1\n" + "".join(f"{e},{s}\n" for e, s in enumerate(scores)))
    resumed = BestModel(tmp_path / "model.keras", "val_best_f1", history, patience=2)
    assert (resumed.best, resumed.best_epoch, resumed.waited) == (-0.4, 3, 2)
    # Validating every second epoch, Keras's CSVLogger writes NA for the epochs between.
    history.write_text("epoch,loss,val_best_f1\n0,1.0,NA\n1,0.9,0.2\n2,0.8,NA\n3,0.7,0.5\n4,0.6,NA\n")
    resumed = BestModel(tmp_path / "model.keras", "val_best_f1", history, patience=2)
    assert (resumed.best, resumed.best_epoch, resumed.waited) == (-0.5, 3, 0)


def test_image_level_scores_and_scores_at_a_stated_kind_ratio_on_a_hand_worked_case():
    from lim_tf.evaluate import evaluate
    from lim_tf.trained.ensemble import Ensemble

    class Known(Ensemble):  # the probability is the image's first band: the prediction is drawn by hand
        def __init__(self):
            super().__init__([], ["known"])

        bands = 1

        def predict(self, images):
            return images[..., 0]

    def item(name, truth_box, predicted_boxes):
        mask, image = np.zeros((10, 10), np.uint8), np.zeros((10, 10, 1), np.float32)
        if truth_box:
            r0, r1, c0, c1 = truth_box
            mask[r0:r1, c0:c1] = 1
        for r0, r1, c0, c1 in predicted_boxes:
            image[r0:r1, c0:c1] = 1.0
        return name, image, mask

    items = [item("ls_hit", (0, 4, 0, 4), [(2, 6, 2, 6)]),  # found: TP 4, FP 12, FN 12
             item("ls_miss", (0, 2, 0, 2), [(8, 10, 8, 10)]),  # missed: FP 4, FN 4
             item("nls_quiet", None, [(0, 1, 0, 1)]),  # one pixel: under the 2-pixel alarm size, FP 1
             item("nls_alarm", None, [(0, 2, 0, 3)]),  # 6 pixels: an alarm, FP 6
             item("nls_clean", None, [])]
    result = evaluate(Known(), items, 0.5, batch_size=1, progress=False, min_alarm_pixels=2, kind_ratio=3.0)
    metrics = result.metrics()
    assert metrics["image_level"]["landslide_chips_detected_share"] == 0.5
    assert metrics["image_level"]["non_landslide_chips_with_false_alarm_share"] == 1 / 3
    # At 3 non-landslide chips per landslide chip: 6 of them for these 2, so their counts weigh 6/3 = 2.
    tp, fp, fn = 4, 12 + 4 + 2 * (1 + 6), 12 + 4
    weighted = metrics["at_kind_ratio"]
    assert weighted["non_landslide_weight"] == 2.0
    assert weighted["precision"] == tp / (tp + fp) and weighted["f1"] == 2 * tp / (2 * tp + fp + fn)


def test_the_reliability_table_counts_errors_per_uncertainty_bin():
    from lim_tf.evaluate import evaluate
    from lim_tf.trained.ensemble import Ensemble

    class Known(Ensemble):  # band 0 is the probability, band 1 the spread over flips and members
        def __init__(self):
            super().__init__([], ["known"], uncertainty=True)

        bands = 2

        def predict_with_uncertainty(self, images):
            return images[None, ..., 0], images[..., 1]

    image = np.zeros((4, 4, 2), np.float32)
    mask = np.zeros((4, 4), np.uint8)
    mask[0] = 1  # 4 landslide pixels, predicted 0: wrong, and sure of it (spread 0)
    image[1, :, 0] = 1.0  # 4 background pixels predicted 1: wrong, unsure (spread 0.3)
    image[1, :, 1] = 0.3
    image[2, :2, 1] = 0.015  # 2 right pixels in the 0.01..0.02 bin; the other 6 right ones in 0..0.01
    table = evaluate(Known(), [("x", image, mask)], 0.5, batch_size=1, progress=False).metrics()["reliability"]
    by_bin = {row["uncertainty_from"]: (row["pixels"], row["error_rate"]) for row in table}
    assert by_bin[0.0] == (10, 0.4) and by_bin[0.01] == (2, 0.0) and by_bin[0.2] == (4, 1.0)
    assert by_bin[0.05] == (0, None)


def test_metrics_sharing_one_tally_report_what_each_would_count_alone():
    """The training logs count the confusion matrix and the histogram once a step; each reader
    must still log its own score, in a compiled model's evaluate, against numpy's count."""
    import keras

    from lim_tf.metrics import BestF1

    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 1)).astype(np.float32)
    truth = (x > 0.6).astype(np.float32)
    weight = (rng.random((32, 8, 8)) > 0.2).astype(np.float32)
    inputs = keras.Input((8, 8, 1))
    layer = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.full((1, 1, 1, 1), 8.0, np.float32), np.array([-4.5], np.float32)])  # skilled, imperfect
    model.compile("adam", "binary_crossentropy", weighted_metrics=[*LandslideScore.family(0.5), *BestF1.pair()])
    assert len(model.metrics_variables) == 2  # one count and one histogram, not six
    logs = model.evaluate(x, truth, sample_weight=weight, batch_size=8, return_dict=True, verbose=0)
    probability = 1 / (1 + np.exp(-(8.0 * x[..., 0] - 4.5)))
    expected = Confusion.from_masks(truth[..., 0] > 0.5, probability >= 0.5, weight > 0).scores()
    for score in ("precision", "recall", "f1"):
        assert logs[score] == pytest.approx(expected[score], rel=1e-5)
    assert logs["iou"] == pytest.approx(expected["iou_landslide"], rel=1e-5)
    sweep = ThresholdSweep(bins=100)
    sweep.add(truth[..., 0] > 0.5, probability, weight > 0)
    threshold, f1 = sweep.best_threshold()
    assert logs["best_threshold"] == pytest.approx(threshold) and logs["best_f1"] == pytest.approx(f1, rel=1e-5)
    assert 0 < expected["precision"] < 1 and 0 < threshold < 1  # a case where every score says something

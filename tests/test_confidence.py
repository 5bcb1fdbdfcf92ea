"""The polygons' confidence model: calibrated where the answer is known, a cut chosen on validation,
and kept as plain data (JSON) that loads without running code."""

import json

import numpy as np
import pytest

from lim_tf.errors import InputError
from lim_tf.polygons import Polygon, PolygonSet
from lim_tf.trained.confidence import ConfidenceModel, features, fit_confidence


def known_polygons(count: int, seed: int = 0) -> tuple[PolygonSet, np.ndarray]:
    """Polygons whose chance of being real is known: sigmoid(8 (max probability - 0.7)); area and
    shape carry no information, mean probability tracks the max."""
    rng = np.random.default_rng(seed)
    peak = rng.uniform(0.5, 1.0, count)
    truth = 1 / (1 + np.exp(-8 * (peak - 0.7)))
    real = rng.random(count) < truth
    found = PolygonSet()
    polygons = [Polygon(float(a), float(4 * np.sqrt(a) * s), float(0.8 * p + 0.1 * rng.random()), float(p), bool(r),
                        frozenset({i}) if r else frozenset(), False)
                for i, (a, s, p, r) in enumerate(zip(rng.uniform(10, 2000, count), rng.uniform(1, 2, count), peak,
                                                     real))]
    found.add(polygons, int(real.sum()))
    return found, truth


def test_the_confidence_matches_a_known_chance_of_being_real():
    found, truth = known_polygons(4000)
    model = fit_confidence(found)
    held_out, held_truth = known_polygons(4000, seed=1)
    values = features([p.area_m2 for p in held_out.polygons], [p.perimeter_m for p in held_out.polygons],
                      [p.mean_probability for p in held_out.polygons], [p.max_probability for p in held_out.polygons])
    confidence = model.predict(values)
    assert np.abs(confidence - held_truth).mean() < 0.03  # the known chance, on polygons it never saw
    held_out.confidence = confidence
    for row in held_out.reliability():
        if row["polygons"] >= 200:  # a calibrated model: observed share near the stated confidence
            assert abs(row["real_share"] - row["mean_confidence"]) < 0.06, row
    assert 0 < model.cut < 1 and model.validation["kept"]["polygon_precision"] > model.validation["all"][
        "polygon_precision"]


def test_the_model_is_data_that_round_trips_through_json():
    found, _ = known_polygons(500)
    found.group = 0.33  # as drawn
    model = fit_confidence(found)
    again = ConfidenceModel.from_json(json.loads(json.dumps(model.to_json())), "card")
    values = np.array([[np.log(100.0), 0.8, 0.9, 0.5]])
    assert again == model and again.predict(values) == pytest.approx(model.predict(values)) and again.group == 0.33
    older = {k: v for k, v in model.to_json().items() if k != "group"}  # fitted before polygons were grouped
    assert ConfidenceModel.from_json(older, "card").group is None
    for bad in (0, 1.5, "low"):
        with pytest.raises(InputError, match="card: the confidence model's group must be a probability"):
            ConfidenceModel.from_json({**model.to_json(), "group": bad}, "card")
    with pytest.raises(InputError, match="card: the confidence model uses features"):
        ConfidenceModel.from_json({**model.to_json(), "features": ["area"]}, "card")
    with pytest.raises(InputError, match="card: the confidence model is damaged"):
        ConfidenceModel.from_json({"coefficients": [1.0]}, "card")


@pytest.mark.parametrize("real, false, learns", [(10, 10, True), (10, 9, False), (9, 40, False)])
def test_too_few_polygons_teach_nothing(real, false, learns):
    """Ten of each kind is the least the model learns from (a region adapted from a few tiles)."""
    every, _ = known_polygons(2000)
    chosen = [p for p in every.polygons if p.real][:real] + [p for p in every.polygons if not p.real][:false]
    found = PolygonSet()
    found.add(chosen, real)
    assert (fit_confidence(found) is not None) == learns


def test_polygons_on_empty_chips_are_weighted_to_the_real_mix():
    """Two polygon kinds the features tell apart only by max probability: weighting the empty chips'
    false alarms 3 times lowers the confidence of the kind they resemble."""
    rng = np.random.default_rng(2)
    found = PolygonSet()
    polygons = []
    for i in range(400):
        real = i % 2 == 0
        peak = 0.9 if real or i % 4 == 1 else 0.6  # half the false polygons look like real ones
        polygons.append(Polygon(100.0, 40.0, peak - 0.1 + 0.01 * rng.random(), peak + 0.01 * rng.random(), real,
                                frozenset({i}) if real else frozenset(), not real))
    found.add(polygons, 200)
    plain, weighted = fit_confidence(found), fit_confidence(found, empty_weight=3.0)
    looks_real = features([100.0], [40.0], [0.805], [0.905])
    assert plain.predict(looks_real)[0] == pytest.approx(2 / 3, abs=0.05)  # 200 real of 300 alike
    assert weighted.predict(looks_real)[0] == pytest.approx(2 / 5, abs=0.05)  # 200 of 200 + 3 x 100

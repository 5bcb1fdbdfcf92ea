"""Polygon-level scores on hand-worked rasters: landslides detected, polygons that are real, at a
confidence cut and at the source's real mix of chip kinds; perimeters and areas of pixel polygons."""

import numpy as np

from lim_tf.polygons import RULE, PolygonSet, chip_polygons


def chip():
    """A 10 x 12 chip: two labelled landslides (A: rows 1-3 x cols 1-3, B: rows 6-8 x cols 8-10) and three
    predicted polygons: one over A's corner, a false one at (8, 1), and one two pixels wide that touches
    nothing; B is missed. The false one is 1 pixel, the other 2 x 1 (4-connected apart diagonally)."""
    truth = np.zeros((10, 12), bool)
    truth[1:4, 1:4] = True
    truth[6:9, 8:11] = True
    probability = np.zeros((10, 12))
    probability[2:5, 2:5] = 0.9  # over A's lower-right corner, spilling out
    probability[8, 1] = 0.6
    probability[4, 7] = probability[4, 8] = 0.7
    return truth, probability


def test_a_hand_worked_chip():
    truth, probability = chip()
    polygons, landslides = chip_polygons(truth, probability, 0.5, np.ones_like(truth), resolution=2.0)
    assert landslides == 2 and len(polygons) == 3
    by_area = sorted(polygons, key=lambda p: -p.area_m2)
    assert [p.area_m2 for p in by_area] == [36.0, 8.0, 4.0]  # 9, 2 and 1 pixels of 4 m²
    assert [p.perimeter_m for p in by_area] == [24.0, 12.0, 8.0]  # 12, 6 and 4 pixel edges of 2 m
    assert [p.real for p in by_area] == [True, False, False] and by_area[0].touches == {0}
    assert abs(by_area[0].mean_probability - 0.9) < 1e-12 and by_area[2].max_probability == 0.6
    found = PolygonSet()
    found.add(polygons, landslides)
    scores = found.scores()
    assert (scores["detected"], scores["detected_share"], scores["polygon_precision"]) == (1, 0.5, 1 / 3)
    assert scores["rule"] == RULE


def test_a_confidence_cut_and_the_real_mix():
    truth, probability = chip()
    found = PolygonSet()
    found.add(*chip_polygons(truth, probability, 0.5, np.ones_like(truth), 1.0))
    empty = np.zeros((6, 6), bool)
    quiet = np.zeros((6, 6))
    quiet[1:3, 1:3] = 0.8  # a false alarm on a chip without landslides
    found.add(*chip_polygons(empty, quiet, 0.5, np.ones_like(empty), 1.0, first_id=found.landslides))
    assert found.landslides == 2 and len(found.polygons) == 4
    # 1 real of 4; the empty chip's polygon counted 3 times (the real mix): 1 of 6
    assert found.scores()["polygon_precision"] == 0.25
    assert found.scores(None, empty_weight=3.0)["polygon_precision"] == 1 / 6
    found.confidence = np.array([0.9, 0.2, 0.1, 0.4])  # in the order added: A's, the false ones, the empty chip's
    kept = found.scores(0.3)
    assert (kept["polygons"], kept["polygon_precision"], kept["detected_share"]) == (2, 0.5, 0.5)
    assert found.scores(0.95)["detected"] == 0 and found.scores(0.95)["polygon_precision"] == 1.0
    rows = found.reliability(edges=(0, 0.5, 1))
    assert rows[1]["polygons"] == 1 and rows[1]["real_share"] == 1.0 and rows[0]["real_share"] == 0.0


def test_pixels_outside_the_valid_area_make_no_polygon():
    truth, probability = chip()
    valid = np.ones_like(truth)
    valid[:, :6] = False
    polygons, landslides = chip_polygons(truth, probability, 0.5, valid, 1.0)
    assert landslides == 1 and [p.area_m2 for p in polygons] == [2.0]


def grouped_chip():
    """A 5 x 13 chip. Row 2: two fragments at 0.8 (cols 1-2, 5-6) joined by a bridge at 0.4 (cols 3-4),
    and apart a faint blob at 0.45 (cols 9-10). Labelled: one landslide under the bridge only, one at
    col 9."""
    probability = np.zeros((5, 13))
    probability[2, 1:3] = probability[2, 5:7] = 0.8
    probability[2, 3:5] = 0.4
    probability[2, 9:11] = 0.45
    truth = np.zeros((5, 13), bool)
    truth[1:4, 3:5] = True
    truth[2, 9] = True
    return truth, probability


def test_fragments_joined_under_the_threshold_make_one_polygon_drawn_by_its_parts():
    truth, probability = grouped_chip()
    valid = np.ones_like(truth)
    plain, landslides = chip_polygons(truth, probability, 0.5, valid, 1.0)
    assert landslides == 2 and len(plain) == 2 and not any(p.real for p in plain)  # the fragments miss both
    polygons, _ = chip_polygons(truth, probability, 0.5, valid, 1.0, group=0.3)
    joined, faint = sorted(polygons, key=lambda p: -p.area_m2)
    # Described as the group: 6 pixels, a 1 x 6 strip (14 edges), mean (4 x 0.8 + 2 x 0.4) / 6.
    assert (joined.area_m2, joined.perimeter_m, joined.max_probability) == (6.0, 14.0, 0.8)
    assert abs(joined.mean_probability - 4.0 / 6) < 1e-12
    # Drawn by its parts at the threshold, which miss the landslide under the bridge: not real.
    assert not joined.real and joined.touches == frozenset()
    # The faint blob reaches no pixel at the threshold: drawn whole, and it finds the second landslide.
    assert (faint.area_m2, faint.max_probability, faint.real, faint.touches) == (2.0, 0.45, True, frozenset({1}))
    # --min-area counts the pixels drawn: 4 for the joined polygon, 2 for the faint one.
    assert len(chip_polygons(truth, probability, 0.5, valid, 1.0, min_area_m2=3.0, group=0.3)[0]) == 1
    # A group at or above the threshold is no grouping.
    assert chip_polygons(truth, probability, 0.5, valid, 1.0, group=0.7)[0] == plain

"""Slope from a DEM on closed-form surfaces."""

from __future__ import annotations

import numpy as np

from lim_tf.mapping.terrain import slope_degrees


def test_a_plane_rising_one_metre_per_metre_is_45_degrees():
    columns = np.arange(6, dtype=float) * 2.0  # 2 m pixels, rising 2 m per pixel eastward
    elevation = np.tile(columns, (5, 1))
    np.testing.assert_allclose(slope_degrees(elevation, 2.0, 2.0), 45.0)


def test_a_flat_dem_has_no_slope_and_a_diagonal_plane_adds_up():
    assert not slope_degrees(np.full((4, 4), 300.0), 10, 10).any()
    rows, cols = np.mgrid[0:5, 0:5].astype(float)
    elevation = 3.0 * cols + 4.0 * rows  # gradients 3/10 and 4/10 per metre: hypot = 0.5
    np.testing.assert_allclose(slope_degrees(elevation, 10.0, 10.0), np.degrees(np.arctan(0.5)))

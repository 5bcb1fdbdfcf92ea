"""What several test modules share: the command line as a test calls it, the one-line error check,
and independent reference computations. The seeded writers of test inputs live in lim_tf.testing.
(No test module imports another.)"""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from lim_tf.testing import write_bijie  # noqa: F401  (the tests' historic import)
from lim_tf_cli.main import main


def bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres, written out in numpy."""
    height, width = image.shape[:2]
    ys = np.clip((np.arange(size) + 0.5) * height / size - 0.5, 0, height - 1)
    xs = np.clip((np.arange(size) + 0.5) * width / size - 0.5, 0, width - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float64)
    return (img[y0][:, x0] * (1 - wy) * (1 - wx) + img[y0][:, x1] * (1 - wy) * wx
            + img[y1][:, x0] * wy * (1 - wx) + img[y1][:, x1] * wy * wx)


def nearest(mask: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize with half-pixel centres, written out in numpy."""
    height, width = mask.shape[:2]
    ys = np.minimum(np.floor((np.arange(size) + 0.5) * height / size).astype(int), height - 1)
    xs = np.minimum(np.floor((np.arange(size) + 0.5) * width / size).astype(int), width - 1)
    return mask[ys][:, xs]


def run(*args: object):
    """`lim-tf -q ARGS` in this process (click's runner), as a user types it."""
    return CliRunner().invoke(main, ["-q", *map(str, args)])


def assert_one_line_error(result, *fragments: str) -> None:
    """A refusal as lim-tf promises it: a non-zero exit and one line starting "Error: " that holds
    every fragment (the file or option, what to change)."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_near_float32(int8: np.ndarray, float32: np.ndarray) -> None:
    """int8 follows float32 (untrained tiny nets of 4-channel layers quantise coarsely: a trained
    model's test F1 moved by 0.00002 in benchmarks/bench_int8.py), and is not float32 itself."""
    error = np.abs(int8 - float32)
    assert error.mean() < 0.05 and error.max() > 1e-6
    assert np.corrcoef(int8.ravel(), float32.ravel())[0, 1] > 0.9

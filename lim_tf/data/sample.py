"""In-memory samples (as read from a source) and chips (what a record holds)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = 0
LANDSLIDE = 1
IGNORE = 255  # pixels that count neither way: unlabelled, nodata or padding

CLASS_VALUES = {"background": BACKGROUND, "landslide": LANDSLIDE, "ignore": IGNORE}


@dataclass(frozen=True)
class Sample:
    """One image with its mask in class values (0, 1, 255), at the size the source gave."""

    image: np.ndarray  # (height, width, bands)
    mask: np.ndarray  # (height, width) uint8
    sample_id: str
    source: str
    band_names: tuple[str, ...]
    resolution: float | None = None  # metres per pixel, when known
    path: str = ""  # the file it was read from, for messages


@dataclass(frozen=True)
class Chip:
    """A fixed-size chip as written to a record."""

    image: np.ndarray
    mask: np.ndarray
    chip_id: str
    origin_id: str  # the original sample this chip comes from; folds never split an origin
    source: str
    band_names: tuple[str, ...]
    fold: int = -1  # -1 for the test split
    augmentation: str = "none"

    @property
    def is_landslide(self) -> bool:
        """Whether the chip holds any landslide pixel."""
        return bool(np.any(self.mask == LANDSLIDE))

    @property
    def split(self) -> str:
        return "test" if self.fold < 0 else "train"


def parse_value_map(text: str) -> tuple[tuple[int, str], ...]:
    """Parse '2=landslide,1=background,0=ignore' into (value, class) pairs."""
    from lim_tf.errors import ConfigError

    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        value, _, name = item.partition("=")
        name = name.strip().lower()
        if name not in CLASS_VALUES or not value.strip().lstrip("-").isdigit():
            raise ConfigError(f"mask value map item {item!r}: write VALUE=CLASS with CLASS one of "
                              "landslide, background, ignore (e.g. '2=landslide,1=background,0=ignore')")
        pairs.append((int(value), name))
    return tuple(pairs)

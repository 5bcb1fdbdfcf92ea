"""lim-tf: landslide inventory mapping with fully convolutional networks."""

__version__ = "0.1.0"

"""lim-tf: landslide inventory mapping with fully convolutional networks."""

__version__ = "0.1.0"

# The Keras registration package of every custom layer, loss, metric and schedule: saved models
# name their objects "lim_tf>Name", so this string must never change.
PACKAGE = "lim_tf"

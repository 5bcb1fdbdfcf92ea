"""Geometry both data/ and mapping/ need: window grids, pixel sizes and resampling, vectors."""

"""Readers per source, the record schema, splits, statistics and the tf.data pipeline."""

"""Where and how work runs: process set-up, quiet TensorFlow, memory estimates, the in-process and
Dask executors. Below data/ and mapping/, which both run work through it."""

"""A finished model, as every later stage uses it: the run folder's typed state and layout
(run.json), loading its models as an ensemble, running them through ONNX Runtime (float32, int8),
and the polygons' confidence model. The shipped models are lim_tf/zoo/."""

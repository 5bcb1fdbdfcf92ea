"""`map --runtime auto` with a fake clock: timed once per machine, model and tile, the set-up each
runtime needs counted, so a small scene stays on TensorFlow and a large one takes the fastest."""

from lim_tf.mapping.runtime_choice import FEW_BATCHES, choose_runtime, remembered_runtime
from lim_tf.runtime.measured import Measurements

BATCH = {"tensorflow": 2.0, "onnx": 1.2, "onnx-int8": 0.8}  # seconds a batch
SETUP = {"onnx": 8.0, "onnx-int8": 3.0}  # converting; int8's calibration beyond it
TILE = (2, 2112, 2112)


class Clock:
    def __init__(self):
        self.timed: list[str] = []

    def time_batch(self, runtime: str) -> float:
        self.timed.append(runtime)
        return BATCH[runtime]


def choose(store, clock, batches, cached=False, allowed=("tensorflow", "onnx", "onnx-int8")):
    return choose_runtime("model", TILE, batches, store, clock.time_batch, SETUP.__getitem__, lambda _: cached,
                          allowed)


def test_a_scene_of_few_batches_is_not_timed(tmp_path):
    clock = Clock()
    choice = choose(Measurements(tmp_path), clock, FEW_BATCHES)
    assert choice.runtime == "tensorflow" and clock.timed == [] and "too few" in choice.reason


def test_a_small_scene_times_tensorflow_alone_and_stays_on_it(tmp_path):
    clock = Clock()
    choice = choose(Measurements(tmp_path), clock, 10)  # 20 s of TensorFlow: less than 3 x 15 s of set-up
    assert choice.runtime == "tensorflow" and clock.timed == ["tensorflow"] and "20 s" in choice.reason


def test_a_large_scene_times_every_runtime_once_and_takes_the_fastest(tmp_path):
    store, clock = Measurements(tmp_path), Clock()
    choice = choose(store, clock, 100)
    assert clock.timed == ["tensorflow", "onnx", "onnx-int8"] and choice.runtime == "onnx-int8"
    assert "timed here now" in choice.reason  # built while timing: 80 s, against 120 s and 200 s
    again = choose(store, clock, 100)
    assert len(clock.timed) == 3 and again.runtime == "onnx-int8" and "before" in again.reason
    # Remembered, the set-up counts again: 100 x 0.8 + 8 + 3 = 91 s against 128 s and 200 s
    assert "onnx-int8 91.0 s" in again.reason and "onnx 128.0 s" in again.reason


def test_set_up_decides_a_medium_scene_and_the_cache_removes_it(tmp_path):
    store, clock = Measurements(tmp_path), Clock()
    choose(store, clock, 100)  # remember the timings
    # 10 batches: TensorFlow 20 s; onnx 8 + 12 = 20 s (a tie stays on TensorFlow); int8 8 + 3 + 8 = 19 s
    assert choose(store, clock, 10).runtime == "onnx-int8"
    assert choose(store, clock, 8).runtime == "tensorflow"  # 16 s against 17.6 s and 17.4 s
    # with the converted network in the cache: onnx 9.6 s, int8 3 + 6.4 = 9.4 s
    assert choose(store, clock, 8, cached=True).runtime == "onnx-int8"
    assert choose(store, clock, 2 * FEW_BATCHES, cached=True, allowed=("tensorflow",)).runtime == "tensorflow"


def test_workers_follow_what_was_timed_here_or_tensorflow(tmp_path):
    store, clock = Measurements(tmp_path), Clock()
    assert remembered_runtime("model", TILE, 100, store).runtime == "tensorflow"
    choose(store, clock, 100)
    assert remembered_runtime("model", TILE, 100, store).runtime == "onnx-int8"
    assert remembered_runtime("model", (1, 512, 512), 100, store).runtime == "tensorflow"  # another tile

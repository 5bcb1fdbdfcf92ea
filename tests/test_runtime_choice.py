"""`map --runtime auto` with a fake clock: nothing timed on a model's first map, then timed once per
machine, model and sample window where TensorFlow's remembered speed says it repays, the set-up
each runtime needs counted, so a small scene stays on TensorFlow, a large one takes the fastest,
and one timing serves scenes of every size."""

from types import SimpleNamespace

from lim_tf.mapping.runtime_choice import SAMPLE_SIDE, choose_runtime, remember_rate, remembered_runtime, timing_sample
from lim_tf.runtime.measured import Measurements

SAMPLE_TIME = {"tensorflow": 2.0, "onnx": 1.2, "onnx-int8": 0.8}  # seconds a sample window
SETUP = {"onnx": 8.0, "onnx-int8": 3.0}  # converting; int8's calibration beyond it
SAMPLE = (1, SAMPLE_SIDE, SAMPLE_SIDE)
PIXELS = SAMPLE_SIDE * SAMPLE_SIDE  # one sample's


class Clock:
    def __init__(self):
        self.timed: list[str] = []

    def time_sample(self, runtime: str) -> float:
        self.timed.append(runtime)
        return SAMPLE_TIME[runtime]


def choose(store, clock, samples, cached=False, allowed=("tensorflow", "onnx", "onnx-int8")):
    return choose_runtime("model", SAMPLE, int(samples * PIXELS), store, clock.time_sample, SETUP.__getitem__,
                          lambda _: cached, allowed)


def mapped_before(tmp_path, seconds_a_sample=2.0):
    """A store that remembers a TensorFlow map of this model at the fake clock's speed."""
    store = Measurements(tmp_path)
    remember_rate(store, "model", 50 * seconds_a_sample, 50 * PIXELS)
    return store


def test_the_first_map_of_a_model_is_not_timed_and_its_speed_decides_the_next(tmp_path):
    store, clock = Measurements(tmp_path), Clock()
    choice = choose(store, clock, 1000)
    assert choice.runtime == "tensorflow" and clock.timed == [] and "first map" in choice.reason
    remember_rate(store, "model", 20.0, 10 * PIXELS)  # that map: 10 samples' pixels in 20 s
    assert choose(store, clock, 1000).runtime == "onnx-int8" and clock.timed == ["tensorflow", "onnx", "onnx-int8"]


def test_a_small_scene_is_not_timed_and_stays_on_tensorflow(tmp_path):
    clock = Clock()
    choice = choose(mapped_before(tmp_path), clock, 10)  # 20 s of TensorFlow: less than 3 x (6 + 2) s of set-up
    assert choice.runtime == "tensorflow" and clock.timed == [] and "20 s" in choice.reason


def test_a_large_scene_times_every_runtime_once_and_takes_the_fastest(tmp_path):
    store, clock = mapped_before(tmp_path), Clock()
    choice = choose(store, clock, 100)
    assert clock.timed == ["tensorflow", "onnx", "onnx-int8"] and choice.runtime == "onnx-int8"
    assert "timed here now" in choice.reason  # built while timing: 80 s, against 120 s and 200 s
    again = choose(store, clock, 100)
    assert len(clock.timed) == 3 and again.runtime == "onnx-int8" and "before" in again.reason
    # Remembered, the set-up counts again: 100 x 0.8 + 8 + 3 = 91 s against 128 s and 200 s
    assert "onnx-int8 91.0 s" in again.reason and "onnx 128.0 s" in again.reason


def test_one_timing_serves_scenes_of_every_size(tmp_path):
    store, clock = mapped_before(tmp_path), Clock()
    choose(store, clock, 100)  # remember the timings
    # 10 samples: TensorFlow 20 s; onnx 8 + 12 = 20 s (a tie stays on TensorFlow); int8 8 + 3 + 8 = 19 s
    assert choose(store, clock, 10).runtime == "onnx-int8"
    assert choose(store, clock, 8).runtime == "tensorflow"  # 16 s against 17.6 s and 17.4 s
    # with the converted network in the cache: onnx 9.6 s, int8 3 + 6.4 = 9.4 s
    assert choose(store, clock, 8, cached=True).runtime == "onnx-int8"
    assert choose(store, clock, 1).runtime == "tensorflow"  # a tiny scene: 2 s against 9.2 s and 11.8 s
    assert choose(store, clock, 1, cached=True).runtime == "onnx"  # nothing to set up: 1.2 s; int8 3.8 s
    assert len(clock.timed) == 3  # none of these timed anything again
    assert choose(store, clock, 100, cached=True, allowed=("tensorflow",)).runtime == "tensorflow"


def test_a_converted_network_in_the_cache_lowers_the_bar_for_timing(tmp_path):
    clock = Clock()
    # 10 samples: 20 s of TensorFlow repays 3 x 2 s of calibration, not 3 x (6 + 2) s with the conversion
    choice = choose(mapped_before(tmp_path), clock, 10, cached=True)
    assert clock.timed == ["tensorflow", "onnx", "onnx-int8"] and choice.runtime == "onnx-int8"


def test_the_sample_is_one_window_of_the_largest_tile_up_to_the_side_and_pixels_count_margins():
    tile = lambda height, width: SimpleNamespace(height=height, width=width)  # noqa: E731
    big = [[tile(1100, 1100), tile(1100, 600)], [tile(500, 1100)]]
    assert timing_sample(big) == ((1, SAMPLE_SIDE, SAMPLE_SIDE), 1100 * 1100 + 1100 * 600 + 500 * 1100)
    assert timing_sample([[tile(700, 300)]]) == ((1, 700, 300), 210_000)


def test_workers_follow_what_was_timed_here_or_tensorflow(tmp_path):
    store, clock = mapped_before(tmp_path), Clock()
    assert remembered_runtime("model", SAMPLE, 100 * PIXELS, store).runtime == "tensorflow"
    choose(store, clock, 100)
    assert remembered_runtime("model", SAMPLE, 100 * PIXELS, store).runtime == "onnx-int8"
    assert remembered_runtime("model", SAMPLE, 2 * PIXELS, store).runtime == "tensorflow"  # 4 s against 12.6 s
    assert remembered_runtime("model", (1, 512, 512), 100 * PIXELS, store).runtime == "tensorflow"  # another sample

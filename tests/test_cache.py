"""The cache of converted networks: a hit, a miss when the weights change, two processes writing the
same entry at once, a damaged entry made again (never trusted), the size bound, and no cache at all."""

import hashlib
import os
import subprocess
import sys

import numpy as np

from lim_tf.runtime.cache import FileCache, digest


def test_an_entry_is_made_once_then_read(tmp_path):
    cache, made = FileCache(tmp_path), []
    make = lambda: made.append(1) or b"graph bytes"  # noqa: E731
    assert cache.get("k", make) == (b"graph bytes", False)
    assert cache.get("k", make) == (b"graph bytes", True) and len(made) == 1
    (entry,) = tmp_path.glob("k-*.onnx")
    assert entry.name == f"k-{hashlib.sha256(b'graph bytes').hexdigest()}.onnx"  # named by its own digest
    assert FileCache(None).get("k", make) == (b"graph bytes", False) and len(made) == 2  # --no-cache


def test_a_damaged_entry_is_made_again_not_trusted(tmp_path):
    cache = FileCache(tmp_path)
    cache.get("k", lambda: b"the real graph")
    (entry,) = tmp_path.glob("k-*.onnx")
    entry.write_bytes(b"the real grap")  # cut short by a full disk or a copy
    assert cache.get("k", lambda: b"the real graph") == (b"the real graph", False)
    assert cache.get("k", lambda: b"never made") == (b"the real graph", True)


def test_two_processes_writing_one_entry_leave_one_whole_entry(tmp_path):
    code = ("import sys, time; from pathlib import Path; from lim_tf.runtime.cache import FileCache; "
            "print(FileCache(Path(sys.argv[1])).get('k', lambda: time.sleep(0.5) or b'x' * 5_000_000)[1])")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    assert [p.communicate()[0].strip() for p in processes] == ["False", "False"]  # both made it: neither waited
    assert [p.name for p in tmp_path.iterdir()] == [f"k-{hashlib.sha256(b'x' * 5_000_000).hexdigest()}.onnx"]
    assert FileCache(tmp_path).get("k", lambda: b"")[1]


def test_the_least_recently_used_entries_go_first(tmp_path):
    cache = FileCache(tmp_path, max_bytes=250)
    for key, stamp in (("a", 1), ("b", 2)):
        cache.get(key, lambda: b"." * 100)
        os.utime(next(tmp_path.glob(f"{key}-*")), (stamp, stamp))
    assert cache.get("a", lambda: b"never made")[1]  # used again: now the newest
    cache.get("c", lambda: b"." * 100)  # 300 bytes: over the bound, b (used longest ago) goes
    assert sorted(p.name[0] for p in tmp_path.iterdir()) == ["a", "c"]


def test_keys_tell_their_parts_apart():
    assert digest("ab", "c") != digest("a", "bc") and digest(b"x") == digest("x")


def test_a_converted_network_is_a_hit_until_its_weights_change(tmp_path):
    from lim_tf.models import ModelConfig, build_model
    from lim_tf.trained.ensemble import Ensemble
    from lim_tf.trained.onnx_model import OnnxEnsemble

    model = build_model(ModelConfig(name="unet", width=1 / 16))
    cache = FileCache(tmp_path)
    images = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    first = OnnxEnsemble.of(Ensemble([model], ["m"]), cache=cache)
    second = OnnxEnsemble.of(Ensemble([model], ["m"]), cache=cache)
    assert (first.cached, second.cached) == ((), ("float32",))
    np.testing.assert_array_equal(first.predict_members(images), second.predict_members(images))
    chips = [images[0]] * 2
    assert OnnxEnsemble.of(Ensemble([model], ["m"]), calibration=chips, cache=cache).cached == ("float32",)
    assert OnnxEnsemble.of(Ensemble([model], ["m"]), calibration=chips, cache=cache).cached == ("float32", "int8")
    model.set_weights([w + 0.01 for w in model.get_weights()])  # another model: not the cached graph
    third = OnnxEnsemble.of(Ensemble([model], ["m"]), cache=cache)
    assert third.cached == ()
    assert not np.array_equal(third.predict_members(images), first.predict_members(images))

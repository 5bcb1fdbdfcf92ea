"""`--precision auto` / `--xla auto` chosen by timing the candidates, with a fake clock: the fastest
wins, the timing is remembered per machine and network, and rules decide where timing cannot pay."""

import shutil
from pathlib import Path

from lim_tf.models.speed import candidates, choose_step
from lim_tf.runtime.measured import Measurements, machine_signature, network_code

CPUINFO = "model name\t: AMD EPYC 9R45\ncpu family\t: 26\nmodel\t\t: 2\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n"


def fake(times: dict[str, float], calls: list):
    def measure(policy: str, xla: bool) -> float:
        calls.append((policy, xla))
        return times[f"{policy}{' + XLA' if xla else ''}"]
    return measure


def test_the_fastest_measured_step_wins_and_is_remembered(tmp_path):
    store, calls = Measurements(tmp_path), []
    times = {"float32": 0.40, "float32 + XLA": 0.33, "mixed_bfloat16": 0.29, "mixed_bfloat16 + XLA": 0.61}
    choice = choose_step("auto", "auto", 1, 5000, "unet w0.25", fake(times, calls), store, bf16=True)
    assert (choice.policy, choice.xla) == ("mixed_bfloat16", False) and len(calls) == 4
    assert "measured here now" in choice.reason and choice.reason.index("mixed_bfloat16 0.290") < \
        choice.reason.index("float32 + XLA 0.330")
    again = choose_step("auto", "auto", 1, 5000, "unet w0.25", fake(times, calls), store, bf16=True)
    assert (again.policy, again.xla) == ("mixed_bfloat16", False) and len(calls) == 4  # not timed again
    assert "before" in again.reason
    other = choose_step("auto", "auto", 1, 5000, "fcn-fl w1", fake({**times, "float32 + XLA": 0.1}, calls), store,
                        bf16=True)
    assert (other.policy, other.xla) == ("float32", True) and len(calls) == 8  # another network: timed anew


def test_where_timing_cannot_pay_rules_decide_without_it(tmp_path):
    store, calls = Measurements(tmp_path), []
    times = dict.fromkeys(("float32", "float32 + XLA", "mixed_bfloat16", "mixed_bfloat16 + XLA"), 1.0)
    short = choose_step("auto", "auto", 1, 40, "tiny", fake(times, calls), store, bf16=True)
    assert (short.policy, short.xla) == ("mixed_bfloat16", False) and "40 steps" in short.reason
    asked = choose_step("float32", "off", 1, 5000, "tiny", fake(times, calls), store, bf16=True)
    assert (asked.policy, asked.xla) == ("float32", False) and "as asked" in asked.reason
    gpu = choose_step("auto", "auto", 1, 5000, "tiny", fake(times, calls), store, gpu=True)
    assert gpu.policy == "mixed_float16" and calls == []
    assert candidates("auto", "auto", 2, 5000, bf16=False) == [("float32", False)]  # mirrored: no XLA
    assert candidates("auto", "auto", 1, 5000, bf16=False) == [("float32", False), ("float32", True)]


def test_a_figure_from_one_machine_is_not_used_on_another(tmp_path, monkeypatch):
    import lim_tf.runtime.measured as measured

    store = Measurements(tmp_path)
    store.save({"seconds": {"float32": 1.0}}, "training step", "net")
    assert store.load("training step", "net")["seconds"] == {"float32": 1.0}
    monkeypatch.setattr(measured, "machine_signature", lambda cpuinfo=None: "another CPU")
    assert store.load("training step", "net") == {}
    assert "AMD EPYC 9R45 (family 26 model 2; avx2 fma avx512f avx512_bf16;" in machine_signature(CPUINFO)
    (tmp_path / next(tmp_path.iterdir()).name).write_text("{damaged")
    monkeypatch.undo()
    assert store.load("training step", "net") == {}  # a damaged record is measured again


def test_a_figure_measured_before_the_network_code_changed_is_measured_again(tmp_path, monkeypatch):
    import lim_tf.runtime.measured as measured

    models = tmp_path / "models"
    shutil.copytree(Path(measured.__file__).parents[1] / "models", models)
    assert network_code(models) == network_code()
    (models / "layers.py").write_text((models / "layers.py").read_text() + "\n# a fused layer\n")
    changed = network_code(models)
    assert changed != network_code()
    store = Measurements(tmp_path / "measured")
    store.save({"seconds": {"float32": 1.0}}, "training step", "net")
    monkeypatch.setattr(measured, "network_code", lambda: changed)
    assert store.load("training step", "net") == {}

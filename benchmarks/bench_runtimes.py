"""The demo map with each runtime, three calls in a row, and the commands' start-up, side by side.

Run alone: .venv/bin/python benchmarks/bench_runtimes.py [--model bijie] [--repeats 2] [--tiles 1]

Maps the demo's synthetic scene (`lim-tf data synth`, 1024 x 1024 at 0.8 m; --tiles N repeats it
N x N times) with MODEL through the command line, as a user runs it: `--runtime tensorflow`,
`onnx-int8` and `auto`, each three times in a row from an empty cache of converted networks and
timings (its own XDG_CACHE_HOME): the first call converts (and `auto` maps untimed on TensorFlow),
the second finds the conversion cached (and `auto` times the runtimes where the scene repays it),
the third finds everything remembered. Then times `lim-tf --help`, `lim-tf models` and
`lim-tf map --help`. Wall-clock seconds of whole commands, the best of --repeats; the last line
printed is JSON with the ratios to `tensorflow`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import cpu_model  # noqa: E402

LIM = [sys.executable, "-m", "lim_tf_cli.main", "-q"]


def timed(args: list, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*LIM, *map(str, args)], check=True, env=environment, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 2)


def repeated(scene: Path, tiles: int, out: Path) -> Path:
    """The scene repeated tiles x tiles times (the same georeferencing origin), or itself for 1."""
    if tiles == 1:
        return scene
    import numpy as np
    import rasterio

    with rasterio.open(scene) as source:
        pixels, profile = source.read(), source.profile
    pixels = np.tile(pixels, (1, tiles, tiles))
    profile.update(height=pixels.shape[1], width=pixels.shape[2], tiled=True, blockxsize=512, blockysize=512,
                   compress="deflate")
    with rasterio.open(out, "w", **profile) as target:
        target.write(pixels)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bijie")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    parser.add_argument("--tiles", type=int, default=1, help="map the demo scene repeated N x N times")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lim-tf-runtimes-"))
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([*LIM, "data", "synth", work / "synthetic"], check=True, env=base, stdout=subprocess.DEVNULL)
    scene = repeated(work / "synthetic/scene/scene.tif", args.tiles, work / "scene.tif")
    calls = ("first", "second", "third")
    seconds: dict[str, list[float]] = {}
    for runtime in ("tensorflow", "onnx-int8", "auto"):
        for repeat in range(args.repeats):
            environment = {**base, "XDG_CACHE_HOME": str(work / f"cache-{runtime}-{repeat}")}  # empty at first
            for call in calls:
                seconds.setdefault(f"map {runtime}, {call} call", []).append(
                    timed(["map", scene, args.model, work / "map", "--runtime", runtime, "--overwrite"], environment))
        for call in calls:
            print(f"map --runtime {runtime}, {call} call: {min(seconds[f'map {runtime}, {call} call']):.2f} s", flush=True)
    results = {key: min(values) for key, values in seconds.items()}
    for command in (["--help"], ["models"], ["map", "--help"]):
        best = min(timed(command, base) for _ in range(max(3, args.repeats)))
        results[f"lim-tf {' '.join(command)}"] = best
        print(f"lim-tf {' '.join(command)}: {best:.2f} s", flush=True)
    reference = {call: results[f"map tensorflow, {call} call"] for call in calls}
    ratios = {key: round(value / reference[key.split(", ")[1].split()[0]], 2) for key, value in results.items()
              if key.startswith("map ")}
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"cpu": cpu_model(), "model": args.model, "tiles": args.tiles, "seconds": results,
                      "x tensorflow": ratios}))


if __name__ == "__main__":
    main()

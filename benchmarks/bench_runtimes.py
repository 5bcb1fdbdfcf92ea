"""The demo map with each runtime, first and second call, and the commands' start-up, side by side.

Run alone: .venv/bin/python benchmarks/bench_runtimes.py [--model bijie] [--repeats 2]

Maps the demo's synthetic scene (`lim-tf data synth`) with MODEL through the command line, as a
user runs it: `--runtime tensorflow`, `onnx-int8` and `auto`, each first with an empty cache of
converted networks (its own XDG_CACHE_HOME) and then again with the cache it filled. Then times
`lim-tf --help`, `lim-tf models` and `lim-tf map --help`. Wall-clock seconds of whole commands,
the best of --repeats; the last line printed is JSON with the ratios to `tensorflow`.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bijie")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lim-tf-runtimes-"))
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([*LIM, "data", "synth", work / "synthetic"], check=True, env=base, stdout=subprocess.DEVNULL)
    scene = work / "synthetic/scene/scene.tif"
    results: dict[str, float] = {}
    for runtime in ("tensorflow", "onnx-int8", "auto"):
        for call in ("first", "second"):
            best = float("inf")
            for repeat in range(args.repeats):
                cache = work / f"cache-{runtime}-{repeat}"
                environment = {**base, "XDG_CACHE_HOME": str(cache)}
                if call == "first":
                    shutil.rmtree(cache, ignore_errors=True)  # an empty cache: conversion and timing included
                else:
                    timed(["map", scene, args.model, work / "warm", "--runtime", runtime, "--overwrite"], environment)
                best = min(best, timed(["map", scene, args.model, work / "map", "--runtime", runtime, "--overwrite"],
                                       environment))
            results[f"map {runtime}, {call} call"] = best
            print(f"map --runtime {runtime}, {call} call: {best:.2f} s", flush=True)
    for command in (["--help"], ["models"], ["map", "--help"]):
        best = min(timed(command, base) for _ in range(max(3, args.repeats)))
        results[f"lim-tf {' '.join(command)}"] = best
        print(f"lim-tf {' '.join(command)}: {best:.2f} s", flush=True)
    reference = {call: results[f"map tensorflow, {call} call"] for call in ("first", "second")}
    ratios = {key: round(value / reference[key.split(", ")[1].split()[0]], 2) for key, value in results.items()
              if key.startswith("map ")}
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"cpu": cpu_model(), "model": args.model, "seconds": results, "x tensorflow": ratios}))


if __name__ == "__main__":
    main()

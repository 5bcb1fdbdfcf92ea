"""Region mapping on Dask distributed against the in-process path, side by side in one run.

Run: .venv/bin/python benchmarks/bench_cluster.py [--size 4000] [--small 2000] [--tile 1024] [--width 0.25]

A generated scene (noise with bright discs) and an untrained FCN-FL (width 0.25; `--width 1` for the
full-width network, whose prediction outweighs the run's fixed and serial costs), saved as a run
folder as training leaves it (so the cluster client reads run.json and only the workers load the
model), are mapped three
ways, each in a fresh process: in process with one TensorFlow thread, and on a local Dask cluster
with 1 and with 2 single-threaded workers (the cluster is started, and TensorFlow imported in its
workers as it is in the in-process run, before the clock starts; the workers' model loading is
timed, as it is part of a run). Peak memory per worker is read for the
scene and for a smaller one. Targets: 2 workers >= 1.7 x the throughput of 1; 1 worker within
10 % of in process; worker memory flat in scene size. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}

RUN = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    from lim_tf.mapping.config import MapConfig, PredictConfig
    from lim_tf.mapping.region import RegionConfig, map_region
    from lim_tf.mapping.scene_map import map_scene
    scene, model, out, workers, tile = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    config = MapConfig(predict=PredictConfig(tile=tile, margin=32, batch_size=1), threshold=0.99)
    def main():
        if workers == 0:
            started = time.perf_counter()
            map_scene(Path(scene), model, out, config, progress=False)  # the default path for one scene
            seconds = time.perf_counter() - started
            peaks = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
        else:
            from distributed import Client, LocalCluster
            from lim_tf.runtime.cluster import WORKER_ENVIRONMENT
            from lim_tf.runtime.worker import WorkerSetup
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=":0", env=WORKER_ENVIRONMENT) as cluster, Client(cluster) as client:
                client.register_plugin(WorkerSetup())  # TensorFlow imported, as it is here before the clock
                started = time.perf_counter()
                map_region([scene], model, out, config, RegionConfig(cluster=cluster.scheduler_address), progress=False)
                seconds = time.perf_counter() - started
                peaks = list(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())
        print(json.dumps({"seconds": seconds, "peak_mb": peaks}))
    if __name__ == "__main__":
        main()
''')


def write_scene(path: Path, size: int) -> None:
    from lim_tf.testing import write_blob_scene

    write_blob_scene(path, size, pixel=1.6, origin=(500000, 3000000))


def write_run(folder: Path, model) -> Path:
    """A run folder holding `model` as its one fold, as training leaves it: its run.json tells a
    cluster client bands, threshold and memory, so only the workers load the model."""
    from lim_tf.runtime.memory import inference_estimate
    from lim_tf.trained.fold import FoldSummary
    from lim_tf.trained.run import RunState

    (folder / "fold0").mkdir(parents=True)
    model.save(folder / "fold0" / "model.keras")
    state = RunState(band_names=("red", "green", "blue"), records=str(folder / "records"))  # never read by map
    state.record_fold(0, FoldSummary("done", inference=inference_estimate([model])))
    state.save(folder)
    return folder


def timed(scene: Path, model: Path, work: Path, workers: int, tile: int) -> dict:
    script = work / "run_one.py"
    script.write_text(RUN)
    out = work / f"out-{scene.stem}-{workers}"
    environment = {**os.environ, **ONE_THREAD}
    done = subprocess.run([sys.executable, str(script), str(scene), str(model), str(out), str(workers), str(tile)],
                          capture_output=True, text=True, env=environment, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--width", type=float, default=0.25, help="FCN-FL width multiplier")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    from common import cpu_model

    from lim_tf.models import ModelConfig, build_model

    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    model = write_run(work / "run", build_model(ModelConfig(name="fcn-fl", width=args.width, mean=(80.0,) * 3,
                                                            std=(40.0,) * 3)))
    big, small = work / "big.tif", work / "small.tif"
    write_scene(big, args.size)
    write_scene(small, args.small)
    megapixels = args.size**2 / 1e6
    results = {}
    for label, workers in (("in_process_one_thread", 0), ("cluster_1_worker", 1), ("cluster_2_workers", 2)):
        results[label] = timed(big, model, work, workers, args.tile)
        results[label]["mpx_per_second"] = megapixels / results[label]["seconds"]
        print(f"{label}: {results[label]['seconds']:.1f} s, {results[label]['mpx_per_second']:.3f} Mpx/s, "
              f"peak {max(results[label]['peak_mb']):.0f} MB", flush=True)
    results["cluster_2_workers_small_scene"] = timed(small, model, work, 2, args.tile)
    speedup = results["cluster_2_workers"]["mpx_per_second"] / results["cluster_1_worker"]["mpx_per_second"]
    one_vs_here = results["cluster_1_worker"]["mpx_per_second"] / results["in_process_one_thread"]["mpx_per_second"]
    print(json.dumps({"cpu": cpu_model(), "width": args.width,
                      "scene_px": args.size, "small_scene_px": args.small, "tile": args.tile, "results": results,
                      "two_workers_over_one": speedup, "one_worker_over_in_process": one_vs_here,
                      "worker_peak_mb": {"big": max(results["cluster_2_workers"]["peak_mb"]),
                                         "small": max(results["cluster_2_workers_small_scene"]["peak_mb"])}}))


if __name__ == "__main__":
    main()

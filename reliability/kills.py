"""SIGKILL at seeded random moments during each lim-tf command, then checks.

After every kill the command's output must be absent or whole and valid; an output that existed
before an --overwrite run must still be the old one (a marker file tells) or the whole new one;
the next run (the same command, or with --resume) must finish, leave no temporary files, and give
what an uninterrupted run gives wherever the computation is deterministic (here: everywhere).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MARKER = "left-by-the-previous-output"


def lim_tf(*args: Any, check: bool = True) -> subprocess.CompletedProcess:
    """Run the command line in a fresh process, quietly."""
    done = subprocess.run([sys.executable, "-m", "lim_tf_cli.main", "-q", *map(str, args)], capture_output=True,
                          text=True)
    if check and done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"lim-tf {' '.join(map(str, args))} failed: {lines[-1] if lines else done.returncode}")
    return done


@dataclass
class Case:
    """One command under test."""

    name: str
    args: Callable[[Path], list]  # the command for an output path
    resume: Callable[[Path], list]  # how to finish after a kill
    check: Callable[[Path], None]  # raises AssertionError when the output is not whole
    fingerprint: Callable[[Path], Any]  # what must equal an uninterrupted run's
    overwrite: bool = False  # the output exists before each run (with a marker) and is replaced
    seconds: float = 0.0  # an uninterrupted run, measured
    reference: Any = None
    results: dict = field(default_factory=lambda: {"kills": 0, "whole_or_absent": 0, "old_kept_or_new_whole": 0,
                                                   "finished": 0, "clean": 0, "equal": 0, "failures": []})


def leftovers(output: Path) -> list[str]:
    """Temporaries of a lim-tf writer beside or inside the output."""
    names = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
    if output.is_dir():
        names += [str(p.relative_to(output)) for p in output.rglob(".*partial*")]
    return names


def kill_once(case: Case, work: Path, seed: int) -> None:
    """Start the command, kill it at a random moment, check, finish it, check again."""
    rng = np.random.default_rng(seed)
    output = work / f"{case.name}-{seed}"
    if case.overwrite:
        shutil.copytree(work / f"{case.name}-reference", output)
        (output / MARKER).write_text("old")
    process = subprocess.Popen([sys.executable, "-m", "lim_tf_cli.main", "-q", *map(str, case.args(output))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.05, 1.0) * case.seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
    results = case.results
    results["kills"] += 1
    try:
        if output.exists():
            case.check(output)
        results["whole_or_absent"] += 1
        if case.overwrite:
            assert output.exists(), "the old output vanished before the new one was whole"
            if not (output / MARKER).exists():
                case.check(output)
            results["old_kept_or_new_whole"] += 1
        finish = case.resume(output)
        lim_tf(*finish)
        case.check(output)
        results["finished"] += 1
        left = leftovers(output)
        assert not left, f"temporary files left: {left[:3]}"
        results["clean"] += 1
        assert case.fingerprint(output) == case.reference, "the finished output differs from an uninterrupted run"
        results["equal"] += 1
    except (AssertionError, RuntimeError) as error:
        results["failures"].append(f"seed {seed}: {str(error)[-2500:]}")
    finally:
        shutil.rmtree(output, ignore_errors=True)


def prepare(work: Path) -> dict[str, Path]:
    """The inputs every case uses: generated chips and scene, records, and a two-fold run."""
    inputs = {"synthetic": work / "synthetic", "records": work / "records", "run": work / "run"}
    lim_tf("data", "synth", inputs["synthetic"], "--landslide-chips", "12", "--non-landslide-chips", "12",
           "--scene-size", "384", "--seed", "5")
    lim_tf("data", "build", inputs["synthetic"] / "bijie", inputs["records"], "--folds", "2", "--test-landslide", "3")
    # Both folds in this process: the inputs need a finished two-fold run, not fold isolation (one TF start less).
    # One epoch: the cases read this run, they do not judge its learning.
    lim_tf("train", inputs["records"], inputs["run"], *TINY, "--epochs", "1", "--preset", "fcn-flk",
           "--no-fold-processes")
    return inputs


TINY = ["--width", "0.0625", "--tile", "32", "--batch-size", "4"]
TRAIN = [*TINY, "--epochs", "3"]  # enough epochs for a kill to land mid-run and a resume to follow


def _hashes(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER and not any(s in str(p.relative_to(folder)) for s in skip)}


def _records_check(out: Path) -> None:
    from lim_tf.data.manifest import verify_records

    verify_records(out)


def _run_check(run: Path) -> None:
    from lim_tf.models import load_model
    from lim_tf.trained.run import RUN_FILE, RunState

    if (run / RUN_FILE).exists():
        for name in RunState.load(run).models:  # a whole, valid state: a killed run never leaves half a file
            load_model(run / name)
    for model in run.glob("fold*/model.keras"):
        load_model(model)


def _run_fingerprint(run: Path) -> Any:
    from lim_tf.models import load_model
    from lim_tf.trained.run import RunState

    x = np.random.default_rng(0).uniform(0, 255, (1, 40, 44, 3)).astype(np.float32)
    models = RunState.load(run).models
    histories = {p.parent.name: p.read_text() for p in sorted(run.glob("fold*/history.csv"))}
    outputs = [hashlib.sha256(np.asarray(load_model(run / name)(x)).tobytes()).hexdigest() for name in models]
    return models, histories, outputs


def _eval_check(out: Path) -> None:
    metrics = json.loads((out / "metrics.json").read_text())
    rows = (out / "per_image.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == metrics["images"], "per_image.csv and metrics.json disagree"


def _eval_fingerprint(out: Path) -> Any:
    metrics = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in ("run", "data")}, (out / "per_image.csv").read_text()


def _map_check(out: Path) -> None:
    import pyogrio
    import rasterio

    folders = [out] if (out / "summary.json").exists() and not (out / "region").exists() else \
        [p for p in out.iterdir() if p.is_dir() and p.name != "region"]
    for folder in folders:
        for name in ("probability", "landslides"):
            with rasterio.open(folder / f"{name}.tif") as src:
                assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG", f"{folder / name}.tif is not a COG"
                assert src.overviews(1) or max(src.shape) <= 512, f"{folder / name}.tif has no overviews"
                src.read()
        pyogrio.read_info(folder / "inventory.gpkg", layer="inventory")
        json.loads((folder / "summary.json").read_text())
    if (out / "region").exists():
        pyogrio.read_info(out / "region" / "inventory.gpkg", layer="inventory")
        json.loads((out / "region" / "summary.json").read_text())


def _map_fingerprint(out: Path) -> Any:
    import rasterio

    arrays = {}
    for path in sorted(out.rglob("*.tif")):
        with rasterio.open(path) as src:
            arrays[str(path.relative_to(out))] = hashlib.sha256(src.read().tobytes()).hexdigest()
    summaries = sorted(json.loads(p.read_text()).get("landslides", 0) for p in out.rglob("summary.json"))
    return arrays, summaries


def _export_check(out: Path) -> None:
    import tensorflow as tf

    for version in (out / "model").iterdir() if (out / "model").exists() else []:
        if version.name.startswith("."):
            continue
        assert (version / "metadata.json").exists(), f"{version} has no metadata.json"
        tf.saved_model.load(str(version))


def _export_fingerprint(out: Path) -> Any:
    """The newest version's answer to a fixed image (rounded: exports of one run agree to 1e-5)."""
    import tensorflow as tf

    newest = max((p for p in (out / "model").iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, 40, 44, 3)).astype(np.float32))
    answer = tf.saved_model.load(str(newest)).signatures["serving_default"](images=image)["probability"].numpy()
    return np.round(answer, 5).tobytes()


def cases(inputs: dict[str, Path]) -> list[Case]:
    synthetic, records, run = inputs["synthetic"], inputs["records"], inputs["run"]
    scene = synthetic / "scene" / "scene.tif"
    second = synthetic / "scene2.tif"
    if not second.exists():  # a second, overlapping scene for the region run: the first, shifted
        import rasterio

        with rasterio.open(scene) as src:
            profile = src.profile | {"transform": src.transform * src.transform.translation(160, 0)}
            data = src.read()
        with rasterio.open(second, "w", **profile) as dst:
            dst.write(data)
    build = ["data", "build", synthetic / "bijie"]
    return [
        Case("data-build", lambda o: [*build, o, "--folds", "2", "--test-landslide", "3", "--overwrite"],
             lambda o: [*build, o, "--folds", "2", "--test-landslide", "3", "--overwrite"], _records_check,
             _hashes, overwrite=True),
        Case("train-one-fold", lambda o: ["train", records, o, *TRAIN],
             lambda o: ["train", records, o, *TRAIN, *(["--resume"] if o.exists() else [])], _run_check,
             _run_fingerprint),
        Case("train-k-folds", lambda o: ["train", records, o, *TRAIN, "--preset", "fcn-flk"],
             lambda o: ["train", records, o, *TRAIN, "--preset", "fcn-flk", *(["--resume"] if o.exists() else [])],
             _run_check, _run_fingerprint),
        Case("eval", lambda o: ["eval", run, "--out", o, "--threshold", "0.5", "--overwrite", "--figures", "2"],
             lambda o: ["eval", run, "--out", o, "--threshold", "0.5", "--overwrite", "--figures", "2"],
             _eval_check, _eval_fingerprint, overwrite=True),
        Case("map", lambda o: ["map", scene, run, o, "--overwrite", "--tile", "128"],
             lambda o: ["map", scene, run, o, "--overwrite", "--tile", "128"], _map_check, _map_fingerprint,
             overwrite=True),
        Case("map-region", lambda o: ["map", scene, second, run, o, "--tile", "64", "--resume"],
             lambda o: ["map", scene, second, run, o, "--tile", "64", "--resume"], _map_check, _map_fingerprint),
        Case("export", lambda o: ["export", run, o, "--name", "model"], lambda o: ["export", run, o, "--name", "model"],
             _export_check, _export_fingerprint),
    ]


def run_kills(work: Path, kills: int, seed: int = 0, only: list[str] | None = None,
              inputs: dict[str, Path] | None = None, keep_references: bool = False) -> dict[str, Any]:
    """Every case (or those named): a reference run, then `kills` killed runs. Returns the report.
    Kept references (WORK/CASE-reference) spare run_faults on the same WORK from making them again."""
    work.mkdir(parents=True, exist_ok=True)
    inputs = inputs or prepare(work)
    report = {}
    for number, case in enumerate(cases(inputs)):
        if only and case.name not in only:
            continue
        reference = work / f"{case.name}-reference"
        started = time.perf_counter()
        lim_tf(*case.args(reference))
        case.seconds = time.perf_counter() - started
        case.check(reference)
        case.reference = case.fingerprint(reference)
        for kill in range(kills):
            kill_once(case, work, seed + 1000 * number + kill)
        report[case.name] = {**case.results, "seconds_uninterrupted": round(case.seconds, 1)}
        if not keep_references:
            shutil.rmtree(reference, ignore_errors=True)
    return report

"""`make reliability`: kills, out-of-space faults (a file-size limit, and small tmpfs file systems
whose bytes or inodes run out), Dask workers lost at set-up, mid-run and tear-down, and fuzzed
inputs against every command.

Run: .venv/bin/python -m reliability [--kills 10] [--fuzz 350] [--disks 4] [--worker-losses 2] [--seed 0] [--work DIR]
The last line printed is a JSON report; the exit status is non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per command")
    parser.add_argument("--fuzz", type=int, default=350, help="generated inputs per kind (9 kinds)")
    parser.add_argument("--disks", type=int, default=4, help="small file systems per command (needs root)")
    parser.add_argument("--worker-losses", type=int, default=2, help="runs per moment a worker is lost")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    from lim_tf.runtime.process import import_tensorflow_quietly

    import_tensorflow_quietly()
    from reliability.cluster import run_worker_loss
    from reliability.faults import run_disk_faults, run_faults
    from reliability.fuzz import run_fuzz, totals
    from reliability.kills import run_kills

    work = args.work or Path(tempfile.mkdtemp(prefix="lim-tf-reliability-"))
    started = time.perf_counter()
    kills = run_kills(work / "kills", args.kills, args.seed)
    faults = run_faults(work / "faults")
    disks = run_disk_faults(work / "disks", args.disks, args.seed)
    losses = run_worker_loss(work / "losses", args.worker_losses, args.seed)
    fuzz = run_fuzz(work / "fuzz", args.fuzz, args.seed)
    kill_failures = sum(len(case["failures"]) for case in kills.values())
    fault_failures = sum(len(problems) for problems in faults.values())
    disk_failures = sum(len(problems) for problems in disks.values() if isinstance(problems, list))
    loss_failures = sum(len(case["failures"]) for case in losses.values())
    summary = {"kills": sum(case["kills"] for case in kills.values()), "kill_failures": kill_failures,
               "write_faults": len(faults), "write_fault_failures": fault_failures,
               "disk_faults": disks.get("skipped", len(disks) * args.disks),
               "disk_fault_failures": disk_failures, "worker_losses": sum(case["runs"] for case in losses.values()),
               "worker_loss_failures": loss_failures, **totals(fuzz)}
    report = {"cpu": platform.processor() or platform.machine(), "seconds": round(time.perf_counter() - started),
              "summary": summary, "kills": kills, "faults": faults, "disks": disks, "worker_losses": losses,
              "fuzz": fuzz}
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    failed = kill_failures or fault_failures or disk_failures or loss_failures or summary["problems"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Crash safety: SIGKILL a collection or a tuning run at random points, resume it each time, check the dir.

For each mode (``collect``, ``tune``), a real ``workbench`` command on ``matmul_128`` with a budget large
enough never to finish is started, killed with SIGKILL (with its build and run workers) after a random delay
(``--delays``, seeded, so some kills land during start-up, some mid-build, some
mid-write), and started again on the same work dir, ``--kills`` times. After every kill the dir is checked the
way the next writer sees it, after its first step (the repair every writer runs under the lock):

* TVM's ``JSONDatabase`` opens it (in a separate process, so a crash is counted);
* duplicate (workload, trace) records (0 expected: resuming never measures a record again);
* records whose trace does not re-apply to its own workload (0 expected);
* side lines without their record: candidates measured but lost by the kill (at most the batch in flight).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

DELAYS = {"collect": (1.0, 12.0), "tune": (4.0, 30.0)}
COMMANDS = {
    "collect": ["collect", "--subgraph", "matmul_128", "--trials", "100000", "--batch", "8", "--min-repeat-ms", "2",
                "--quiet", "--out"],
    "tune": ["tune", "--subgraph", "matmul_128", "--trials", "100000", "--trials-per-iter", "8", "--cost-model",
             "xgb", "--confirm", "0", "--quiet", "--work-dir"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    parser.add_argument("--kills", type=int, default=100, help="kills per mode")
    parser.add_argument("--delays", nargs=2, type=float, default=None, metavar=("MIN", "MAX"),
                        help="seconds before each kill (default: 1-12 for collect, 4-30 for tune, whose search "
                             "takes seconds before its first batch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-root", default="work/bench/kill_resume")
    args = parser.parse_args()
    from _report import write_report

    from workbench.logs import WorkDir
    from workbench.testing import work_dir_health

    rng = random.Random(args.seed)
    results = {}
    for mode in args.modes:
        work_dir = Path(args.work_root) / mode
        shutil.rmtree(work_dir, ignore_errors=True)
        checks = []
        low, high = args.delays or DELAYS[mode]
        for k in range(args.kills):
            delay = rng.uniform(low, high)
            proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", *COMMANDS[mode], str(work_dir)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if not work_dir.is_dir():
                checks.append({"kill": k, "delay": delay, "records": 0, "tvm_opens": True, "duplicates": 0,
                               "traces_not_reapplying": 0, "orphan_side_lines": 0, "repaired": 0})
                continue
            wd = WorkDir(work_dir)
            repaired = len(wd.repair(tvm=True))  # what the next writer does first, under the lock
            wd.close()
            health = work_dir_health(work_dir)
            checks.append({"kill": k, "delay": delay, "repaired": repaired, **health})
            print(f"{mode} kill {k + 1}/{args.kills} after {delay:.1f} s: {health['records']} records, "
                  f"TVM opens {health['tvm_opens']}, dup {health['duplicates']}, bad traces "
                  f"{health['traces_not_reapplying']}, orphans {health['orphan_side_lines']}, lines moved {repaired}",
                  flush=True)
        results[mode] = {
            "kills": len(checks), "tvm_opens": sum(c["tvm_opens"] for c in checks),
            "max_duplicates": max(c["duplicates"] for c in checks),
            "max_traces_not_reapplying": max(c["traces_not_reapplying"] for c in checks),
            "max_orphan_side_lines": max(c["orphan_side_lines"] for c in checks),
            "final_records": checks[-1]["records"], "lines_moved_out": sum(c["repaired"] for c in checks),
            "checks": checks}
    lines = ["| mode | kills | TVM opens the dir | max duplicate records | max records not re-applying | "
             "max measured but lost (side lines without record) | records at the end | torn lines moved out |",
             "|---|---|---|---|---|---|---|---|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {r['kills']} | {r['tvm_opens']}/{r['kills']} | {r['max_duplicates']} | "
                     f"{r['max_traces_not_reapplying']} | {r['max_orphan_side_lines']} | {r['final_records']} | "
                     f"{r['lines_moved_out']} |")
    body = "\n".join([
        f"Each mode: {args.kills} SIGKILLs (with the workers) after a delay drawn uniformly from "
        + ", ".join(f"{lo:g}-{hi:g} s ({m})" for m, (lo, hi) in ((m, args.delays or DELAYS[m]) for m in args.modes))
        + f" (seed {args.seed}), each followed by the next writer's repair and the checks. The batch in flight is 8 candidates (`--batch 8` / `--trials-per-iter 8`).", "", *lines])
    path = write_report("kill_resume", title="SIGKILL at random points, then resume", body=body,
                        data={"results": results, "settings": vars(args)})
    print(path.read_text())


if __name__ == "__main__":
    main()

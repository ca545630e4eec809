"""Robustness: seeded damage to every log file and every model file, and what each reader does with it.

Logs: a small real work dir (``workbench.testing.sample_work_dir``: 2 workloads, 12 shipped records each) is
copied and one of its six files damaged (``workbench.testing.mutations``: flipped bytes, cut writes, blank,
duplicated, huge or torn lines, values of the wrong type or range, deep nesting), ``--mutations`` times per
file. Each copy then goes through ``load_logs(errors="warn")`` (must not raise; every problem must name its
file and line; every record line left intact must be kept) and through what a tuning run does before TVM
opens a dir (``WorkDir.repair(tvm=True)``, then ``JSONDatabase``), in a separate worker process, so that a
crash is counted rather than suffered. ``TuningRun.database()`` and ``compile()`` open TVM the same way (a
checked, cleaned copy).

Models: a small trained evaluator is saved, and each of its files damaged (bytes) ``--mutations`` times, or
replaced by the file of the same name from the shipped CUDA model (a mixed dir); ``Evaluator.load`` must
refuse every one with a ``ModelFileError`` naming a file, and never raise anything else.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

WORKER = r"""
import sys
from workbench._tvm import import_tvm
import_tvm()
from tvm.s_tir.meta_schedule.database import JSONDatabase
from workbench.logs import WorkDir
for line in sys.stdin:
    path = line.strip()
    try:
        wd = WorkDir(path)
        wd.repair(tvm=True)
        wd.close()
        print("ok", len(JSONDatabase(work_dir=path)), flush=True)
    except Exception as err:
        print("raised", type(err).__name__, str(err).splitlines()[-1][:200] if str(err) else "", flush=True)
"""


class Worker:
    """A process that repairs and opens work dirs with TVM, restarted when a dir crashes it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.crashes = 0

    def open(self, path: Path) -> str:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer:
            self.crashes += 1
            self.proc = None
            return "crashed"
        return answer

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


def fuzz_logs(n: int, seed: int, root: Path) -> dict:
    from workbench.integrity import FILES, RECORD_FILE
    from workbench.logs import load_logs
    from workbench.testing import sample_work_dir
    from workbench.testing.mutations import mutate_lines
    from workbench.traces import trace_key

    base = sample_work_dir(root / "base")
    keys = [trace_key(json.loads(line)[1][0]) for line in (base / RECORD_FILE).read_text().splitlines()]
    worker = Worker()
    out = {}
    for name in FILES:
        stats = {"mutations": 0, "load_logs_raised": 0, "unnamed_problems": 0, "good_lines_lost": 0,
                 "tvm_crashed": 0, "tvm_raised": 0, "kinds": {}}
        for k in range(n):
            wd = root / "case"
            shutil.rmtree(wd, ignore_errors=True)
            shutil.copytree(base, wd)
            if not (wd / name).is_file():
                (wd / name).write_text("")
            mutation = mutate_lines(wd / name, random.Random(f"{seed}/{name}/{k}"))
            stats["mutations"] += 1
            stats["kinds"][mutation.kind] = stats["kinds"].get(mutation.kind, 0) + 1
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    df = load_logs(wd, errors="warn", progress=False)
                stats["unnamed_problems"] += sum(1 for w in caught if f"{wd}/" not in str(w.message)
                                                 or not str(w.message).split(": ")[0].rsplit(":", 1)[-1].isdigit())
                if name == RECORD_FILE:
                    if mutation.kind in ("blank_line", "huge_line", "deep_nesting", "duplicate_line"):
                        intact = [i if i < mutation.line else i - 1 for i in mutation.intact]
                    else:
                        intact = mutation.intact
                    stats["good_lines_lost"] += len({keys[i - 1] for i in intact} - set(df["trace_key"]))
            except Exception:  # noqa: BLE001 - counted: load_logs must never raise on bad lines
                stats["load_logs_raised"] += 1
            answer = worker.open(wd)
            stats["tvm_crashed"] += answer == "crashed"
            stats["tvm_raised"] += answer.startswith("raised")
        out[name] = stats
        print(name, {k: v for k, v in stats.items() if k != "kinds"}, flush=True)
    worker.close()
    return out


def fuzz_models(n: int, seed: int, root: Path) -> dict:
    from workbench.testing import tiny_evaluator
    from workbench.testing.mutations import mutate_bytes
    from workbench.worldmodel import Evaluator, ModelFileError, default_model_dir

    base = tiny_evaluator().save(root / "model")
    files = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    cuda = default_model_dir("cuda")
    out = {}
    for rel in files:
        stats = {"mutations": 0, "rejected": 0, "loaded": 0, "other_errors": 0, "unnamed": 0, "mixed": None}
        cases = [("bytes", k) for k in range(n)] + ([("mixed", 0)] if (cuda / rel).is_file() else [])
        for how, k in cases:
            case = root / "case_model"
            shutil.rmtree(case, ignore_errors=True)
            shutil.copytree(base, case)
            if how == "bytes":
                mutate_bytes(case / rel, random.Random(f"{seed}/{rel}/{k}"))
                stats["mutations"] += 1
            else:
                shutil.copy(cuda / rel, case / rel)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    Evaluator.load(case)
                result = "loaded"
            except ModelFileError as err:
                result = "rejected"
                stats["unnamed"] += str(case) not in str(err)
            except Exception:  # noqa: BLE001 - counted: anything but ModelFileError is a defect
                result = "other_errors"
            if how == "mixed":
                stats["mixed"] = result
            else:
                stats[result] += 1
        out[rel] = stats
        print(rel, stats, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutations", type=int, default=1000, help="per file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from _report import write_report

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        logs = fuzz_logs(args.mutations, args.seed, Path(tmp))
        models = fuzz_models(args.mutations, args.seed, Path(tmp))
    lines = ["| log file | mutations | load_logs raised | problems not naming file:line | intact records lost | "
             "TVM crashed | TVM refused the repaired dir |", "|---|---|---|---|---|---|---|"]
    for name, s in logs.items():
        lines.append(f"| {name} | {s['mutations']} | {s['load_logs_raised']} | {s['unnamed_problems']} | "
                     f"{s['good_lines_lost']} | {s['tvm_crashed']} | {s['tvm_raised']} |")
    lines += ["", "| model file | damaged copies | refused (ModelFileError naming the file) | loaded | other errors | "
              "the CUDA model's file dropped in |", "|---|---|---|---|---|---|"]
    for rel, s in models.items():
        lines.append(f"| {rel} | {s['mutations']} | {s['rejected'] - s['unnamed']} | {s['loaded']} | "
                     f"{s['other_errors']} | {s['mixed'] or 'n/a'} |")
    kinds = sorted({k for s in logs.values() for k in s["kinds"]})
    body = "\n".join([f"{args.mutations} seeded mutations per file (seed {args.seed}); damage kinds: "
                      f"{', '.join(kinds)}. {time.perf_counter() - start:.0f} s in all.", "", *lines])
    path = write_report("fuzz_logs", title="Damaged logs and model files: what the readers do", body=body,
                        data={"logs": logs, "models": models, "settings": vars(args)})
    print(path.read_text())


if __name__ == "__main__":
    main()

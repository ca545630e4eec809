"""Tuned builds of one model timed side by side: several work dirs (graph pipelines, cost models) compiled, then
run interleaved with PyTorch eager and ``torch.compile`` in one process.

``tune_e2e.py`` times each row's build against PyTorch on its own, minutes apart; on these shared 2-core VMs
eager BERT moved between 152 and 191 ms from one row to the next, so comparing two TVM builds across rows
compares two moments of the host. Here every build and PyTorch run in rounds: each round calls every runner
``--block`` times in a row (blocks, not single calls: an idle runtime's threads spin for a while after a call
and slow whoever runs next), the runners' order rotated every round. Reported per runner: the median over all
calls; per pair, the ratio of medians and its range over the rounds (each round's medians divided). Nothing is
tuned: the work dirs are those ``tune_e2e.py`` left (``<work-root>/<model>-<cost model>-<pipeline>``).
Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def runners_for(model: str, builds: list[str], work_root: Path, try_compile: bool) -> tuple[dict, dict, str | None]:
    """Callables per label (each build, ``PyTorch eager``, ``torch.compile``), each build's max abs error
    against eager, and why ``torch.compile`` did not run, if it did not."""
    from e2e_tasks import open_run

    from workbench._tvm import import_tvm
    from workbench.tuning.e2e import TorchModel, flat_outputs, torch_runners

    tvm = import_tvm()
    from tvm import relax

    dev = tvm.cpu(0)
    reference = TorchModel.from_catalog(model)
    torch_side, compile_error = torch_runners(reference, try_compile)
    want = flat_outputs(torch_side["eager"]())
    args = [tvm.runtime.tensor(x.detach().cpu().numpy(), dev) for x in reference.inputs]
    runners: dict[str, Any] = {}
    errors: dict[str, float] = {}
    for build in builds:
        pipeline, _, cost_model = build.partition(":")
        run = open_run(f"{model}@{pipeline}", work_root / f"{model}-{cost_model}-{pipeline}")
        vm = relax.VirtualMachine(run.compile(), dev)
        got = flat_outputs(vm["main"](*args))
        errors[build] = max(float(np.max(np.abs(a - b))) for a, b in zip(want, got, strict=True))
        runners[build] = (lambda vm=vm: vm["main"](*args))
    labels = {"eager": "PyTorch eager", "compile": "torch.compile"}
    return {**runners, **{labels[k]: fn for k, fn in torch_side.items()}}, errors, compile_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="catalog model, e.g. bert_base")
    parser.add_argument("--builds", nargs="+", required=True,
                        help="pipeline:cost_model of each work dir, e.g. fold_pack:world fold_pack_fast:xgb")
    parser.add_argument("--work-root", default="work/bench/e2e-threads")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--block", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument("--name", default=None, help="report name (default compare_builds_<model>)")
    args = parser.parse_args()
    from workbench._tvm import runtime_threads, torch_ready
    from workbench.tuning.e2e import interleaved_times

    t0 = time.perf_counter()
    runners, errors, failed = runners_for(args.model, args.builds, Path(args.work_root), not args.no_compile)
    times = interleaved_times(runners, args.rounds * args.block, block=args.block, warmup=args.warmup)
    medians = {n: statistics.median(c for calls in t for c in calls) for n, t in times.items()}
    per_round = {n: [statistics.median(calls) for calls in t] for n, t in times.items()}
    lines = ["| runner | median (ms) | fastest round's median | slowest round's median | vs eager (range over rounds) "
             "| max abs error vs eager |", "|---|---|---|---|---|---|"]
    eager = per_round["PyTorch eager"]
    for n, med in sorted(medians.items(), key=lambda kv: kv[1]):
        ratios = [e / m for e, m in zip(eager, per_round[n], strict=True)]
        lines.append(f"| {n} | {med:.2f} | {min(per_round[n]):.2f} | {max(per_round[n]):.2f} | "
                     f"{medians['PyTorch eager'] / med:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | "
                     f"{format(errors[n], '.1e') if n in errors else ''} |")
    pairs = ["", "Each build against each other (ratio of medians > 1: the row's build is faster; range over rounds):",
             "", "| build | against | ratio | range over rounds |", "|---|---|---|---|"]
    for a in args.builds:
        for b in args.builds:
            if a != b:
                r = [y / x for x, y in zip(per_round[a], per_round[b], strict=True)]
                pairs.append(f"| {a} | {b} | {medians[b] / medians[a]:.3f}x | {min(r):.3f}-{max(r):.3f} |")
    body = (f"Model `{args.model}`, batch 1. Builds (`pipeline:cost model`, each compiled from its work dir under "
            f"`{args.work_root}`): {', '.join(f'`{b}`' for b in args.builds)}. {args.rounds} rounds of "
            f"{args.block} calls per runner, order rotated each round, after {args.warmup} warm-up calls each; TVM's "
            f"runtime on {runtime_threads()} threads, PyTorch on {torch_ready().get_num_threads()}."
            + (f" torch.compile did not run: {failed}." if failed else "") + "\n\n" + "\n".join(lines + pairs)
            + f"\n\nWhole benchmark: {time.perf_counter() - t0:.0f} s.\n")
    from _report import write_report

    path = write_report(args.name or f"compare_builds_{args.model}", title=f"{args.model}: tuned builds side by side",
                        body=body, data={"args": vars(args), "times": times, "errors": errors, "failed": failed})
    print(path.read_text())


if __name__ == "__main__":
    main()

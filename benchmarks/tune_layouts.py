"""Which graph pipeline gives tasks worth tuning: one task tuned under each pipeline, against PyTorch's op.

A model task (named as the default pipeline ``fold`` names it) is found again in each pipeline of ``--pipelines``
(the same operator, FLOPs and weight; ``workbench.subgraphs.graph_pipeline``), tuned there with ``--trials``
trials (the world model by default), and its best schedule confirmed by re-measurement (the run's own
confirmation: the top 3, three interleaved rounds). PyTorch runs the same operator (conv2d + bias, or the
matmul + bias, with PyTorch's own layout and kernels, ``--torch-threads`` threads), timed in the same process
after the runs of that task. Both sides' GFLOP/s use the task's FLOPs.

Built-in subgraphs with a PyTorch counterpart here (``matmul_256``, ``batch_matmul_12x128x64``) are tuned as
they are, under every pipeline name alike. The default tasks are
ResNet-50's and BERT-base's, none of them in ``tune_search.py``'s test split: the pipeline chosen
here is a configuration choice, not made on held-out data. Work dirs live under ``--work-root`` and resume (a run
already done is only confirmed, if it was not; its tuning time is that of its sessions).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from workbench.subgraphs.torch_import import GRAPH_PIPELINES  # noqa: E402

TASKS = ["resnet50/fused_conv2d13_add10_add11_relu8", "resnet50/fused_conv2d16_add9_relu7",
         "bert_base/fused_matmul3_add3", "bert_base/fused_matmul_add1"]
LAYOUT_OPS = ("conv2d",)  # the ops NHWC reaches; the others are tuned under the pipelines without "nhwc"


def counterpart(sub: Any, pipeline: str) -> Any:
    """The task of ``pipeline`` that computes what ``sub`` (a ``fold`` task) does: same op, FLOPs and weight;
    among several, the one whose name is ``sub``'s (the ``_pack`` pipelines append a 1)."""
    from workbench.subgraphs.models import model_subgraphs

    model, _, task = sub.name.partition("/")
    same = [s for s in model_subgraphs(model, pipeline=pipeline)
            if s.op == sub.op and s.weight == sub.weight and math.isclose(s.flops, sub.flops, rel_tol=1e-9)]
    named = [s for s in same if s.name.partition("/")[2] in (task, task + "1")]
    if len(named) == 1 or len(same) == 1:
        return (named or same)[0]
    raise SystemExit(f"{sub.name}: {len(same)} tasks of the {pipeline!r} pipeline have its op, FLOPs and weight "
                     f"({', '.join(s.name for s in same) or 'none'}); name the task more precisely")


def shapes(sub: Any) -> list[tuple[int, ...]]:
    """The shapes of the task's parameters, in order."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    return [tuple(int(d) for d in info.shape) for info in ArgInfo.from_prim_func(sub.mod["main"])]


def torch_op(sub: Any, threads: int) -> tuple[Any, str]:
    """A PyTorch call doing the task's main work (conv2d + bias, or matmul + bias), and what it is."""
    from workbench._tvm import torch_ready

    torch = torch_ready()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    shp = shapes(sub)
    if sub.op == "conv2d":  # NCHW data, OIHW weight, ..., NCHW output (the fold pipeline's task)
        data, weight, out = shp[0], shp[1], shp[-1]
        kh, size, out_size = weight[2], data[2], out[2]
        # "same" padding and a small stride, or no padding and a stride of the kernel (ViT's patch embedding)
        shape = next(((p, s) for p, s in ((kh // 2, 1), (kh // 2, 2), (kh // 2, 4), (0, 1), (0, kh))
                      if (size + 2 * p - kh) // s + 1 == out_size), None)
        if shape is None:
            raise SystemExit(f"{sub.name}: no padding and stride give a {out_size}-wide output from {size} with a "
                             f"{kh}-wide kernel")
        pad, stride = shape
        groups = data[1] // weight[1]  # depthwise: one input channel per group
        x, w, b = torch.randn(*data), torch.randn(*weight), torch.randn(weight[0])
        return (lambda: torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad, groups=groups),
                f"conv2d {data}x{weight} stride {stride} padding {pad}" + (f" groups {groups}" if groups > 1 else ""))
    if sub.op == "batch_matmul" and len(shp) == 3 and len(shp[0]) == 4 and shp[0] == shp[1]:  # q k^T, [b, l, h, d]
        q, k = torch.randn(*shp[0]), torch.randn(*shp[1])
        return (lambda: torch.matmul(q.permute(0, 2, 1, 3), k.permute(0, 2, 3, 1)),
                f"q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1), q, k {shp[0]}")
    if sub.op == "matmul" and len(shp) == 3 and len(shp[0]) == len(shp[1]) == 2:  # A x B, no bias
        x, y = torch.randn(*shp[0]), torch.randn(*shp[1])
        return lambda: torch.matmul(x, y), f"matmul {shp[0]}x{shp[1]}"
    if sub.op == "matmul" and len(shp[1]) >= 3:  # batched, both operands activations
        x, y = torch.randn(*shp[0]), torch.randn(*shp[1])
        if shp[0][-1] != shp[1][-2]:  # the task transposes its second operand (q x k^T)
            y = y.transpose(-1, -2).contiguous()
        return lambda: torch.matmul(x, y), f"batched matmul {shp[0]}x{shp[1]}"
    if sub.op == "matmul":  # [M, K] x [K, N] weight (+ bias)
        data, weight = shp[0], shp[1]
        x, w = torch.randn(*data), torch.randn(weight[-1], weight[-2])
        b = torch.randn(weight[-1])
        return lambda: torch.nn.functional.linear(x, w, b), f"linear {data}x{weight}"
    raise SystemExit(f"{sub.name}: no PyTorch counterpart for op {sub.op!r}")


def time_torch(fn: Any, *, rounds: int = 5, repeat: int = 50) -> float:
    """The fastest round's median (ms), as the confirmation's rounds are read."""
    from workbench._tvm import torch_ready

    torch = torch_ready()
    with torch.no_grad():
        for _ in range(10):
            fn()
        medians = []
        for _ in range(rounds):
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            medians.append(statistics.median(times))
    return min(medians) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=TASKS, help="model tasks as the fold pipeline names them")
    parser.add_argument("--pipelines", nargs="+", default=["fold", "fold_pack", "fold_nhwc", "fold_nhwc_pack"],
                        choices=GRAPH_PIPELINES)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--cost-model", default="world")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--work-root", default="work/bench/layouts")
    parser.add_argument("--name", default="tune_layouts")
    parser.add_argument("--title", default="Graph pipelines, task by task: tuned TVM against PyTorch's op on CPU")
    args = parser.parse_args()
    from _report import write_report

    from workbench.subgraphs import load_subgraph
    from workbench.tuning.run import TuningRun

    rows, t0 = [], time.perf_counter()
    for name in args.tasks:
        base = load_subgraph(name)
        fn, what = torch_op(base, args.torch_threads)
        pipelines = [p for p in args.pipelines if base.op in LAYOUT_OPS or "nhwc" not in p]
        for pipeline, seed in ((p, s) for p in pipelines for s in args.seeds):
            sub = base if pipeline == "fold" or "/" not in name else counterpart(base, pipeline)
            slug = f"{name.replace('/', '__')}-{pipeline}-{args.cost_model}-s{seed}"
            run = TuningRun(sub, trials=args.trials, cost_model=args.cost_model, seed=seed,
                            work_dir=Path(args.work_root) / slug)
            run.run(progress=False)
            best = run.best().iloc[0]
            sessions = json.loads((run.work_dir / "workbench_run.json").read_text())["sessions"]
            rows.append({"task": name, "pipeline": pipeline, "seed": seed, "tuned_task": sub.name, "op": base.op,
                         "flops": base.flops, "tvm_ms": float(best["latency_ms"]), "confirmed": bool(best["confirmed"]),
                         "tune_seconds": sum((s.get("timings") or {}).get("total", 0.0) for s in sessions),
                         "measured": run.measured, "torch_op": what})
            print(f"{name} {pipeline} seed {seed}: {best['latency_ms']:.3f} ms ({run.measured} trials)", flush=True)
        torch_ms = time_torch(fn)
        for row in rows:
            if row["task"] == name:
                row["torch_ms"] = torch_ms
    base = "fold" if "fold" in args.pipelines else args.pipelines[0]
    lines = ["| task | PyTorch op | pipeline | seed | TVM (ms) | confirmed | TVM GFLOP/s | PyTorch (ms) | PyTorch GFLOP/s | "
             f"TVM / PyTorch GFLOP/s | vs {base} | tuning (s) |", "|---" * 12 + "|"]
    for r in rows:
        ref = next((x for x in rows if x["task"] == r["task"] and x["pipeline"] == base and x["seed"] == r["seed"]),
                   None)
        versus = f"{ref['tvm_ms'] / r['tvm_ms']:.2f}x" if ref else "-"
        lines.append(f"| {r['task']} | {r['torch_op']} | {r['pipeline']} | {r['seed']} | {r['tvm_ms']:.3f} | {r['confirmed']} | "
                     f"{r['flops'] / r['tvm_ms'] / 1e6:.0f} | {r['torch_ms']:.3f} | {r['flops'] / r['torch_ms'] / 1e6:.0f} | "
                     f"{r['torch_ms'] / r['tvm_ms']:.0%} | {versus} | {r['tune_seconds']:.0f} |")
    body = (f"Cost model `{args.cost_model}`, {args.trials} trials per task, seeds {args.seeds}, one run per task, "
            f"pipeline and seed (with one seed, no spread: a ratio under ~1.1x is within what re-measurement and "
            f"search luck move). TVM: the task alone (the layout transforms a pipeline adds around it are other tasks; see "
            "`tune_e2e`); the run's best schedule, confirmed (median of its re-measurement rounds; `confirmed` False: the latency "
            "logged during the search). PyTorch "
            f"{args.torch_threads} threads: the fastest of 5 rounds' medians of 50 calls, after the task's runs. "
            f"`vs {base}` > 1: faster than the same task under `{base}`. Pipelines: `fold` (batch norm folded, NCHW), "
            "`fold_pack` (weights repacked by the schedule, Ansor's layout rewrite), `fold_nhwc` (convolutions in "
            "NHWC/OHWI), `fold_nhwc_pack` (both); see `workbench.subgraphs.graph_pipeline`.\n\n" + "\n".join(lines)
            + f"\n\nWhole benchmark: {time.perf_counter() - t0:.0f} s.\n")
    path = write_report(args.name, title=args.title,
                        body=body, data={"rows": rows, "args": vars(args)})
    print(path.read_text())


if __name__ == "__main__":
    main()

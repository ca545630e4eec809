"""Where tuned models' time goes, task by task: time shares before and after tuning, trials spent, GFLOP/s
against the machine's measured peak and against PyTorch's op.

Reads the work dirs ``tune_e2e.py`` left (``<work-root>/<model>-<cost model>-<pipeline>``), measures nothing of
them again: each task's best latency after its first search round ("before": what one round of the search
found) and at the end (confirmed where the run confirmed it), times its weight, as a share of the sum over the
model's tasks (``workbench.views.time_shares``); beside it, the task's share of the trials, which is what
MetaSchedule's gradient task scheduler spent on it. The peak is ``workbench.hardware.peak_gflops`` (a TVM-built
FMA loop on every core; measured by this benchmark when the cache has none, or with ``--refresh-peak``).

PyTorch (``--torch-threads``) runs the ``--torch-top`` largest conv2d and matmul tasks of each model's ``fold``
run (``tune_layouts.torch_op``: the op plus bias, without the epilogue TVM's task also computes), timed after all
work dirs were read, one op after another; the other pipelines' tasks are matched to them by name, or by op, FLOPs
and weight where one fold task has them (where several do, no PyTorch time is shown).
Run it on an idle machine: it times PyTorch and the FMA peak.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def open_run(model: str, work_dir: Path) -> Any:
    """The finished run in ``work_dir``, opened to read (its own config: budget, round size, cost model)."""
    from workbench.tuning.run import TuningRun

    config = json.loads((work_dir / "workbench_run.json").read_text())["config"]
    return TuningRun(model=model, trials=config["trials"], trials_per_iter=config["trials_per_iter"],
                     cost_model=config["cost_model"], seed=config["seed"], work_dir=work_dir)


# The ops whose FLOPs are multiply-adds, which the FMA peak measures; elsewhere TVM's FLOP count also counts
# compares, selects and the terms of a polynomial approximation (fast_erf), so "% of peak" would mean nothing.
FMA_BOUND = ("conv2d", "conv1d", "conv3d", "matmul", "batch_matmul", "dense", "conv2d_transpose")


def key(sub: Any) -> tuple[str, int, int]:
    return sub.op, int(round(sub.flops)), sub.weight


def fmt(value: Any, spec: str) -> str:
    """``value`` formatted, or empty when there is none (None or NaN)."""
    return "" if value is None or value != value else format(value, spec)


def plot(tables: dict[str, Any], path: Path, top: int) -> bool:
    """One bar chart per run, stacked; the PNG beside the report (False when kaleido cannot write it)."""
    from plotly.subplots import make_subplots

    from workbench.views import time_share_figure

    figs = {label: time_share_figure(t, top=top) for label, t in tables.items()}
    fig = make_subplots(rows=len(figs), cols=1, subplot_titles=list(figs), vertical_spacing=0.12 / len(figs))
    for row, f in enumerate(figs.values(), start=1):
        for trace in f.data:
            trace.showlegend = row == 1
            fig.add_trace(trace, row=row, col=1)
        fig.update_xaxes(title_text="% of the model" if row == len(figs) else None, row=row, col=1)
    height = sum(f.layout.height for f in figs.values())
    fig.update_layout(barmode="group", height=height, width=1000,
                      title="Share of the model's time per task: after the first round, tuned; share of trials")
    path.unlink(missing_ok=True)
    try:
        fig.write_image(path, width=1000, height=height, scale=1)
        return True
    except Exception as exc:  # noqa: BLE001 - no browser for kaleido: say so, keep the report
        print(f"no PNG ({type(exc).__name__}: {exc})", flush=True)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="+", required=True, help="model@pipeline, e.g. resnet50@fold_nhwc_pack")
    parser.add_argument("--cost-model", default="world")
    parser.add_argument("--work-root", default="work/bench/e2e")
    parser.add_argument("--torch-top", type=int, default=8, help="conv2d/matmul tasks per model timed in PyTorch")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--plot-top", type=int, default=12)
    parser.add_argument("--refresh-peak", action="store_true")
    parser.add_argument("--name", default="e2e_tasks")
    args = parser.parse_args()
    from _report import write_report
    from tune_layouts import time_torch, torch_op

    from workbench.hardware import peak_gflops
    from workbench.subgraphs import model_subgraphs, split_model
    from workbench.tuning.e2e import TorchModel, function_times
    from workbench.views import time_shares

    t0 = time.perf_counter()
    tables, subs, inside = {}, {}, {}
    for spec in args.runs:
        model, pipeline = split_model(spec)
        work_dir = Path(args.work_root) / f"{model}-{args.cost_model}-{pipeline}"
        run, label = open_run(spec, work_dir), f"{model}@{pipeline}"
        if run.remaining:
            raise SystemExit(f"{work_dir}: {run.measured}/{run.budget} trials measured; finish it with tune_e2e.py")
        tables[label] = time_shares(run)
        subs[label] = {s.name: s for s in run.subgraphs}
        inside[label] = function_times(TorchModel.from_catalog(model, pipeline), run.compile())
        print(f"{label}: {inside[label]['ms'].sum():.1f} ms per inference inside the model's functions", flush=True)
    torch_ms: dict[str, tuple[float, str]] = {}  # fold task name -> PyTorch ms, what ran
    fold_names: dict[tuple, list[str]] = {}  # (model, op, FLOPs, weight) -> the fold tasks with them
    for model in dict.fromkeys(label.partition("@")[0] for label in tables):
        fold = {s.name: s for s in model_subgraphs(model, pipeline="fold")}
        for sub in fold.values():
            fold_names.setdefault((model, *key(sub)), []).append(sub.name)
        shares = tables.get(f"{model}@fold")
        order = list(shares.index) if shares is not None else sorted(fold, key=lambda n: -fold[n].flops * fold[n].weight)
        picked = [fold[n] for n in order if fold[n].op in ("conv2d", "matmul", "batch_matmul")][:args.torch_top]
        for sub in picked:
            try:
                fn, what = torch_op(sub, args.torch_threads)
            except SystemExit as why:  # no PyTorch counterpart written for this task: say so, time the others
                print(f"not timed in PyTorch: {why}", flush=True)
                continue
            torch_ms[sub.name] = (time_torch(fn), what)
            print(f"{sub.name}: PyTorch {torch_ms[sub.name][0]:.3f} ms ({what})", flush=True)
    peak = peak_gflops(refresh=args.refresh_peak)
    rows, summary = [], {}
    for spec, table in tables.items():
        model = spec.partition("@")[0]
        both = table[table["first_ms"].notna() & table["best_ms"].notna()]  # the tasks the shares cover
        summary[spec] = {"tasks": len(table), "tasks_summed": len(both), "trials": int(table["trials"].sum()),
                         **{f"sum_{c}": float((both["weight"] * both[c]).sum())
                            for c in ("first_ms", "logged_ms", "best_ms")},
                         "in_model_ms": float(inside[spec]["ms"].sum())}
        in_model = inside[spec].groupby("task")["ms_per_call"].sum()
        for task, r in table.iterrows():
            sub = subs[spec][task]
            same = fold_names.get((model, *key(sub)), [])  # the fold task it is (by name), or the one like it
            ref = torch_ms.get(task) or (torch_ms.get(same[0]) if len(same) == 1 else None)
            rows.append({"run": spec, "task": task, "op": sub.op, "flops": sub.flops, **r.to_dict(),
                         "pct_peak": r["gflops"] / peak["gflops"] if sub.op in FMA_BOUND else math.nan,
                         "torch_ms": ref[0] if ref else None, "torch_op": ref[1] if ref else None,
                         "in_model_ms": in_model.get(task.partition("/")[2], math.nan)})
    png = plot(tables, Path(__file__).parent / "results" / f"{args.name}.png", args.plot_top)
    load = "unknown" if peak.get("loadavg") is None else f"{peak['loadavg']:.2f}"
    body = [f"Peak: **{peak['gflops']:.0f} GFLOP/s** on {peak['threads']} threads, {peak['gflops_one_core']:.0f} on "
            f"one ({peak['kernel']}; measured {peak['measured']}, load average {load} then). "
            f"Cost model `{args.cost_model}`. \"first round\": the task's best logged latency after its first search "
            "round; \"logged\": its best logged latency at the end (both the lowest of single timings, so the gain "
            "compares like with like); \"tuned\": its best as the run reports it (the median of its re-measurement "
            "where confirmed). Shares are of the sum of weight x latency over the model's tasks measured in the "
            "first round, which leaves out what runs between tasks (the end-to-end build time is in `tune_e2e`). "
            "\"inside the model\": each task's time per call in the compiled model (`function_times`: TVM's VM "
            "instrument around every call, 5 inferences, nothing else running), where its weights and inputs are not "
            "kept warm in cache by repeated calls as in tuning; the sum is over every function the model calls. "
            "% of peak is shown for convolutions and matmuls only: elsewhere TVM's FLOP count is not multiply-adds. "
            f"PyTorch: {args.torch_threads} threads, fastest of 5 rounds' medians of 50 calls, op plus bias only "
            "(TVM's task also computes its fused epilogue).\n",
            "## Sum of weight x latency over the tasks\n", "| run | tasks (summed) | trials | first round (ms) | "
            "logged (ms) | gain (first / logged) | tuned (ms) | inside the model (ms) |", "|---" * 8 + "|"]
    for spec, s in summary.items():
        gain = s["sum_first_ms"] / s["sum_logged_ms"] if s["sum_logged_ms"] > 0 else math.nan
        body.append(f"| {spec} | {s['tasks']} ({s['tasks_summed']}) | {s['trials']} | {s['sum_first_ms']:.1f} | "
                    f"{s['sum_logged_ms']:.1f} | {gain:.2f}x | {s['sum_best_ms']:.1f} | {s['in_model_ms']:.1f} |")
    body += ["", f"Plot: `{args.name}.png`" if png else "No plot (kaleido could not run).", ""]
    for spec in tables:
        body += [f"## {spec}\n", "| task | op | x | trials (share) | first round (ms) | logged (ms) | tuned (ms) | "
                 "in the model (ms) | share of time: first round -> tuned | GFLOP/s | % of peak | PyTorch (ms) | "
                 "TVM / PyTorch speed |", "|---" * 13 + "|"]
        for r in (r for r in rows if r["run"] == spec):
            vs = fmt(r["torch_ms"] / r["best_ms"] if r["torch_ms"] else None, ".0%")
            body.append(f"| {r['task'].partition('/')[2]} | {r['op']} | {int(r['weight'])} | {int(r['trials'])} "
                        f"({fmt(r['trial_share'], '.1%')}) | {fmt(r['first_ms'], '.3f')} | {fmt(r['logged_ms'], '.3f')} | "
                        f"{fmt(r['best_ms'], '.3f')} | {fmt(r['in_model_ms'], '.3f')} | {fmt(r['share_first'], '.1%')} -> {fmt(r['share_best'], '.1%')} | "
                        f"{fmt(r['gflops'], '.0f')} | {fmt(r['pct_peak'], '.0%')} | {fmt(r['torch_ms'], '.3f')} | {vs} |")
        body.append("")
    body.append(f"Whole benchmark: {time.perf_counter() - t0:.0f} s.")
    path = write_report(args.name, title="Tuned models task by task: time shares, trials, GFLOP/s against peak "
                        "and PyTorch", body="\n".join(body),
                        data={"peak": peak, "summary": summary, "args": vars(args),
                              "rows": [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
                                       for r in rows]})  # NaN is not JSON
    print(path.read_text())


if __name__ == "__main__":
    main()

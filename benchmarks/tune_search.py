"""Search quality: the world model inside MetaSchedule's search against every baseline, same trial budget.

Test split, frozen on 2026-12-03 before anything was tuned for this benchmark (``TEST_SPLIT``): eleven held-out
subgraphs, none of them (nor any other subgraph of ViT-B/16) in any model's training data: a dense layer, a
batched matmul, a depthwise conv, reductions (softmax, L2 norm, layer norm), convolutions (2-D, 1-D, transposed),
pooling and a fused element-wise task. Models are chosen by cross-validation over training subgraphs
(``ranker_objective_cv.py``), never on this split.

Arms, interleaved (every subgraph and seed runs each arm before the next starts, in an order that rotates):

- ``random``: MetaSchedule's evolutionary search with its ``RandomModel``;
- ``xgb``: MetaSchedule's default (``XGBModel``, which ranks at random below 100 measured records);
- ``xgb_pretrained``: MetaSchedule's ``XGBModel`` trained on the same sample logs as the world model, warm-up 0
  (the verifier saved beside the world model by ``workbench train --verifier`` when it was fitted on exactly these
  training records, else fitted at the start, some minutes);
- ``world``: the world model (the shipped one, or ``--world-model``), blended online with the run's own model;
- ``world_plan``: the same model with the search that plans in its space (``strategy="plan"``): decision vectors
  proposed and scored in latent space, only the best few built;
- ``world_plan_beam``: ``world_plan`` whose parents each round also come from a beam over the tile decisions of a
  few families, pruned by the world model's value head along the rollout (``strategy="beam"``,
  :mod:`workbench.tuning.beam`);
- ``world_plan_transfer``: ``world_plan_beam`` whose seeds also hold the fastest records of the world model's
  training subgraphs that fit the task's sketches, tile sizes fitted to its extents (``strategy="transfer"``,
  :mod:`workbench.tuning.transfer`; never a held-out subgraph's own records);
- ``world_verify_transfer``: ``world_plan_transfer`` drafting for a verifier (cost model ``world_verify``):
  each round the world model's best ``--verify-k`` decision vectors are built and ``xgb_pretrained``'s model
  picks the batch's model places from them;
- ``world_verify_warm``: ``world_verify`` with the ``"warm"`` search: the evolutionary search whose first batch
  measures the best-scored warm starts of ``world_plan_transfer`` in a quarter of its places;
- ``world_verify``: draft then verify: the world model (as in ``world``) scores every candidate and
  ``xgb_pretrained``'s model re-scores its best ``--verify-k``, which the search then takes in that order;
- ``world_mix``: draft then verify, mixed: the world model and ``xgb_pretrained``'s model both score every
  candidate, ranked by the mean of their two rank orders (``pool_ranking.md``: they err in different places;
  as a search it ties ``world_verify`` and searches longer, ``tune_search_znver3_mix45.md``);
- ``world_diverse``: the world model (as in ``world``) with the ``"diverse"`` search: each task's first batch is
  picked from MetaSchedule's search asked for 4x the batch, at most half of the model's picks with one
  compute-location plan;
- ``world_verify_hedge``: ``world_verify`` with the ``"hedge"`` search: every batch picked from MetaSchedule's
  search asked for 4x the batch plus a reserve of what earlier batches passed over, by a bandit over
  compute-location plans (first batch: one pick per plan for half of it; later: two picks for plans not measured
  yet, half the rest from the plan of the fastest program measured so far);
- ``world_verify_local``: ``world_verify_hedge`` whose picks from the best plan are the candidates nearest the
  fastest program measured so far (fewest decisions differing), by score among equally near: a local search
  around the incumbent;
- ``world_online``: ``world_verify`` whose verified top is ordered by the verifier and the run's own online model
  together, each weighted by its skill on the run's measured batches (``VerifiedCostModel(online=True)``):
  the frozen verifier cannot learn this task, the online model can (``online_ranking_diag.md``); as a search it
  lost to ``world_verify`` (``tune_search_online.md``);
- ``world_xhw`` (with ``--cross-hardware``): a world model trained without any record of this machine;
- ``world_verify_i8``: ``world_verify`` measuring 8 candidates a round instead of ``--trials-per-iter`` (twice
  the rounds at the same budget: the online model and the population's measured parents update twice as often);
- ``xgb640`` (with ``--long-trials``): MetaSchedule's default at ``--long-trials`` trials (64 per round), one seed
  (``--long-seed``); every arm's runs of every seed of this run are compared with it (``over_xgb640``).

Every run's best schedule is then measured again, side by side in one process: ``--final-rounds`` rounds of
``--final-repeat`` repeats (each at least ``--min-repeat-ms``), rebuilt every round, the runs of one subgraph and
seed timed one after the other (close in time). A schedule's latency is its fastest round
(``remeasure_estimators.md``: it reproduces where the median over rounds does not); the fastest round of the
first half of the rounds against the second half's is the re-measurement spread the report states.

Report: per-round best-so-far curves (a PNG, and an interactive plotly HTML, beside the report), geomean speed-up of the
world model over each arm with a paired bootstrap 95% CI over subgraphs (seeds averaged per subgraph), wall time
split, candidates scored, and ``summary`` in the JSON. Work dirs live under ``--work-root``; running the benchmark again resumes them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

TEST_SPLIT = ["matmul_256", "batch_matmul_12x128x64", "depthwise_14x14x512_s2", "softmax_256x256", "norm_256x256",
              "vit_b16/layer_norm", "conv2d_7x7x512_3x3", "conv1d_64x256x256_k5", "conv2d_transpose_4x4x512",
              "max_pool2d_56x56x64", "vit_b16/fused_reshape11_gelu_reshape12"]
ARMS = ["random", "xgb", "xgb_pretrained", "world"]
EXTRA_ARMS = ["world_xhw", "world_plan", "world_plan_beam", "world_plan_transfer", "world_verify_transfer",
              "world_verify_warm",
              "world_verify", "world_mix",
              "world_diverse", "world_verify_i8",
              "world_verify_hedge", "world_verify_local", "world_online"]
VERIFIED_ARMS = ("world_verify", "world_mix", "world_verify_hedge", "world_verify_local", "world_online",
                 "world_verify_transfer", "world_verify_warm")  # the world model's top re-scored by XGBModel


def _per_iter(arm: str, per_iter: int) -> tuple[str, int]:
    """An arm ``<base>_i<n>`` is arm ``base`` measuring ``n`` candidates a round instead of ``per_iter``."""
    base, sep, n = arm.rpartition("_i")
    return (base, int(n)) if sep and n.isdigit() else (arm, per_iter)


def _cost_model(arm: str, ctx: dict[str, Any], work_dir: Path, seed: int) -> Any:
    """The cost model of one run (a fresh one each run) and the evaluator, for a world arm."""
    arm, _ = _per_iter(arm, 0)
    from workbench.tuning.cost_model import CountingCostModel, VerifiedCostModel, world_cost_model
    from workbench.tuning.online import ROUNDS_FILE

    if arm in ("random", "xgb", "xgb640"):
        from tvm.s_tir.meta_schedule.cost_model import CostModel

        inner = CostModel.create("random") if arm == "random" else CostModel.create(
            "xgb", num_tuning_cores=ctx["cores"], tree_method="auto")
        return CountingCostModel(inner), None
    if arm == "xgb_pretrained":
        return CountingCostModel(ctx["pretrained"].cost_model()), None
    if arm in VERIFIED_ARMS:
        draft = world_cost_model(ctx["world"], rounds_file=work_dir / ROUNDS_FILE, seed=seed)
        # A loaded verifier never retrains: measured batches would only be turned into features for nothing.
        return VerifiedCostModel(draft, ctx["pretrained"].cost_model(),
                                 None if arm == "world_mix" else ctx["verify_k"], mix=arm == "world_mix",
                                 update_verifier=not ctx["pretrained_saved"], online=arm == "world_online"), None
    return "world", ctx["world_xhw"] if arm == "world_xhw" else ctx["world"]


def _run(sub: str, arm: str, seed: int, trials: int, per_iter: int, ctx: dict[str, Any]) -> dict:
    from workbench.logs import load_logs
    from workbench.tuning.run import WORLD_EXPLORE, TuningRun

    work_dir = ctx["root"] / f"{sub.replace('/', '__')}-{arm}-t{trials}-s{seed}"
    cost_model, evaluator = _cost_model(arm, ctx, work_dir, seed)
    base, per_iter = _per_iter(arm, per_iter)
    run = TuningRun(sub, trials=trials, trials_per_iter=per_iter, cost_model=cost_model, work_dir=work_dir,
                    seed=seed, evaluator=evaluator, confirm=0,
                    strategy={"world_plan": "plan", "world_plan_beam": "beam",
                              "world_plan_transfer": "transfer", "world_verify_transfer": "transfer",
                              "world_verify_warm": "warm",
                              "world_diverse": "diverse",
                              "world_verify_hedge": "hedge", "world_verify_local": "local"}.get(base, "evolutionary"),
                    explore=WORLD_EXPLORE if base in VERIFIED_ARMS else None)
    before = run.measured
    start = time.perf_counter()
    run.run(progress=False)
    wall = time.perf_counter() - start
    df = load_logs(work_dir, errors="warn", with_actions=False, progress=False)
    df = df.sort_values("trial", kind="stable") if "trial" in df and df["trial"].notna().all() else df
    lat = df["latency"].fillna(math.inf).to_numpy() * 1e3
    curve = [float(x) for x in _cummin(lat)]
    timings, scored = _session_costs(work_dir)
    print(f"{sub:<40} {arm:<15} seed {seed} trials {trials}: best {curve[-1] if curve else math.nan:.4f} ms "
          f"({run.measured - before} new, {wall:.0f} s)", flush=True)
    return {"subgraph": sub, "arm": arm, "seed": seed, "trials": trials, "per_iter": per_iter,
            "work_dir": str(work_dir), "best_ms_during_run": curve[-1] if curve else math.nan, "curve_ms": curve,
            "timings": timings, "candidates_scored": scored, "new_trials": run.measured - before,
            "failures": int((df["status"] != "ok").sum())}


def _session_costs(work_dir: Path) -> tuple[list[dict], int | None]:
    """The timings of the sessions that measured something in ``work_dir``, and the candidates their cost
    models scored (summed; None when a session did not record it). Read from the work dir itself, so a resumed
    run reports what its tuning sessions did, and a run tuned again in a fresh dir of the same name its own."""
    sessions = json.loads((work_dir / "workbench_run.json").read_text())["sessions"]
    timed = [s for s in sessions if s.get("timings") and s.get("measured_after", 0) > s.get("measured_before", 0)]
    counts = [(s.get("cost_model") or {}).get("predicted") for s in timed]
    return [s["timings"] for s in timed], (sum(counts) if counts and None not in counts else None)


def _cummin(values: Any) -> list[float]:
    out, best = [], math.inf
    for v in values:
        best = min(best, float(v))
        out.append(best)
    return out


def _remeasure(runs: list[dict], *, rounds: int, repeat: int, min_repeat_ms: int) -> None:
    """Time the best schedule of every run again, ``rounds`` times, rebuilt every round; in each round the runs of
    one subgraph and seed are timed one after the other (the groups, and the arms in a group, in a new order each
    round), so the arms compared are timed under the same load. Adds ``remeasured_ms`` (each round's median of
    the repeats), ``best_ms`` (the fastest round: the shared host's load only ever adds time, and the fastest
    round reproduces where the median over rounds does not, see ``remeasure_spread*.md``), ``median_ms`` and
    ``half_ratio`` (the first half of the rounds' estimate / the second half's: the re-measurement spread)."""
    from workbench.measure import Measurer
    from workbench.subgraphs import load_subgraph
    from workbench.tuning.results import apply_trace, best_records

    mods, subgraphs = [], {}
    for r in runs:
        sub = subgraphs.setdefault(r["subgraph"], load_subgraph(r["subgraph"]))
        mods.append(apply_trace(sub, best_records(r["work_dir"], [sub]).loc[sub.name, "trace"]).mod)
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(runs):
        groups.setdefault((r["subgraph"], r["seed"]), []).append(i)
    # Rebuilt every round: builds of one schedule differ (remeasure_spread*.md), and a schedule built once would
    # keep its build's bias in every round, where the half-to-half spread cannot see it.
    times: list[list[float]] = [[] for _ in runs]
    rng = random.Random(0)
    with Measurer("cpu", repeat=repeat, min_repeat_ms=min_repeat_ms) as measurer:
        for _ in range(rounds):
            keys = list(groups)
            rng.shuffle(keys)
            order = [i for k in keys for i in rng.sample(groups[k], len(groups[k]))]
            for i, res in zip(order, measurer.measure_mods([mods[i] for i in order]), strict=True):
                times[i].append(res.latency * 1e3 if res.ok else math.inf)
    half = rounds // 2
    for r, t in zip(runs, times, strict=True):
        r["best_ms"] = min(t)
        r["remeasure_order"] = "grouped by subgraph and seed"
        r["median_ms"] = statistics.median(t)
        r["remeasured_ms"] = t
        r["half_ratio"] = min(t[:half]) / min(t[half:]) if half else 1.0


def _paired_spread(runs: list[dict], ref: str = "world") -> list[float]:
    """Per run of another arm: |its ratio to ``ref``'s run (same subgraph and seed) from the first half of the
    rounds / the same ratio from the second half - 1|: how much the comparison itself moves on re-measurement."""
    by = {(r["subgraph"], r["seed"], r["arm"]): r for r in runs}
    out = []
    for (sub, seed, arm), r in by.items():
        w = by.get((sub, seed, ref))
        t = r.get("remeasured_ms") or []
        if (arm == ref or w is None or len(t) < 2 or len(t) != len(w.get("remeasured_ms") or [])
                or r.get("from") != w.get("from")):  # timed in two runs: no pair
            continue
        h, u = len(t) // 2, w["remeasured_ms"]
        first, second = min(t[:h]) / min(u[:h]), min(t[h:]) / min(u[h:])
        if math.isfinite(first) and math.isfinite(second):
            out.append(abs(first / second - 1.0))
    return out


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def _speedups(runs: list[dict], arm: str, subgraphs: list[str], seeds: list[int], ref: str = "world"
              ) -> dict[str, float]:
    """Per subgraph: geomean over seeds of (arm latency / ``ref`` latency), for seeds both ran."""
    by = {(r["subgraph"], r["arm"], r["seed"]): r["best_ms"] for r in runs}
    out = {}
    for sub in subgraphs:
        ratios = [by[(sub, arm, s)] / by[(sub, ref, s)] for s in seeds
                  if (sub, arm, s) in by and (sub, ref, s) in by]
        if ratios:
            out[sub] = _geomean(ratios)
    return out


def _bootstrap(per_subgraph: dict[str, float], n: int = 10000, seed: int = 0) -> list[float]:
    """95% CI of the geomean over subgraphs, resampling subgraphs (paired: each keeps both arms' runs)."""
    values = list(per_subgraph.values())
    if len(values) < 2:
        return [math.nan, math.nan]
    rng = random.Random(seed)
    stats = sorted(_geomean([rng.choice(values) for _ in values]) for _ in range(n))
    return [stats[int(0.025 * n)], stats[int(0.975 * n) - 1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subgraphs", nargs="+", default=TEST_SPLIT)
    parser.add_argument("--arms", nargs="+", default=ARMS, choices=[*ARMS, *EXTRA_ARMS])
    parser.add_argument("--verify-k", type=int, default=64,
                        help="world_verify: how many of the world model's best candidates the verifier re-scores")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--ref", default=None, help="the arm every other is compared with, run by run (default: "
                        "world where it runs, else the first of --arms)")
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--trials-per-iter", type=int, default=16)
    parser.add_argument("--long-trials", type=int, default=0, help="also run xgb640: MetaSchedule's default at "
                        "this many trials (64 per round, one seed: --long-seed); 0: skip")
    parser.add_argument("--long-seed", type=int, default=0, help="the seed of the xgb640 runs")
    parser.add_argument("--cross-hardware", action="store_true",
                        help="add world_xhw: a model trained here on the sample logs minus this machine's records")
    parser.add_argument("--final-rounds", type=int, default=6)
    parser.add_argument("--final-repeat", type=int, default=10)
    parser.add_argument("--min-repeat-ms", type=int, default=50)
    parser.add_argument("--work-root", default="work/bench/search")
    parser.add_argument("--world-model", default=None, help="evaluator dir (default: the shipped CPU model)")
    parser.add_argument("--logs", default="sample_logs/cpu", help="records the pretrained baselines learn from")
    parser.add_argument("--name", default="tune_search", help="report name under benchmarks/results/")
    parser.add_argument("--merge", default=None, help="an earlier report's JSON on this machine: its runs (other "
                        "seeds, re-measured side by side in their own run) join the summary, each estimated again "
                        "from its own rounds as this run's are")
    parser.add_argument("--merge-arms", nargs="+", default=None,
                        choices=[*ARMS, *EXTRA_ARMS, "xgb640"],
                        help="merge only these arms' runs (e.g. leave out an arm whose code changed since)")
    parser.add_argument("--rerender", default=None, help="a report's JSON made on this machine: write the report "
                        "again from its runs and re-measurements, with search time and candidates scored read again "
                        "from the runs' work dirs (nothing is tuned or measured)")
    args = parser.parse_args()
    if args.rerender:
        _rerender(args)
        return
    if args.merge_arms is not None and not args.merge:
        parser.error("--merge-arms picks arms of the report given with --merge: give --merge too")
    from _report import RESULTS, write_report

    from workbench.hardware import hardware_descriptor
    from workbench.logs import load_logs
    from workbench.worldmodel import Evaluator, default_model_dir
    from workbench.worldmodel.evaluate import holdout_names, split_by_subgraph

    t0 = time.perf_counter()
    world_dir = Path(args.world_model) if args.world_model else default_model_dir("cpu")
    world = Evaluator.load(world_dir)
    trained_on = set(world.config.info.get("subgraphs", []))
    if seen := [s for s in args.subgraphs if s in trained_on]:
        raise SystemExit(f"the world model was trained on {seen}: pick held-out subgraphs")
    import_cores = __import__("tvm.s_tir.meta_schedule.utils", fromlist=["cpu_count"]).cpu_count(logical=False)
    ctx: dict[str, Any] = {"root": Path(args.work_root), "world": str(world_dir), "cores": import_cores,
                           "verify_k": args.verify_k}
    here = hardware_descriptor()["id"]
    df = load_logs(args.logs, progress=False)
    held = holdout_names(world.config.info.get("holdout") or "default", set(df["subgraph"]))
    train, _ = split_by_subgraph(df, sorted(held | set(args.subgraphs) & set(df["subgraph"])))
    if {"xgb_pretrained", *VERIFIED_ARMS} & {_per_iter(a, 0)[0] for a in args.arms}:
        ctx["pretrained"], ctx["pretrained_saved"] = _pretrained(train, world_dir)
    if args.cross_hardware:
        ctx["world_xhw"] = _cross_hardware_model(train, here, ctx["root"], world)
    runs = []
    for seed in args.seeds:
        for i, sub in enumerate(args.subgraphs):
            k = (i + seed) % len(args.arms)
            for arm in args.arms[k:] + args.arms[:k]:  # the arm that goes first rotates
                runs.append(_run(sub, arm, seed, args.trials, args.trials_per_iter, ctx))
    if args.long_trials:
        for sub in args.subgraphs:
            runs.append(_run(sub, "xgb640", args.long_seed, args.long_trials, 64, ctx))
    _remeasure(runs, rounds=args.final_rounds, repeat=args.final_repeat, min_repeat_ms=args.min_repeat_ms)
    merged = _merge(runs, args, here) if args.merge else None
    curves = RESULTS / f"{args.name}_curves.html"
    png = _plot_curves(runs, args, curves)
    summary = _summary(runs, args)
    summary["merged"] = merged
    body = _report(runs, args, summary, curves.name, here, png)
    body += f"\n\nWhole benchmark: {time.perf_counter() - t0:.0f} s (runs already in the work root are resumed).\n"
    if "pretrained" in ctx:
        body += ("\nMetaSchedule's XGBModel of `xgb_pretrained` / `world_verify` / `world_mix`: "
                 + ("the verifier saved beside the world model (fitted on the same records)"
                    if ctx["pretrained_saved"] else "fitted at the start of this run") + ".\n")
    title = "Search: the world model against every baseline at the same trial budget (CPU)"
    path = write_report(args.name, title=title, body=body,
                        data={"summary": summary, "runs": runs, "args": vars(args), "test_split": args.subgraphs,
                              "merged": merged})
    print(path.read_text())


def _rerender(args: argparse.Namespace) -> None:
    """The report of ``--rerender``'s runs written again (a fix to how the report counts, without tuning or
    re-measuring anything): its settings and runs, each run's timings and candidates read again from its work dir."""
    from _report import RESULTS, write_report

    from workbench.hardware import hardware_descriptor

    earlier = json.loads(Path(args.rerender).read_text())
    here = hardware_descriptor()["id"]
    if earlier.get("hardware", {}).get("id") != here:
        raise SystemExit(f"{args.rerender}: measured on machine {earlier.get('hardware', {}).get('id')}, not this "
                         f"one ({here}): its work dirs are not here")
    for k in ("subgraphs", "arms", "seeds", "trials", "trials_per_iter", "long_trials", "final_rounds",
              "final_repeat", "min_repeat_ms", "merge", "merge_arms", "work_root"):
        setattr(args, k, earlier["args"].get(k))
    args.long_seed = earlier["args"].get("long_seed", 0)  # reports before --long-seed ran xgb640 with seed 0
    runs = earlier["runs"]
    if missing := [r["work_dir"] for r in runs if "from" not in r
                   and not (Path(r["work_dir"]) / "workbench_run.json").is_file()]:
        raise SystemExit(f"{args.rerender}: {len(missing)} runs' work dirs are not here (e.g. {missing[0]}; run "
                         "from the directory the benchmark ran in): their counts cannot be read again")
    for r in runs:
        if "from" not in r:
            r["timings"], r["candidates_scored"] = _session_costs(Path(r["work_dir"]))
    curves = RESULTS / f"{args.name}_curves.html"
    png = _plot_curves(runs, args, curves)
    summary = _summary(runs, args)
    summary["merged"] = earlier.get("merged")
    source = {"file": args.rerender, "date": earlier.get("date"), "command": earlier.get("command")}
    body = _report(runs, args, summary, curves.name, here, png) + (
        f"\n\nRe-rendered from `{source['file']}` ({source['date']}, `{source['command']}`): the same runs and "
        "re-measurements, with each run's search time and candidates scored read again from its work dir. "
        "Nothing was tuned or measured again.\n")
    title = "Search: the world model against every baseline at the same trial budget (CPU)"
    path = write_report(args.name, title=title, body=body,
                        data={"summary": summary, "runs": runs, "args": vars(args), "test_split": args.subgraphs,
                              "merged": summary["merged"], "rerendered_from": source})
    print(path.read_text())


def _merge(runs: list[dict], args: argparse.Namespace, here: str) -> dict[str, Any]:
    """Add the runs of an earlier report (``--merge``) for seeds this run did not tune; each keeps its own
    side-by-side rounds, estimated again as :func:`_remeasure` estimates (fastest round). Ratios are only ever
    taken between runs of one subgraph and seed, so every ratio was measured side by side in one process.
    Widens ``args.seeds`` and ``args.arms`` to what the summary now covers; returns what was merged."""
    from _report import RESULTS

    if Path(args.merge).resolve() == (RESULTS / f"{args.name}.json").resolve():
        raise SystemExit(f"{args.merge} is this run's own report, which it overwrites: merge a copy (e.g. "
                         f"`git show <commit>:benchmarks/results/{args.name}.json > earlier.json`)")
    earlier = json.loads(Path(args.merge).read_text())
    settings = ("final_rounds", "final_repeat", "min_repeat_ms", "trials", "trials_per_iter")
    if other := {k: earlier.get("args", {}).get(k) for k in settings
                 if earlier.get("args", {}).get(k) != getattr(args, k)}:
        raise SystemExit(f"{args.merge}: other re-measurement or tuning settings {other}: runs are merged only "
                         "when measured the same way")
    if earlier.get("hardware", {}).get("id") != here:
        raise SystemExit(f"{args.merge}: measured on machine {earlier.get('hardware', {}).get('id')}, not this "
                         f"one ({here}): ratios from two machines are not merged")
    if earlier.get("test_split") != args.subgraphs:
        raise SystemExit(f"{args.merge}: another test split; merge only runs of the same frozen split")
    new_seeds = sorted({r["seed"] for r in earlier["runs"]} - set(args.seeds))
    added = 0
    for r in earlier["runs"]:
        t = r.get("remeasured_ms") or []
        if r["seed"] not in new_seeds or r.get("trials") != args.trials or not t:
            continue
        if args.merge_arms is not None and r["arm"] not in args.merge_arms:
            continue
        half = len(t) // 2
        r = {"remeasure_order": "every run of the report shuffled in each round", **r, "best_ms": min(t),
             "median_ms": statistics.median(t), "half_ratio": min(t[:half]) / min(t[half:]) if half else 1.0,
             "from": args.merge, **({"from_earlier": r.get("from_earlier", r["from"])} if "from" in r else {})}
        runs.append(r)
        added += 1
        if r["arm"] not in args.arms:
            args.arms.append(r["arm"])
    args.seeds = sorted({*args.seeds, *new_seeds})
    return {"file": args.merge, "date": earlier.get("date"), "command": earlier.get("command"),
            "seeds": new_seeds, "runs": added}


def _pretrained(train: Any, world_dir: Path) -> tuple[Any, bool]:
    """``xgb_pretrained``'s model (and ``world_verify``'s verifier), and whether it was loaded: the verifier saved
    beside the world model (``workbench train --verifier``) when it was fitted as this benchmark fits one (seed 0,
    on the successful records of exactly these training subgraphs, as many as here), else fitted here on
    ``train`` (some minutes). Either way it ranks alike over a run: one fitted here retrains only once its
    data grows by a fifth, never in a run of a few hundred trials."""
    from workbench.worldmodel import ModelFileError
    from workbench.worldmodel.baseline import VERIFIER_DIR, VERIFIER_FILE, MetaScheduleXGB, fit_verifier

    ok = train[train["status"] == "ok"]
    path = world_dir / VERIFIER_DIR
    if (path / VERIFIER_FILE).is_file():
        try:
            saved = MetaScheduleXGB.load(path)
        except ModelFileError as err:
            print(f"xgb_pretrained: not the saved verifier ({err}): fitting one", flush=True)
        else:
            info, records = saved.info or {}, saved.settings.get("records")
            if (info.get("seed") == 0 and records == len(ok)
                    and sorted(info.get("subgraphs") or []) == sorted(ok["subgraph"].unique())):
                print(f"xgb_pretrained: MetaSchedule's XGBModel saved beside the world model ({path}), trained on "
                      f"{records} records of these training subgraphs", flush=True)
                return saved, True
            print(f"xgb_pretrained: {path} was fitted on other records ({records} on "
                  f"{len(info.get('subgraphs') or [])} subgraphs, here {len(ok)} on {ok['subgraph'].nunique()}): "
                  "fitting one", flush=True)
    fitted = fit_verifier(train, seed=0)  # as `workbench train --verifier` fits it
    print(f"xgb_pretrained: MetaSchedule's XGBModel trained on {fitted.settings['records']} records "
          f"({fitted.timings['fit']:.0f} s)", flush=True)
    return fitted, False


def _cross_hardware_model(train: Any, here: str, root: Path, world: Any) -> str:
    """A world model trained as the shipped one (same config) on the training records of other machines."""
    from workbench.worldmodel.config import TrainConfig
    from workbench.worldmodel.train import train_evaluator

    path = root / f"world_without_{here}"
    if (path / "config.json").is_file():
        return str(path)
    others = train[train["machine"] != here].reset_index(drop=True)
    ev, _ = train_evaluator(others, TrainConfig.from_saved(world.config.info.get("config")), progress=False)
    ev.save(path)
    print(f"world_xhw: trained on {len(others)} records of machines other than {here}", flush=True)
    return str(path)


def _ref_arm(args: argparse.Namespace) -> str:
    """The arm the report's first table divides by: ``--ref``, else ``world`` where it ran, else the first arm."""
    return getattr(args, "ref", None) or ("world" if "world" in args.arms else args.arms[0])


def _summary(runs: list[dict], args: argparse.Namespace) -> dict[str, Any]:
    ref = _ref_arm(args)
    arms = [a for a in args.arms if a != ref]
    speed = {a: _speedups(runs, a, args.subgraphs, args.seeds, ref=ref) for a in arms}
    over_long = _over_long(runs)
    # Search time and candidates scored: this run's own runs only (merged runs may predate a change in what a
    # run counts as search time, and wall times are compared only within one run).
    own = [r for r in runs if "from" not in r]
    search = {}
    for arm in {r["arm"] for r in own}:
        ts = [t for r in own if r["arm"] == arm for t in r["timings"]]
        search[arm] = statistics.mean(t["search"] for t in ts) if ts else math.nan
    scored = {arm: statistics.mean(x) for arm in {r["arm"] for r in own}
              if (x := [r["candidates_scored"] for r in own if r["arm"] == arm and r["candidates_scored"]])}
    by_seed: dict[str, dict[str, list[float]]] = {}  # arm -> seed -> [mean search s, mean candidates]
    for arm, seed in sorted({(r["arm"], r["seed"]) for r in own}):
        rs = [r for r in own if r["arm"] == arm and r["seed"] == seed]
        ts = [t["search"] for r in rs for t in r["timings"]]
        cs = [r["candidates_scored"] for r in rs if r["candidates_scored"]]
        by_seed.setdefault(arm, {})[str(seed)] = [statistics.mean(ts) if ts else math.nan,
                                                  statistics.mean(cs) if cs else math.nan]
    spread = [abs(r["half_ratio"] - 1.0) for r in runs if math.isfinite(r.get("half_ratio", math.nan))]
    plan = {}
    if "world_plan" in args.arms:
        plan = {a: _geomean(list(_speedups(runs, a, args.subgraphs, args.seeds, ref="world_plan").values()))
                for a in args.arms if a != "world_plan"}
    # MetaSchedule's default against each arm: xgb latency / arm latency (> 1: the arm found the faster program).
    over_xgb = {a: {s: 1.0 / v for s, v in _speedups(runs, a, args.subgraphs, args.seeds, ref="xgb").items()}
                for a in args.arms if a != "xgb"} if "xgb" in args.arms else {}
    return {
        "subgraphs": args.subgraphs, "seeds": args.seeds, "trials": args.trials, "ref": ref,
        "speedup_over_xgb": {a: {"geomean": _geomean(list(v.values())), "ci95": _bootstrap(v), "subgraphs": len(v)}
                             for a, v in over_xgb.items() if v},
        "geomean_speedup": {a: _geomean(list(v.values())) for a, v in speed.items()},
        "ci95": {a: _bootstrap(v) for a, v in speed.items()},
        "per_subgraph": speed,
        "world64_over_xgb640": (over_long.get("world") or {}).get("geomean"), "over_xgb640": over_long,
        "search_seconds": search, "candidates_scored": scored, "plan_geomean_speedup": plan,
        "search_and_candidates_by_seed": by_seed,
        "remeasure_spread": _spread_stats(spread),
        "paired_spread": _spread_stats(_paired_spread(runs, ref)),
    }


def _over_long(runs: list[dict]) -> dict[str, dict[str, Any]]:
    """Each arm's latency / xgb640's (< 1: the arm at its budget beat MetaSchedule's default at ten times it):
    per subgraph the geomean over the arm's seeds of this run (xgb640 runs one seed; merged runs, timed in
    another process, are left out), then the geomean over subgraphs with a paired bootstrap 95% CI."""
    long = {r["subgraph"]: r["best_ms"] for r in runs if r["arm"] == "xgb640" and "from" not in r}
    out = {}
    for arm in sorted({r["arm"] for r in runs} - {"xgb640"}):
        per: dict[str, list[float]] = {}
        for r in runs:
            if r["arm"] == arm and "from" not in r and r["subgraph"] in long:
                per.setdefault(r["subgraph"], []).append(r["best_ms"] / long[r["subgraph"]])
        if per:
            v = {sub: _geomean(x) for sub, x in per.items()}
            out[arm] = {"geomean": _geomean(list(v.values())), "ci95": _bootstrap(v), "subgraphs": len(v),
                        "seeds": sorted({r["seed"] for r in runs if r["arm"] == arm and "from" not in r}),
                        "per_subgraph": v}
    return out


def _spread_stats(values: list[float]) -> dict[str, Any]:
    """Median, 90th percentile, max and the share under 2% of re-measurement spreads."""
    if not values:
        return {"median": None, "p90": None, "max": None, "under_2pct": None, "n": 0}
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p90": ordered[math.ceil(0.9 * len(ordered)) - 1],
            "max": ordered[-1], "under_2pct": sum(v < 0.02 for v in ordered) / len(ordered), "n": len(ordered)}


def _report(runs: list[dict], args: argparse.Namespace, summary: dict[str, Any], html: str, here: str,
            png: bool) -> str:
    ref = _ref_arm(args)
    arms = [a for a in args.arms if a != ref]
    lines = ["| subgraph | " + " | ".join(f"{a}/{ref}" for a in arms) + " |", "|---" * (1 + len(arms)) + "|"]
    for sub in args.subgraphs:
        cells = [f"{summary['per_subgraph'][a][sub]:.2f}x" if sub in summary["per_subgraph"][a] else "n/a"
                 for a in arms]
        lines.append(f"| {sub} | " + " | ".join(cells) + " |")
    lines.append("| **geomean** | " + " | ".join(
        f"**{summary['geomean_speedup'][a]:.2f}x** [{summary['ci95'][a][0]:.2f}, {summary['ci95'][a][1]:.2f}]"
        for a in arms) + " |")
    timing = ["| arm | search s | build s | run s | total s | candidates scored |", "|---|---|---|---|---|---|"]
    own = [r for r in runs if "from" not in r]
    for arm in sorted({r["arm"] for r in own}):
        ts = [t for r in own if r["arm"] == arm for t in r["timings"]]
        if ts:
            cells = " | ".join(f"{statistics.mean(t[k] for t in ts):.1f}" for k in ("search", "build", "run", "total"))
            timing.append(f"| {arm} | {cells} | {summary['candidates_scored'].get(arm, math.nan):.0f} |")
    by_seed = summary.get("search_and_candidates_by_seed") or {}
    seeds = sorted({int(k) for v in by_seed.values() for k in v})
    if len(seeds) > 1:  # a resumed run's timings come from the session that tuned it, maybe older code
        timing += ["", "Per seed (mean search s / candidates scored per run; a resumed run counts the session "
                   "that tuned it):", "", "| arm | " + " | ".join(f"seed {k}" for k in seeds) + " |",
                   "|---" * (1 + len(seeds)) + "|"]
        for arm, v in sorted(by_seed.items()):
            timing.append(f"| {arm} | " + " | ".join(f"{v[str(k)][0]:.1f} / {v[str(k)][1]:.0f}" if str(k) in v
                                                     else "" for k in seeds) + " |")
    if over := summary.get("speedup_over_xgb"):  # the bar is against MetaSchedule's default
        lines += ["", "Speed-up of each arm over MetaSchedule's default (`xgb` latency / arm latency, > 1: the arm "
                  "found the faster program; per subgraph the geomean over the seeds both ran, then over subgraphs, "
                  "paired bootstrap 95% CI):", "", "| arm | over xgb | 95% CI | subgraphs |", "|---|---|---|---|"]
        lines += [f"| {a} | **{v['geomean']:.2f}x** | [{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}] | {v['subgraphs']} |"
                  for a, v in over.items()]
    sp = summary["remeasure_spread"]
    long = ""
    if over_long := summary.get("over_xgb640"):
        long = (f"\n\nEach arm at {args.trials} trials against MetaSchedule's default at {args.long_trials} "
                f"(`xgb640`, seed {args.long_seed}): arm latency / xgb640 latency (< 1: the arm was faster; per "
                "subgraph the geomean over the arm's seeds of this run, then over subgraphs, paired bootstrap 95% "
                "CI). The issue's goal for `world`: <= 1.03.\n\n| arm | / xgb640 | 95% CI | subgraphs | seeds |\n"
                "|---|---|---|---|---|\n" + "\n".join(
                    f"| {a} | **{v['geomean']:.3f}** | [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}] | {v['subgraphs']} "
                    f"| {v['seeds']} |" for a, v in over_long.items()))
    seeds_of = {a: sorted({r["seed"] for r in runs if r["arm"] == a}) for a in args.arms}
    lines.append("\nSeeds per arm: " + ", ".join(f"{a} {v}" for a, v in seeds_of.items()) + ".")
    merged = summary.get("merged")
    merged = (f" Seeds {merged['seeds']} are the {merged['runs']} runs of `{merged['file']}` ({merged['date']}, "
              f"`{merged['command']}`), tuned and re-measured side by side on this machine in the run that made "
              f"them ({_provenance(runs)}) and estimated again here by the same rule; every ratio below is between "
              "runs of one subgraph and seed, timed in one process." if merged else "")
    return (
        f"Machine id `{here}`. Test split (frozen before tuning): {', '.join(args.subgraphs)}. "
        f"{args.trials} trials per run, {args.trials_per_iter} per round, seeds {args.seeds}, arms {args.arms}, "
        f"interleaved. Each run's best schedule re-measured side by side: {args.final_rounds} rounds x "
        f"{args.final_repeat} repeats (>= {args.min_repeat_ms} ms each), rebuilt every round, the runs of one "
        "subgraph and seed one after the other; a schedule's latency is its fastest round (each round the median "
        "of its repeats). Re-measurement spread, the fastest round of the first half of the rounds against the "
        f"second half's: {_pct(sp)} over runs; of the ratio to the `{ref}` run (the comparison "
        f"itself): {_pct(summary['paired_spread'])}.{merged}\n\n"
        f"Latency of each arm's best / `{ref}`'s best (> 1: `{ref}` found the faster program); "
        "per subgraph the geomean over seeds, then the geomean over subgraphs with a paired bootstrap 95% CI "
        "(10,000 resamples of subgraphs).\n\n" + "\n".join(lines) + long
        + "\n\nBest-so-far curves: " + (f"`{Path(html).with_suffix('.png')}` (interactive: `{html}`)" if png
                                          else f"`{html}` (no PNG: kaleido could not run)") + ".\n\n## Wall time per run (mean seconds)\n\n" + "\n".join(timing)
        + f"\n\nThis run's own runs only (seeds {sorted({r['seed'] for r in own})}): wall times are compared "
        "within one run. " + _resumed_note(own) + _plan_cost(summary)
        + "`search` is everything but building and running (candidate generation, the cost model's predict "
        "and update; starting the build and run pools counts as build and run). `xgb` ranks at random below 100 measured records (`num_warmup_samples=100`), so at 64 "
        "trials it is evolutionary search without a trained model, as a MetaSchedule user gets it.")


def _resumed_note(own: list[dict]) -> str:
    """Which of this run's own runs it found complete in the work root (nothing tuned here): their wall times are
    the sessions' that tuned them, not side by side with the runs tuned here."""
    done = [r for r in own if r.get("new_trials") == 0]
    if not done:
        return ""
    arms = ", ".join(f"{a} {sum(r['arm'] == a for r in done)}" for a in sorted({r["arm"] for r in done}))
    return (f"Of these, {len(done)} runs ({arms}) were found complete in the work root and not tuned in this run: "
            "their wall times are those of the sessions that tuned them, not timed side by side with the runs "
            "tuned here. ")


def _provenance(runs: list[dict]) -> str:
    """Per merged seed: which report first held its runs and in what order they were re-measured."""
    seeds: dict[tuple, list[int]] = {}
    for r in runs:
        if "from" in r:
            key = (r.get("from_earlier", r["from"]), r.get("remeasure_order", "unknown"))
            if r["seed"] not in seeds.setdefault(key, []):
                seeds[key].append(r["seed"])
    return "; ".join(f"seeds {sorted(v)}: first in `{src}`, re-measured {order}"
                     for (src, order), v in sorted(seeds.items(), key=lambda kv: min(kv[1])))


def _plan_cost(summary: dict[str, Any]) -> str:
    """The plan strategy's search time and candidates scored against the evolutionary search's (issue: <= 0.3x
    the time with >= 10x the candidates)."""
    search, scored = summary["search_seconds"], summary["candidates_scored"]
    lines = []
    for planned in ("world_plan", "world_plan_beam", "world_plan_transfer", "world_verify_transfer"):
        if planned not in search or planned not in scored:
            continue
        out = []
        for arm in ("world", "xgb"):
            if arm in search and search[arm] and arm in scored:
                out.append(f"{search[planned] / search[arm]:.2f}x the search time of `{arm}` (evolutionary) "
                           f"with {scored[planned] / scored[arm]:.1f}x the candidates scored")
        if out:
            lines.append(f"`{planned}`: " + "; ".join(out) + ". ")
    return "".join(lines)


def _pct(stats: dict[str, Any]) -> str:
    """'median a%, 90th percentile b%, max c%, d% of runs under 2%' of a spread summary."""
    if not stats.get("n"):
        return "n/a"
    return (f"median {100 * stats['median']:.2f}%, 90th percentile {100 * stats['p90']:.2f}%, max "
            f"{100 * stats['max']:.2f}%, {100 * stats['under_2pct']:.0f}% of {stats['n']} under 2%")


def _plot_curves(runs: list[dict], args: argparse.Namespace, path: Path) -> bool:
    """Best-so-far latency against trials, one panel per subgraph, median over seeds per arm, relative to the
    reference arm's final median: an interactive plotly figure (plotly.js from its CDN, so the file stays small)."""
    from plotly.subplots import make_subplots

    subs = args.subgraphs
    cols = 4
    rows = math.ceil(len(subs) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=subs, shared_xaxes=False)
    arms = sorted({r["arm"] for r in runs})
    colors = dict(zip(arms, ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692"],
                      strict=False))
    for i, sub in enumerate(subs):
        row, col = i // cols + 1, i % cols + 1
        ref = [r["curve_ms"][-1] for r in runs if r["subgraph"] == sub and r["arm"] == _ref_arm(args)
               and r["curve_ms"]]
        scale = statistics.median(ref) if ref else 1.0
        for arm in arms:
            curves = [r["curve_ms"] for r in runs if r["subgraph"] == sub and r["arm"] == arm and r["curve_ms"]]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            med = [statistics.median(c[j] for c in curves) / scale for j in range(n)]
            seeds = len({r["seed"] for r in runs if r["arm"] == arm})
            fig.add_scatter(x=list(range(1, n + 1)), y=med, name=f"{arm} ({seeds} seed{'s' * (seeds > 1)})",
                            legendgroup=arm, showlegend=i == 0,
                            line={"color": colors.get(arm), "width": 3 if arm.startswith("world") else 1.5},
                            row=row, col=col)
        fig.update_yaxes(type="log", row=row, col=col)
    fig.update_yaxes(title_text=f"best so far / {_ref_arm(args)}'s final", row=1, col=1)
    fig.update_layout(height=260 * rows, width=1200, title="Best-so-far latency against trials (median over seeds)")
    fig.write_html(path, include_plotlyjs="cdn")
    png = path.with_suffix(".png")
    png.unlink(missing_ok=True)  # never leave an earlier run's PNG beside this report
    try:  # the PNG beside it (kaleido drives the installed chromium); the HTML stays if it cannot
        fig.write_image(png, width=1200, height=260 * rows, scale=1)
        return True
    except Exception as exc:  # noqa: BLE001 - no browser for kaleido: say so, keep the report
        print(f"no PNG of the curves ({type(exc).__name__}: {exc}); the HTML is {path}", flush=True)
        return False


if __name__ == "__main__":
    main()

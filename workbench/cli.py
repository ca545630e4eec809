"""The ``workbench`` command: list subgraphs, collect measured records, train and evaluate world models, tune."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.logfiles import WorkDirBusy


def _cmd_subgraphs(args: argparse.Namespace) -> int:
    from workbench.subgraphs import MODELS, catalog

    models = args.model or (list(MODELS) if args.models else [])
    df = catalog(models=models)
    if args.op:
        df = df[df["op"].str.startswith(args.op)]
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        print(df[["name", "op", "weight", "mflops", "source", "note"]].to_string(index=False))
    if not models:
        print(f"\nmodel subgraphs: `workbench subgraphs --models` (or --model NAME) for {', '.join(MODELS)}")
    else:
        from workbench.subgraphs import GRAPH_PIPELINE

        print(f"\nmodel tasks as compiled: after the graph pipeline {GRAPH_PIPELINE!r} unless the model names "
              "another (--model resnet50@fold_pack; see workbench.subgraphs.graph_pipeline)")
    return 0


def _cmd_hardware(args: argparse.Namespace) -> int:
    import json

    from workbench.hardware import hardware_descriptor, peak_gflops

    desc = hardware_descriptor()
    print(json.dumps(desc, indent=1))
    if args.peak:
        peak = peak_gflops(refresh=args.refresh)
        load = "unknown" if peak.get("loadavg") is None else f"{peak['loadavg']:.2f}"
        print(f"peak: {peak['gflops']:.0f} GFLOP/s FP32 on {peak['threads']} threads, {peak['gflops_one_core']:.0f} "
              f"on one ({peak['kernel']}; measured {peak['measured']}, load average then {load})")
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from workbench.collect import collect
    from workbench.measure import Measurer
    from workbench.subgraphs import BUILTINS, load_subgraph

    names = []
    for name in args.subgraph:
        names += [spec.name for spec in BUILTINS] if name == "builtins" else [name]
    subgraphs = [load_subgraph(name) for name in names]  # bad names fail before any worker starts
    target, hardware = args.target, None
    if args.rpc:  # measured on the servers of a tracker: their machine, their target
        from workbench.rpc import remote_hardware, remote_target

        hardware = remote_hardware(args.rpc)
        if hardware is None:
            raise ValueError(f"the RPC servers at {args.rpc} do not report their hardware: start them with "
                             "`python -m workbench.rpc --tracker HOST:PORT --key KEY`")
        target = remote_target(hardware) if args.target == "cpu" else args.target
    with Measurer(target, repeat=args.repeat, min_repeat_ms=args.min_repeat_ms, build_timeout=args.build_timeout,
                  run_timeout=args.run_timeout, rpc=args.rpc, hardware=hardware) as measurer:
        summaries = collect(subgraphs, out=args.out, target=measurer.target, trials=args.trials,
                            batch_size=args.batch, seed=args.seed, measurer=measurer, split=args.split,
                            progress=not args.quiet)
    for s in summaries:
        d = asdict(s)
        print(f"{d['subgraph']:<48} existing {d['existing']:>5}  new {d['measured']:>5}  ok {d['ok']:>5}  "
              f"failed {d['failed']:>4}  best {d['best_ms']:.4f} ms  {d['seconds']:.0f} s")
    return 0


def _cmd_import_runs(args: argparse.Namespace) -> int:
    from workbench.collect import import_runs
    from workbench.logs import RECORD_FILE

    runs = []
    for path in map(Path, args.runs):  # a work dir, or a folder of them (not a repair's dot dir)
        runs += [path] if (path / RECORD_FILE).is_file() else sorted(
            p.parent for p in path.rglob(RECORD_FILE)
            if not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not runs:
        raise ValueError(f"no work dir (with a {RECORD_FILE}) in {', '.join(args.runs)}")
    out = Path(args.out).resolve()
    inside = [r for r in runs if r.resolve() == out or out in r.resolve().parents]
    if inside:
        raise ValueError(f"{inside[0]} is inside --out {args.out}: import from another folder")
    for s in import_runs(runs, out=args.out, progress=not args.quiet):
        print(f"{s.run:<60} {s.source:<12} imported {s.imported:>5}  already there {s.skipped:>5}")
    return 0


def _load_logs(paths: list[str], quiet: bool = False) -> object:
    from workbench.logs import load_logs

    df = load_logs(*paths, errors="warn", progress=False if quiet else None)
    if df.empty:
        raise ValueError(f"no tuning records in {', '.join(paths)}")
    return df


def _cmd_train(args: argparse.Namespace) -> int:
    import json

    from workbench.worldmodel.evaluate import holdout_names, split_by_subgraph
    from workbench.worldmodel.train import TrainConfig, train_evaluator

    df = _load_logs(args.logs, args.quiet)
    train, test = split_by_subgraph(df, args.holdout)
    if train.empty:
        raise ValueError("the holdout leaves no subgraph to train on")
    config = TrainConfig(encoder=args.encoder, seed=args.seed, encoder_steps=args.encoder_steps,
                         replay_traces=args.replay_traces, transition_epochs=args.transition_epochs,
                         ranker_rounds=args.ranker_rounds, latent_dim=args.latent_dim,
                         ranker_objective=args.ranker_objective, value_weight=args.value_weight,
                         ranker_parallel_exponent=args.ranker_parallel_exponent)
    print(f"training on {train['subgraph'].nunique()} subgraphs ({len(train)} records); "
          f"held out {test['subgraph'].nunique()} subgraphs", flush=True)
    evaluator, report = train_evaluator(train, config, progress=not args.quiet)
    evaluator.config.info["holdout"] = sorted(holdout_names(args.holdout, df["subgraph"].unique()))
    out = evaluator.save(args.out)
    (Path(out) / "train_report.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"saved the evaluator to {out}")
    if args.verifier:
        _save_verifier(out, df, evaluator.config.info, seed=args.seed, quiet=args.quiet)
    return 0


def _save_verifier(model_dir: Path, df: Any, info: dict[str, Any], *, seed: int, quiet: bool) -> None:
    """Fit MetaSchedule's XGBModel on the records of the world model's training subgraphs (``info``: its
    config's) and save it as ``model_dir/verifier``, for ``cost_model="world_verify"``."""
    from workbench.worldmodel.baseline import VERIFIER_DIR, fit_verifier

    if not info.get("subgraphs"):
        raise ValueError(f"{model_dir}: its config does not list the subgraphs it was trained on; retrain it with "
                         "`workbench train ... --verifier`")
    train = df[df["subgraph"].isin(info["subgraphs"])].reset_index(drop=True)
    if train.empty:
        raise ValueError(f"none of the {len(info['subgraphs'])} subgraphs {model_dir} was trained on is in these logs")
    print(f"fitting the verifier (MetaSchedule's XGBModel) on {train['subgraph'].nunique()} subgraphs", flush=True)
    verifier = fit_verifier(train, seed=seed, progress=not quiet)
    where = verifier.save(Path(model_dir) / VERIFIER_DIR,
                          info={"holdout": info.get("holdout"), "subgraphs": sorted(train["subgraph"].unique()),
                                "seed": seed})
    print(f"saved the verifier ({verifier.settings['records']} records, {verifier.timings['fit']:.0f} s) to {where}")


def _cmd_verifier(args: argparse.Namespace) -> int:
    from workbench.worldmodel.evaluator import Evaluator

    info = Evaluator.load(args.model).config.info
    _save_verifier(Path(args.model), _load_logs(args.logs, args.quiet), info, seed=args.seed, quiet=args.quiet)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from workbench.worldmodel.evaluate import draft_then_verify, evaluate_scores, split_by_subgraph
    from workbench.worldmodel.evaluator import Evaluator

    if args.verify and not args.baseline:
        raise ValueError("--verify re-scores the world model's top k with MetaSchedule's XGBModel: give --baseline")
    if any(k < 1 for k in args.verify or ()):
        raise ValueError(f"--verify takes counts >= 1, got {args.verify}")
    evaluator = Evaluator.load(args.model)
    df = _load_logs(args.logs)
    train, test = split_by_subgraph(df, args.holdout) if args.holdout else (df.iloc[:0], df)
    test = test[test["status"] == "ok"].reset_index(drop=True)
    seen = set(evaluator.config.info.get("subgraphs", [])) & set(test["subgraph"])
    if seen and not args.allow_seen:
        raise ValueError(f"the model was trained on {len(seen)} of the evaluated subgraphs (e.g. {sorted(seen)[0]}); "
                         "hold them out, or pass --allow-seen to evaluate on training data anyway")
    rows, groups = [], []
    world = evaluator.score(test)
    summary, per_group = evaluate_scores(test, world, "world_model")
    rows.append(summary)
    groups.append(per_group)
    if args.baseline:
        from workbench.worldmodel.baseline import MetaScheduleXGB

        if train.empty:
            raise ValueError("--baseline needs --holdout: MetaSchedule's XGBModel trains on the other subgraphs")
        baseline = MetaScheduleXGB()
        baseline.fit(train[train["status"] == "ok"].reset_index(drop=True))
        verifier = baseline.predict(test)
        summary, per_group = evaluate_scores(test, verifier, "metaschedule_xgb")
        rows.append(summary)
        groups.append(per_group)
        for k in args.verify or ():
            summary, per_group = evaluate_scores(test, draft_then_verify(test, world, verifier, k),
                                                 f"world_verify{k}")
            rows.append(summary)
            groups.append(per_group)
    import pandas as pd

    table = pd.DataFrame(rows).set_index("model")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.json:
        result = {"model": str(args.model), "logs": args.logs, "holdout": args.holdout, "summary": rows,
                  "per_subgraph": pd.concat(groups).reset_index().to_dict(orient="records")}
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _cmd_tune(args: argparse.Namespace) -> int:
    from workbench.tuning import TuningRun

    if (args.subgraph is None) == (args.model is None):
        raise ValueError("give --subgraph NAME|FILE or --model NAME")
    if args.model is None and (args.trials_per_task is not None or args.compare):
        raise ValueError("--trials-per-task and --compare are for --model runs")
    if args.trials is not None and args.trials_per_task is not None:
        raise ValueError("give --trials (in total) or --trials-per-task, not both")
    trials = args.trials or 64
    if args.trials_per_task is not None:
        from workbench.subgraphs import model_subgraphs

        trials = args.trials_per_task * len(model_subgraphs(args.model))
    name = args.model or args.subgraph
    named = args.cost_model is not None
    if not named and not args.work_dir:  # the default dir is named by the cost model
        from workbench.tuning.cost_model import default_cost_model

        args.cost_model = default_cost_model(args.evaluator, args.target, args.strategy)
    work_dir = args.work_dir or f"work/tune/{str(name).replace('/', '__')}-{args.cost_model}-s{args.seed}"
    run = TuningRun(args.subgraph, model=args.model, target=args.target, trials=trials,
                    cost_model=args.cost_model, evaluator=args.evaluator, work_dir=work_dir, seed=args.seed,
                    trials_per_iter=args.trials_per_iter, runner=args.rpc or "local", strategy=args.strategy,
                    confirm=args.confirm, explore=args.explore)
    if not named:  # say which one a run that named none got
        print(f"cost model {run.config.cost_model} (the default; --cost-model world, world_verify, xgb or random)",
              flush=True)
    if run.measured:
        print(f"resuming {work_dir}: {run.measured} of {run.budget} trials already measured", flush=True)
    try:
        run.run(progress=not args.quiet)
    except RuntimeError as err:
        print(f"workbench tune: {err}; the records measured so far are in {work_dir}", file=sys.stderr)
        return 1
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(run.progress().to_string(float_format=lambda v: f"{v:.4f}"))
    times = run.timings()
    print("time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    if run.status == "stopped":
        print(f"stopped at {run.measured}/{run.budget} trials: run the same command again to resume", file=sys.stderr)
        return 130
    print(f"records in {work_dir}")
    if args.compare:
        _print_comparison(run, args.compare)
    return 0


def _print_comparison(run: Any, repeat: int) -> None:
    """The tuned model compiled and timed against PyTorch eager and torch.compile, interleaved, outputs checked."""
    print(f"compiling {run.model} with its tuned schedules, then timing it against PyTorch ({repeat} calls each, "
          "interleaved)...", flush=True)
    cmp = run.compare_with_torch(repeat=repeat)
    coverage = run.compile_coverage or {}
    print(f"functions with a tuned schedule: {len(coverage.get('tuned', []))} of "
          f"{len(coverage.get('tuned', [])) + len(coverage.get('untuned', []))}")
    print(f"TVM tuned      {cmp.tvm_ms:9.2f} ms  ({cmp.tvm_threads} threads)")
    print(f"PyTorch eager  {cmp.eager_ms:9.2f} ms  ({cmp.torch_threads} threads): TVM's speed-up "
          f"{cmp.eager_ms / cmp.tvm_ms:.2f}x")
    if cmp.compile_ms is None:
        print(f"torch.compile  did not run here: {cmp.compile_error}")
    else:
        print(f"torch.compile  {cmp.compile_ms:9.2f} ms  ({cmp.torch_threads} threads): TVM's speed-up "
              f"{cmp.compile_ms / cmp.tvm_ms:.2f}x")
    print(f"outputs match PyTorch's: {cmp.outputs_match} (max abs error {cmp.max_abs_err:.1e}, "
          f"max relative {cmp.max_rel_err:.1e})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("subgraphs", help="list the subgraph catalog")
    p.add_argument("--models", action="store_true", help="include every real-model subgraph (extracts on first use)")
    p.add_argument("--model", action="append",
                   help="include one model's subgraphs (repeatable); MODEL@PIPELINE for another graph pipeline")
    p.add_argument("--op", help="only subgraphs whose op starts with this (conv2d, matmul, ...)")
    p.set_defaults(func=_cmd_subgraphs)

    p = sub.add_parser("hardware", help="this machine's hardware descriptor (what every record names), and its peak")
    p.add_argument("--peak", action="store_true", help="also its measured FP32 peak (timed once, then cached)")
    p.add_argument("--refresh", action="store_true", help="with --peak: time the peak again (on an idle machine)")
    p.set_defaults(func=_cmd_hardware)

    p = sub.add_parser("collect", help="measure random candidates of subgraphs into a MetaSchedule work dir")
    p.add_argument("--subgraph", nargs="+", required=True,
                   help="catalog names, <model>/<task> names, TVMScript files, or 'builtins' for all built-ins")
    p.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--trials", type=_positive, default=64, help="records per subgraph (existing ones count)")
    p.add_argument("--out", required=True, help="work dir (created; resumed if it has records)")
    p.add_argument("--batch", type=_positive, default=32, help="candidates built in parallel per batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=_positive, default=3, help="timed repeats per candidate")
    p.add_argument("--min-repeat-ms", type=int, default=20, help="minimum duration of one repeat")
    p.add_argument("--build-timeout", type=float, default=60.0)
    p.add_argument("--run-timeout", type=float, default=30.0)
    p.add_argument("--split", action="store_true", help="one work dir per subgraph under --out")
    p.add_argument("--rpc", help="measure on the TVM RPC servers of a tracker: rpc://tracker-host:port/key")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("import-runs", help="copy tuning runs' records into sample logs (one work dir per subgraph)")
    p.add_argument("runs", nargs="+", help="tuning work dirs or sample-log dirs, or folders holding them")
    p.add_argument("--out", required=True, help="the sample logs folder, e.g. sample_logs/cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import_runs)

    p = sub.add_parser("train", help="train a world-model evaluator (encoder, transition, ranker) on tuning logs")
    p.add_argument("--logs", nargs="+", required=True, help="work dirs, or folders of work dirs")
    p.add_argument("--out", required=True, help="directory to write the evaluator to")
    p.add_argument("--holdout", default="default",
                   help="subgraphs to leave out: names, model:<name>, 'default' (the frozen test split of the "
                        "benchmarks, DEFAULT_HOLDOUT; the default) or 'none' (comma-separated)")
    p.add_argument("--encoder", default="tfidf", help="tfidf (default: as good here, and trains in seconds), "
                   "contrastive (a small transformer, ~20 minutes on 2 cores), or hf:/path/to/local/model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latent-dim", type=_positive, default=64)
    p.add_argument("--encoder-steps", type=_positive, default=300, help="contrastive training steps")
    p.add_argument("--replay-traces", type=_positive, default=12, help="traces replayed per subgraph")
    p.add_argument("--transition-epochs", type=_positive, default=150)
    p.add_argument("--value-weight", type=_non_negative_float, default=1.0,
                   help="weight of the value head's ranking loss on measured records (0: state loss only)")
    p.add_argument("--ranker-rounds", type=_positive, default=300)
    p.add_argument("--ranker-objective", default="regression", choices=["regression", "pairwise", "pairwise_top", "ndcg"],
                   help="regression on per-subgraph best/latency (default, chosen by cross-validation), "
                        "pairwise or ndcg ranking")
    p.add_argument("--ranker-parallel-exponent", type=_non_negative_float, default=None,
                   help="learn speed per busy core and score programs that leave cores idle down by that share "
                        "to this power (regression only; 0: off; default: 0.5 with regression, else 0)")
    p.add_argument("--verifier", action="store_true",
                   help="also fit MetaSchedule's XGBModel on the same records and save it as DIR/verifier, for "
                        "`workbench tune --cost-model world_verify` (a few minutes on the shipped logs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("verifier", help="fit MetaSchedule's XGBModel beside a trained world model (DIR/verifier), on "
                       "the records of the subgraphs it was trained on, for tune --cost-model world_verify")
    p.add_argument("--logs", nargs="+", required=True, help="the logs the world model was trained on")
    p.add_argument("--model", required=True, help="the world model's directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_verifier)

    p = sub.add_parser("tune", help="tune a subgraph or a catalog model with MetaSchedule's search and a cost model")
    p.add_argument("--subgraph", help="a catalog name, <model>/<task> name, or TVMScript file")
    p.add_argument("--model", help="a catalog model: tune all its fused tasks (resnet50, bert_base, ...; "
                   "resnet50@fold_pack: the tasks of another graph pipeline)")
    p.add_argument("--trials", type=_positive, default=None,
                   help="trial budget (per subgraph; in total for --model; default 64); measured records in "
                        "--work-dir count")
    p.add_argument("--trials-per-task", type=_positive, default=None,
                   help="for --model: a budget of this many trials times the model's number of tasks (shared by "
                        "MetaSchedule's gradient task scheduler; 64 is what benchmarks/tune_e2e.py measures)")
    p.add_argument("--compare", type=_positive, nargs="?", const=20, default=0, metavar="CALLS",
                   help="for --model: when the run is done, compile the tuned model and time it against PyTorch "
                        "eager and torch.compile on the same inputs (CALLS each, default 20, interleaved), "
                        "outputs checked")
    p.add_argument("--cost-model", default=None, choices=["world", "world_verify", "xgb", "random"],
                   help="world: the world model; world_verify: the world model's best 64 re-scored by the "
                        "MetaSchedule XGBModel saved beside it (workbench train --verifier); xgb: MetaSchedule's "
                        "default; random (default: a resumed --work-dir's own, else world_verify with the evolutionary "
                        "strategy where the world model has a verifier, as the shipped CPU model does, else world)")
    p.add_argument("--strategy", default="evolutionary",
                   choices=["evolutionary", "plan", "beam", "transfer", "warm", "diverse", "hedge", "local"],
                   help="evolutionary: MetaSchedule's search (any cost model); plan: candidates proposed and scored "
                        "as decisions by the world model, only the best few built (cost model world); beam: plan, "
                        "with tile decisions also chosen stage by stage, pruned by the world model's value head "
                        "along the rollout (cost model world); transfer: beam, seeded also with the "
                        "fastest records of the world model's training subgraphs whose sketch fits, tile "
                        "sizes fitted (cost model world); warm: evolutionary, a fresh run's first batch also "
                        "measuring the best-scored of those records in a quarter of its places (cost model "
                        "world or world_verify); diverse: "
                        "each task's first batch picked from MetaSchedule's search asked for 4x the batch, at most "
                        "half of the model's picks with one compute-location plan (any cost model); hedge: every "
                        "batch picked from a 4x search and a reserve by a bandit over compute-location plans, then "
                        "the best measured plan's tiles (any cost model); local: hedge, the best plan's picks "
                        "nearest the fastest program measured so far (any cost model)")
    p.add_argument("--evaluator", help="world-model directory (default: the shipped model)")
    p.add_argument("--explore", type=float, default=None,
                   help="share of each batch drawn at random from the search's population (default: 0.125 with "
                        "the world model, MetaSchedule's 0.05 otherwise)")
    p.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--work-dir", help="MetaSchedule work dir (resumed if it exists; default work/tune/<name>-...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trials-per-iter", type=_positive, default=16, help="candidates measured per search round")
    p.add_argument("--rpc", help="measure on TVM RPC servers: rpc://tracker-host:port/key")
    p.add_argument("--confirm", type=int, default=None,
                   help="best records of each task measured again at the end, so the reported best is a latency "
                        "the schedule shows again (default 3 for a subgraph, 1 per task of a model; 0: off)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("eval", help="rank held-out subgraphs' records with an evaluator; report accuracy")
    p.add_argument("--logs", nargs="+", required=True, help="work dirs, or folders of work dirs")
    p.add_argument("--model", required=True, help="evaluator directory (from `workbench train`)")
    p.add_argument("--holdout", help="evaluate only these subgraphs (names, model:<name>, or 'default')")
    p.add_argument("--baseline", action="store_true",
                   help="also train MetaSchedule's XGBModel on the other subgraphs and report it")
    p.add_argument("--verify", type=int, nargs="+", metavar="K",
                   help="with --baseline: also report draft-then-verify rankings, the world model's top K of "
                        "each subgraph re-ordered by MetaSchedule's XGBModel (one row per K)")
    p.add_argument("--allow-seen", action="store_true", help="allow evaluating on the model's training subgraphs")
    p.add_argument("--json", help="write the summary and per-subgraph metrics to this JSON file")
    p.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: every record measured so far is saved; run the same command again to resume",
              file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, WorkDirBusy) as err:
        print(f"workbench {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Small, real inputs for tests and examples: tiny subgraphs, a slice of the sample logs, a tiny evaluator.

Nothing here fakes what it stands for: the subgraphs are real TIR, the records real measurements from
``sample_logs``, the evaluator a real (small) world model trained on them in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench import sample_logs_dir
from workbench._tvm import import_tvm
from workbench.subgraphs import Subgraph

# Three training subgraphs of the shipped model, of three families, with 150 records each in sample_logs/cpu.
SMALL_SUBGRAPHS = ("matmul_128", "dense_512x32x512", "conv2d_14x14x128_3x3")
HELD_OUT = "matmul_256"  # in the sample logs, never seen by the shipped model


def tiny_matmul(n: int = 16, name: str | None = None) -> Subgraph:
    """An ``n`` x ``n`` x ``n`` float32 matmul: a design space of a few sketches that builds in a blink."""
    tvm = import_tvm()
    from tvm import te

    a = te.placeholder((n, n), name="A")
    b = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return Subgraph(name=name or f"tiny_matmul_{n}", mod=tvm.IRModule({"main": te.create_prim_func([a, b, c])}),
                    source="testing", op="matmul")


def sample_records(names: Sequence[str] = SMALL_SUBGRAPHS, *, per_subgraph: int = 40) -> Any:
    """The first ``per_subgraph`` shipped CPU records of each named subgraph (a ``load_logs`` DataFrame)."""
    from workbench.logs import load_logs

    df = load_logs(*(sample_logs_dir() / "cpu" / name.replace("/", "__") for name in names), progress=False)
    return df.groupby("subgraph").head(per_subgraph).reset_index(drop=True)


def tiny_evaluator(records: Any = None, **config: Any) -> Any:
    """A world model trained in seconds (TF-IDF encoder, 16-d latent, a few epochs and trees) on ``records``
    (default :func:`sample_records`); keyword arguments override :class:`TrainConfig` fields."""
    from workbench.worldmodel.train import TrainConfig, train_evaluator

    settings = {"encoder": "tfidf", "latent_dim": 16, "replay_traces": 3, "transition_epochs": 5,
                "ranker_rounds": 30} | config
    evaluator, _ = train_evaluator(sample_records() if records is None else records, TrainConfig(**settings),
                                   progress=False, log=lambda _: None)
    return evaluator


def sample_work_dir(path: Any, names: Sequence[str] = ("matmul_128", "softmax_256x256"), *, records: int = 12) -> Any:
    """A work dir holding the first ``records`` shipped records of each named subgraph, renumbered into one
    set of files (``len(names)`` workloads), with their side lines: a small real dir to damage."""
    import json
    from pathlib import Path

    from workbench.integrity import (
        FILES,
        HARDWARE_FILE,
        MEASURE_FILE,
        RECORD_FILE,
        SUBGRAPH_FILE,
        WORKLOAD_FILE,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[str]] = {name: [] for name in FILES}
    for index, name in enumerate(names):
        src = sample_logs_dir() / "cpu" / name.replace("/", "__")
        out[WORKLOAD_FILE] += (src / WORKLOAD_FILE).read_text().splitlines()
        out[SUBGRAPH_FILE] += (src / SUBGRAPH_FILE).read_text().splitlines()
        out[HARDWARE_FILE] = (src / HARDWARE_FILE).read_text().splitlines()
        out[RECORD_FILE] += [json.dumps([index, json.loads(line)[1]])
                             for line in (src / RECORD_FILE).read_text().splitlines()[:records]]
        out[MEASURE_FILE] += [json.dumps(json.loads(line) | {"workload": index})
                              for line in (src / MEASURE_FILE).read_text().splitlines()[:records]]
    for name, lines in out.items():
        if lines:
            (path / name).write_text("".join(line + "\n" for line in lines))
    return path


def work_dir_health(path: Any) -> dict[str, Any]:
    """What a killed writer may have broken in a work dir: whether TVM opens it (checked in a separate process,
    so a crash is counted, not suffered), duplicate (workload, trace) records, records whose trace does not
    re-apply to its own workload, and side lines without their record (measured, then lost by the kill)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from workbench.integrity import MEASURE_FILE
    from workbench.logs import WorkDir, load_logs

    path = Path(path)
    code = ("import sys; from workbench._tvm import import_tvm; import_tvm(); "
            "from tvm.s_tir.meta_schedule.database import JSONDatabase; print(len(JSONDatabase(work_dir=sys.argv[1])))")
    opened = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    df = load_logs(path, errors="ignore", with_actions=False, progress=False)
    import_tvm()
    from tvm import s_tir

    modules = {w.index: w.module() for w in WorkDir(path).workloads()}
    bad_traces = 0
    for row in df.itertuples(index=False):
        try:
            s_tir.Trace.apply_json_to_schedule(row.trace, s_tir.Schedule(modules[row.workload]))
        except Exception:  # noqa: BLE001 - any failure to re-apply counts
            bad_traces += 1
    keys = set(zip(df["workload"], df["trace_key"], strict=True)) if len(df) else set()
    side = []
    if (path / MEASURE_FILE).is_file():
        for line in (path / MEASURE_FILE).read_text().splitlines():
            try:
                side.append(json.loads(line))
            except ValueError:
                continue
    orphans = sum(1 for s in side if isinstance(s, dict) and (s.get("workload"), s.get("trace_hash")) not in keys)
    return {"tvm_opens": opened.returncode == 0, "tvm_records": int(opened.stdout.split()[0]) if opened.returncode == 0
            else None, "tvm_error": opened.stderr[-500:] if opened.returncode else "", "records": len(df),
            "duplicates": len(df) - len(keys), "traces_not_reapplying": bad_traces, "orphan_side_lines": orphans}

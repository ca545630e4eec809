"""A tuning run: MetaSchedule's search with a chosen cost model, in the background, stoppable and resumable.

A run tunes one subgraph or every fused task of a catalog model under a trial budget. Its work dir is a
MetaSchedule JSON database (TVM's two files, written by TVM's own ``AddToDatabase`` callback) plus the
workbench side files (status, error, repeats and hardware of every measured candidate), so ``load_logs`` and
TVM both open it. ``workbench_run.json`` keeps the run's settings and one entry per session.

Resuming is starting again on the same work dir: the records already there count toward the budget, are
never measured again (their traces are handed to the search as already measured, see :class:`_SeenFilter`),
and the best of them seed the search as usual. A killed run resumes the same way; a partial last line left
by the kill is moved aside first.
"""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench._tvm import ensure_intrinsics, import_tvm, worker_initializer
from workbench.hardware import hardware_descriptor, make_target
from workbench.subgraphs import Subgraph, load_subgraph

RUN_FILE = "workbench_run.json"
_STOP_MESSAGE = "tuning stopped by the user"


class TuningError(ValueError):
    """A tuning run that cannot start: bad subgraph, target, budget or work dir."""


class StopTuning(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the search (after a batch is saved) to end a run that was asked to stop."""


@dataclass
class RunConfig:
    """What a run tunes and how; stored in the work dir so a resume continues the same run."""

    tasks: list[str]  # subgraph names (one, or all of a model's)
    model: str | None  # catalog model name for whole-model runs
    target: str  # "cpu", "cuda", or a target JSON string
    trials: int  # trial budget: per subgraph for one subgraph, in total for a model
    cost_model: str  # "world", "xgb", "random", or a class name for instances
    seed: int
    trials_per_iter: int
    runner: str  # "local" or "rpc://host:port/key"


@dataclass
class TaskState:
    """Live progress of one task."""

    name: str
    weight: int
    flops: float
    trials: int = 0  # measured candidates (all sessions)
    ok: int = 0
    build_errors: int = 0
    run_errors: int = 0
    best_latency: float = math.inf  # seconds
    best_trial: int = -1

    def row(self) -> dict[str, Any]:
        best = self.best_latency if math.isfinite(self.best_latency) else math.nan
        return {"task": self.name, "weight": self.weight, "trials": self.trials, "ok": self.ok,
                "build_errors": self.build_errors, "run_errors": self.run_errors, "best_ms": best * 1e3,
                "best_gflops": self.flops / best / 1e9 if self.flops and best == best else math.nan,
                "best_trial": self.best_trial}


@dataclass
class Timings:
    """Wall seconds of the current session, split by where they went."""

    build: float = 0.0
    run: float = 0.0
    total: float = 0.0

    @property
    def search(self) -> float:
        """Everything else: candidate generation, cost-model predict and update, bookkeeping."""
        return max(0.0, self.total - self.build - self.run)

    def as_dict(self) -> dict[str, float]:
        return {"search": self.search, "build": self.build, "run": self.run, "total": self.total}


@dataclass
class _Session:
    start: float = field(default_factory=time.time)
    sent: list[float] = field(default_factory=list)  # when each batch still unjoined went to the runner


class TuningRun:
    """Tune a subgraph (or a catalog model's tasks) with MetaSchedule's evolutionary search.

    ``cost_model``: "world" (the shipped world model, or ``evaluator=``), "xgb" (MetaSchedule's default),
    "random", or a MetaSchedule ``CostModel`` instance. ``runner``: "local", or ``"rpc://host:port/key"`` to
    measure on the RPC servers registered with that TVM tracker.

    ``start()`` returns at once and tunes in a background thread; ``progress()``, ``history()`` and
    ``timings()`` can be read at any time, ``bar()`` draws a progress bar, ``stop()`` ends the run after the
    batch being measured is saved. ``run()`` does the same in the foreground.
    """

    def __init__(self, subgraph: str | Path | Subgraph | None = None, *, model: Any = None,
                 target: Any = "cpu", trials: int = 64, cost_model: Any = "world", work_dir: str | Path,
                 seed: int = 0, trials_per_iter: int = 16, evaluator: Any = None, runner: str = "local",
                 build_workers: int | None = None, repeat: int = 3, min_repeat_ms: int = 20,
                 build_timeout: float = 60.0, run_timeout: float = 30.0) -> None:
        from workbench.tuning.cost_model import COST_MODELS

        if (subgraph is None) == (model is None):
            raise TuningError("give exactly one of a subgraph (name, TVMScript file or Subgraph) or model=")
        if not isinstance(trials, int) or trials < 1:
            raise TuningError(f"trials must be a positive integer, got {trials!r}")
        if not isinstance(trials_per_iter, int) or trials_per_iter < 1:
            raise TuningError(f"trials_per_iter must be a positive integer, got {trials_per_iter!r}")
        if isinstance(cost_model, str) and cost_model not in COST_MODELS:
            raise TuningError(f"unknown cost model {cost_model!r}: choose from {', '.join(COST_MODELS)}")
        if runner != "local" and not str(runner).startswith("rpc://"):
            raise TuningError(f"runner must be 'local' or 'rpc://host:port/key', got {runner!r}")
        from workbench.hardware import TargetError
        from workbench.subgraphs import SubgraphError

        try:
            self.target = make_target(target)
        except TargetError as err:
            raise TuningError(str(err)) from err
        self.torch_model = None
        self.compile_coverage: dict[str, list[str]] | None = None  # set by compile()
        try:
            if model is not None:
                from workbench.tuning.e2e import TorchModel

                if isinstance(model, TorchModel):
                    self.torch_model = model
                    self.subgraphs = model.subgraphs(self.target)
                    model = model.name
                else:
                    from workbench.subgraphs.models import model_subgraphs

                    self.subgraphs = model_subgraphs(model)
            else:
                self.subgraphs = [subgraph if isinstance(subgraph, Subgraph) else load_subgraph(subgraph)]
        except SubgraphError as err:
            raise TuningError(str(err)) from err
        self.model = model
        self.work_dir = Path(work_dir)
        self.trials = trials
        self.cost_model_spec = cost_model
        self.evaluator = evaluator
        self.seed = seed
        self.trials_per_iter = trials_per_iter
        self.runner_spec = str(runner)
        self.build_workers = build_workers
        self.repeat, self.min_repeat_ms = repeat, min_repeat_ms
        self.build_timeout, self.run_timeout = build_timeout, run_timeout
        self.config = RunConfig(
            tasks=[s.name for s in self.subgraphs], model=model,
            target=target if isinstance(target, str) else json.dumps(dict(self.target.export()), default=str),
            trials=trials, cost_model=cost_model if isinstance(cost_model, str) else type(cost_model).__name__,
            seed=seed, trials_per_iter=trials_per_iter, runner=self.runner_spec)
        self._check_work_dir()
        self.tasks = [TaskState(s.name, s.weight, s.flops) for s in self.subgraphs]
        self._by_name = {t.name: t for t in self.tasks}
        self._history: list[dict[str, Any]] = []
        self._seen: dict[str, set[str]] = {t.name: set() for t in self.tasks}  # trace hashes measured so far
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.status = "new"  # new, running, stopping, stopped, done, failed
        self.error: str | None = None
        self._timings = Timings()
        self._session: _Session | None = None
        self.cost_model: Any = None
        self._load_existing()

    # ---- work dir ---------------------------------------------------------------------------------
    def _check_work_dir(self) -> None:
        path = self.work_dir / RUN_FILE
        if path.is_file():
            try:
                saved = json.loads(path.read_text())["config"]
            except (ValueError, KeyError, TypeError) as err:
                raise TuningError(f"{path}: not a workbench run file ({err}); use another work dir") from err
            mine = asdict(self.config)
            diff = {k: (saved.get(k), v) for k, v in mine.items() if k not in ("trials",) and saved.get(k) != v}
            if diff:
                detail = "; ".join(f"{k}: was {a!r}, now {b!r}" for k, (a, b) in diff.items())
                raise TuningError(f"{self.work_dir} holds another run ({detail}); resume it with the same "
                                  "settings or use another work dir")
        elif self.work_dir.is_dir() and any(self.work_dir.iterdir()):
            from workbench.logs import RECORD_FILE

            if not (self.work_dir / RECORD_FILE).is_file():
                raise TuningError(f"{self.work_dir} exists and is not a tuning work dir; use an empty or new one")

    def _run_file(self) -> dict[str, Any]:
        path = self.work_dir / RUN_FILE
        if path.is_file():
            return json.loads(path.read_text())
        return {"config": asdict(self.config), "sessions": []}

    def _write_run_file(self, data: dict[str, Any]) -> None:
        data["config"] = asdict(self.config)
        tmp = self.work_dir / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.work_dir / RUN_FILE)

    def _load_existing(self) -> None:
        """Count what earlier sessions measured (all of it stays, none of it is measured again)."""
        from workbench.logs import RECORD_FILE, WorkDir, load_logs

        if not (self.work_dir / RECORD_FILE).is_file():
            return
        WorkDir(self.work_dir).repair()
        df = load_logs(self.work_dir, errors="warn", with_actions=False, progress=False)
        names = {s.name for s in self.subgraphs}
        for row in df.itertuples(index=False):
            task = self._by_name.get(row.subgraph) if row.subgraph in names else None
            if task is None:
                continue
            trial = task.trials
            task.trials += 1
            self._seen[task.name].add(row.trace_hash)
            self._count(task, row.status, row.latency, trial, row.error)
            self._history.append({"task": task.name, "trial": trial, "latency_ms": row.latency * 1e3,
                                  "status": row.status, "best_ms": task.best_latency * 1e3, "session": -1,
                                  "seconds": math.nan})

    @staticmethod
    def _count(task: TaskState, status: str, latency: float, trial: int, error: Any) -> None:
        from workbench.worldmodel.baseline import _is_build_failure

        if status == "ok":
            task.ok += 1
            if latency < task.best_latency:
                task.best_latency, task.best_trial = latency, trial
        elif _is_build_failure(status, error):
            task.build_errors += 1
        else:
            task.run_errors += 1

    # ---- state ------------------------------------------------------------------------------------
    @property
    def measured(self) -> int:
        return sum(t.trials for t in self.tasks)

    @property
    def budget(self) -> int:
        return self.trials * len(self.tasks) if self.model is None else self.trials

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.measured)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def progress(self) -> Any:
        """One row per task: trials, successes, failures, best latency (ms) and GFLOP/s."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame([t.row() for t in self.tasks]).set_index("task")

    def history(self) -> Any:
        """One row per measured candidate, in order: task, trial, latency, status, best so far, session."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame(self._history, columns=["task", "trial", "latency_ms", "status", "best_ms",
                                                        "session", "seconds"])

    def timings(self) -> dict[str, float]:
        """This session's wall seconds in search (generation and cost model), build and run."""
        with self._lock:
            t = Timings(self._timings.build, self._timings.run, self._timings.total)
            if self._session is not None and self.running:
                t.total = time.time() - self._session.start
            return t.as_dict()

    def __repr__(self) -> str:
        what = self.model or self.subgraphs[0].name
        return (f"TuningRun({what!r}, cost_model={self.config.cost_model!r}, {self.measured}/{self.budget} trials, "
                f"{self.status})")

    # ---- control ----------------------------------------------------------------------------------
    def start(self) -> TuningRun:
        """Tune in a background thread (returns at once). Starting a stopped or finished run resumes it."""
        if self.running:
            raise RuntimeError("this run is already running")
        self._stop.clear()
        self.error = None
        self.status = "running"
        self._thread = threading.Thread(target=self._main, name=f"tuning:{self.work_dir.name}", daemon=True)
        self._thread.start()
        return self

    def run(self, *, progress: bool = True) -> TuningRun:
        """Tune in the foreground with a progress bar; Ctrl-C stops after the current batch is saved."""
        self.start()
        try:
            self.bar(disable=not progress)
        except KeyboardInterrupt:
            self.stop()
        if self.status == "failed":
            raise RuntimeError(f"tuning failed: {self.error}")
        return self

    def stop(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Ask the run to stop once the batch being measured is saved; ``wait`` for it."""
        if self.running:
            self.status = "stopping"
            self._stop.set()
            if wait:
                self.wait(timeout)

    def wait(self, timeout: float | None = None) -> TuningRun:
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def bar(self, *, disable: bool = False, interval: float = 0.5) -> None:
        """A tqdm bar over the trial budget that follows the run until it ends."""
        from tqdm.auto import tqdm

        with tqdm(total=self.budget, initial=self.measured, desc=f"tuning ({self.config.cost_model})",
                  unit="trial", disable=disable) as bar:
            while True:
                done = not self.running
                bar.n = self.measured
                best = {t.name: t.best_latency for t in self.tasks if math.isfinite(t.best_latency)}
                if len(self.tasks) == 1 and best:
                    bar.set_postfix(best_ms=f"{next(iter(best.values())) * 1e3:.4f}")
                bar.refresh()
                if done:
                    break
                time.sleep(interval)

    # ---- the search -------------------------------------------------------------------------------
    def _main(self) -> None:
        data = None
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            data = self._run_file()
            data["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "measured_before": self.measured})
            self._write_run_file(data)
            self._tune(session_index=len(data["sessions"]) - 1)
            self.status = "stopped" if self._stop.is_set() and self.remaining else "done"
        except StopTuning:
            self.status = "stopped"
        except Exception as err:  # noqa: BLE001 - the run reports any failure; the thread must not die silently
            if self._stop.is_set() and _STOP_MESSAGE in str(err):  # StopTuning, re-raised by TVM's FFI
                self.status = "stopped"
                return
            self.status = "failed"
            self.error = f"{type(err).__name__}: {err}"
            self._traceback = traceback.format_exc()
        finally:
            if data is not None:
                data["sessions"][-1].update(ended=time.strftime("%Y-%m-%d %H:%M:%S"), status=self.status,
                                            measured_after=self.measured, error=self.error,
                                            timings=self._timings.as_dict(),
                                            cost_model=getattr(self.cost_model, "stats", None))
                try:
                    self._write_run_file(data)
                except OSError:
                    pass

    def _tune(self, session_index: int) -> None:
        import_tvm()
        from tvm.s_tir import meta_schedule as ms

        from workbench.logs import WorkDir
        from workbench.tuning.cost_model import make_cost_model

        if self.remaining == 0:
            return
        ensure_intrinsics(self.target)
        workdir = WorkDir(self.work_dir, create=True)
        workdir.repair()
        hw = hardware_descriptor()
        workdir.add_hardware(hw)
        for sub in self.subgraphs:
            workdir.add_subgraph_info(sub)
        from tvm.s_tir.meta_schedule.utils import cpu_count

        cores = cpu_count(logical=False)
        # A new seed per session: a resumed search must not replay the first session's random choices.
        rand = (self.seed * 7919 + session_index * 104729) % (2**31 - 2) + 1
        budget = {"left": self.remaining}  # shared by every task's search: the run's budget, exactly
        contexts = [ms.TuneContext(mod=s.mod, target=self.target, space_generator="post-order-apply",
                                   search_strategy=_seen_filter_class()(ms.SearchStrategy.create("evolutionary"),
                                                                        self._seen[s.name], budget),
                                   task_name=s.name, num_threads=cores, rand_state=rand + i)
                    for i, s in enumerate(self.subgraphs)]
        database = ms.database.JSONDatabase(work_dir=str(self.work_dir), module_equality="structural")
        self.cost_model = make_cost_model(self.cost_model_spec, target=self.target, evaluator=self.evaluator,
                                          num_tuning_cores=cores)
        self._session = _Session()
        self._timings = Timings()
        builder = self._builder()
        runner = self._runner()
        recorder = _recorder_class()(self, workdir, hw["id"], session_index)
        stopper = _stopper_class()(self._stop)
        callbacks = [recorder, *ms.MeasureCallback.create("default"), stopper]
        if self.model is None:
            per_task = self.trials - self.tasks[0].trials
            total = per_task
        else:
            total = self.remaining
            per_task = total
        try:
            ms.tune_tasks(tasks=contexts, task_weights=[float(s.weight) for s in self.subgraphs],
                          work_dir=str(self.work_dir), max_trials_global=total, max_trials_per_task=per_task,
                          num_trials_per_iter=self.trials_per_iter, builder=builder, runner=runner,
                          database=database, cost_model=self.cost_model, measure_callbacks=callbacks,
                          task_scheduler=_eager_scheduler_class()(self, seed=rand) if len(contexts) > 1
                          else "round-robin")
        finally:
            self._timings.total = time.time() - self._session.start
            self._inner_builder.pool.shutdown()
            pool = getattr(self._inner_runner, "pool", None)
            if pool is not None:
                pool.shutdown()

    def _builder(self) -> Any:
        from functools import partial

        from tvm.s_tir.meta_schedule.utils import cpu_count

        from workbench.measure import _pooled_builder_class

        init = partial(worker_initializer, self.target.kind.name)
        self._inner_builder = _pooled_builder_class()(max_workers=self.build_workers or cpu_count(logical=True),
                                                      timeout_sec=self.build_timeout, initializer=init)
        return _timed_builder_class()(self, self._inner_builder)

    def _runner(self) -> Any:
        from functools import partial

        from tvm.s_tir.meta_schedule.runner import EvaluatorConfig, LocalRunner

        evaluator = EvaluatorConfig(number=1, repeat=self.repeat, min_repeat_ms=self.min_repeat_ms,
                                    enable_cpu_cache_flush=False)
        if self.runner_spec == "local":
            init = partial(worker_initializer, self.target.kind.name)
            inner = LocalRunner(timeout_sec=self.run_timeout, evaluator_config=evaluator, initializer=init)
        else:
            from workbench.tuning.rpc import rpc_runner

            inner = rpc_runner(self.runner_spec, evaluator_config=evaluator, timeout_sec=self.run_timeout)
        self._inner_runner = inner
        return _timed_runner_class()(self, inner)

    # ---- results ----------------------------------------------------------------------------------
    def database(self) -> Any:
        import_tvm()
        from tvm.s_tir import meta_schedule as ms

        return ms.database.JSONDatabase(work_dir=str(self.work_dir), module_equality="structural")

    def best(self) -> Any:
        """The best measured schedule of each task: latency (ms), GFLOP/s, trial, trace (JSON) and TIR."""
        import pandas as pd

        from workbench.logs import load_logs

        df = load_logs(self.work_dir, errors="warn", with_actions=False, progress=False)
        rows = []
        for sub in self.subgraphs:
            ok = df[(df["subgraph"] == sub.name) & (df["status"] == "ok")]
            if ok.empty:
                rows.append({"task": sub.name, "latency_ms": math.nan, "gflops": math.nan, "trace": None,
                             "tir": None})
                continue
            row = ok.loc[ok["latency"].idxmin()]
            rows.append({"task": sub.name, "latency_ms": row.latency * 1e3,
                         "gflops": sub.flops / row.latency / 1e9 if sub.flops else math.nan, "trace": row.trace,
                         "tir": self.best_schedule(sub.name, trace=row.trace).mod.script()})
        return pd.DataFrame(rows).set_index("task")

    def best_schedule(self, task: str | None = None, *, trace: Any = None) -> Any:
        """The best measured schedule of ``task`` (the only task by default) as a TVM Schedule."""
        import_tvm()
        from tvm import s_tir

        sub = self._subgraph(task)
        if trace is None:
            best = self.best().loc[sub.name, "trace"]
            if best is None:
                raise TuningError(f"no successful measurement of {sub.name} yet")
            trace = best
        sch = s_tir.Schedule(sub.mod)
        s_tir.Trace.apply_json_to_schedule(trace, sch)
        return sch

    def compile(self) -> Any:
        """A whole-model run's model built with the best schedules found so far (a Relax VM executable).

        ``compile_coverage`` then says which of its functions got a tuned schedule; on CPU the others are
        built unscheduled (a warning names them).
        """
        from workbench.tuning.e2e import compile_tuned

        coverage: dict[str, list[str]] = {}
        executable = compile_tuned(self._torch_model(), self.database(), self.target, coverage=coverage)
        self.compile_coverage = coverage
        if coverage["untuned"] and self.target.kind.name != "cuda":
            import warnings

            warnings.warn(f"{self.model}: {len(coverage['untuned'])} functions have no tuning record and are built "
                          f"unscheduled (slow on CPU): {', '.join(coverage['untuned'])}", stacklevel=2)
        return executable

    def compare_with_torch(self, **kwargs: Any) -> Any:
        """Compile the tuned model and time it against PyTorch eager (and torch.compile) on the same inputs."""
        from workbench.tuning.e2e import compare_with_torch

        return compare_with_torch(self._torch_model(), self.compile(), **kwargs)

    def _torch_model(self) -> Any:
        if self.model is None:
            raise TuningError("compiling needs a whole-model run (TuningRun(model=...))")
        if self.torch_model is None:
            from workbench.tuning.e2e import TorchModel

            self.torch_model = TorchModel.from_catalog(self.model)
        return self.torch_model

    def _subgraph(self, task: str | None) -> Subgraph:
        if task is None:
            if len(self.subgraphs) != 1:
                raise TuningError("this run has several tasks: name one")
            return self.subgraphs[0]
        for sub in self.subgraphs:
            if sub.name == task:
                return sub
        raise TuningError(f"no task {task!r} in this run")

    # ---- called from the search thread ------------------------------------------------------------
    def _record(self, task_id: int, entries: list[tuple[str, float, str | None]], session: int) -> None:
        with self._lock:
            task = self.tasks[task_id]
            for status, latency, error in entries:
                trial = task.trials
                task.trials += 1
                self._count(task, status, latency, trial, error)
                self._history.append({"task": task.name, "trial": trial, "latency_ms": latency * 1e3,
                                      "status": status, "best_ms": task.best_latency * 1e3, "session": session,
                                      "seconds": time.time() - self._session.start})


def _trace_key(trace: Any) -> str:
    """The trace hash of a candidate as its record line will have it (see ``WorkDir.add_measurement``)."""
    from workbench.actions import to_plain_json
    from workbench.logs import _bools_as_ints, trace_hash

    return trace_hash(_bools_as_ints(to_plain_json(trace.as_json(remove_postproc=False))))


def _seen_filter_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy

    @derived_object
    class SeenFilter(PySearchStrategy):
        """MetaSchedule's search, minus candidates the work dir already holds, within the run's budget.

        The evolutionary search remembers what it measured in this session only; on a resumed run it can
        propose a record of an earlier session again (the database's best seed its population). Those are
        dropped here before they reach the builder, so a resumed run never measures anything twice. The
        budget left is shared by all tasks of a run, so a model run stops at its budget exactly (TVM's own
        global limit can overshoot by a batch). A search that returns a quarter or less of the candidates asked
        for has run out of programs: the task ends there instead of searching its tiny space again (20-30 s each time).
        """

        MAX_EMPTY = 2  # batches in a row that held only known candidates before the task is ended

        def __init__(self, inner: Any, seen: set[str], budget: dict[str, int]) -> None:
            super().__init__()
            self.inner, self.seen, self.budget = inner, seen, budget
            self.max_trials = 0
            self.per_iter = 0
            self.given = 0
            self.skipped = 0
            self.exhausted = False

        def _initialize_with_tune_context(self, context: Any) -> None:
            self.inner._initialize_with_tune_context(context)

        def pre_tuning(self, max_trials: int, num_trials_per_iter: int, design_spaces: list, database: Any = None,
                       cost_model: Any = None) -> None:
            self.max_trials, self.per_iter, self.given, self.exhausted = max_trials, num_trials_per_iter, 0, False
            self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

        def post_tuning(self) -> None:
            self.inner.post_tuning()

        def generate_measure_candidates(self) -> Any:
            for _ in range(self.MAX_EMPTY):
                if self.given >= self.max_trials or self.budget["left"] <= 0 or self.exhausted:
                    return None
                candidates = self.inner.generate_measure_candidates()
                if candidates is None:
                    return None
                # Far fewer than asked for: the search found no more unmeasured programs (a tiny design space,
                # such as a fused element-wise task). Searching it again would only burn time.
                asked = min(self.per_iter, self.max_trials - self.given)
                self.exhausted = len(candidates) < asked and len(candidates) <= max(1, asked // 4)
                fresh = []
                for cand in candidates:
                    key = _trace_key(cand.sch.trace)
                    if key in self.seen:
                        self.skipped += 1
                    else:
                        self.seen.add(key)
                        fresh.append(cand)
                fresh = fresh[: min(self.max_trials - self.given, self.budget["left"])]
                if fresh:
                    self.given += len(fresh)
                    self.budget["left"] -= len(fresh)
                    return fresh
            return None

        def notify_runner_results(self, measure_candidates: list, results: list) -> None:
            self.inner.notify_runner_results(measure_candidates, results)

        def clone(self) -> Any:
            return SeenFilter(self.inner.clone(), set(self.seen), self.budget)

    return SeenFilter


def _eager_scheduler_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.task_scheduler import PyTaskScheduler

    @derived_object
    class EagerGradientScheduler(PyTaskScheduler):
        """MetaSchedule's gradient-based task scheduler, joining every batch as soon as it is measured.

        TVM's own one sends a batch of every task before it joins any (its round-robin warm-up), so with many
        tasks nothing is saved, shown or stoppable for the first n_tasks searches, and a kill then loses them
        all. Here each batch is joined (its records saved, the run's progress updated) before the next task is
        chosen. The choice is TVM's: one round-robin pass (on a resumed run, over the tasks without records, so
        a budget cut short still reaches every task), then the task with the largest weighted gradient of its
        best latency (alpha 0.2, window 3), ties broken at random.
        """

        ALPHA, WINDOW = 0.2, 3

        def __init__(self, run: TuningRun, seed: int = 1) -> None:
            super().__init__()
            import random

            self.run_owner = run
            self.rng = random.Random(seed)
            self.next_round_robin = 0
            self.order: list[int] | None = None
            self.history: dict[int, list[float]] = {}

        def next_task_id(self) -> int:
            ts = self._outer()
            n = len(ts.tasks_)
            for i in range(n):
                if ts.tasks_[i].runner_futures is not None:
                    self.join_running_task(i)
                    best = self.run_owner.tasks[i].best_latency
                    self.history.setdefault(i, []).append(best if math.isfinite(best) else 1e10)
            alive = []
            for i in range(n):
                ts.touch_task(i)
                if not ts.tasks_[i].is_terminated:
                    alive.append(i)
            if not alive:
                return -1
            if self.order is None:
                # The warm-up pass covers the tasks without records; on a resumed run the others were warmed up
                # already and enter the gradient phase with their best latency so far.
                tasks = self.run_owner.tasks
                self.order = [i for i in range(n) if tasks[i].trials == 0]
                for i in range(n):
                    if tasks[i].trials and i not in self.history:
                        best = tasks[i].best_latency
                        self.history[i] = [best if math.isfinite(best) else 1e10]
            while self.next_round_robin < len(self.order):
                i = self.order[self.next_round_robin]
                self.next_round_robin += 1
                if i in alive:
                    return i
            grads = []
            for i in alive:
                hist, w = self.history.get(i, []), self.WINDOW
                if hist and hist[-1] < 1e9:
                    best = hist[-1]
                    g1 = (hist[-1 - w] - best) / w if len(hist) >= 1 + w else 0.0
                    grads.append((self.ALPHA * g1 + (1 - self.ALPHA) * best / len(hist))
                                 * float(ts.tasks_[i].task_weight))
                else:
                    grads.append(-1e9)  # no valid measurement yet
            top = max(grads)
            if top == min(grads):
                return self.rng.choice(alive)
            return alive[grads.index(top)]

    return EagerGradientScheduler


def _recorder_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class Recorder(PyMeasureCallback):
        """Writes each candidate's side line (status, error, repeats, hardware) before TVM's own record line,
        and updates the run's live progress."""

        def __init__(self, run: TuningRun, workdir: Any, hardware_id: str, session: int) -> None:
            super().__init__()
            self.run, self.workdir, self.hardware_id, self.session = run, workdir, hardware_id, session

        def apply(self, task_scheduler: Any, task_id: int, candidates: list, builder_results: list,
                  runner_results: list) -> None:
            session = self.run._session
            if session.sent:  # batches are joined in the order they were sent
                self.run._timings.run += time.time() - session.sent.pop(0)
            entries = []
            task = self.run.tasks[task_id]
            for i, (cand, built, ran) in enumerate(zip(candidates, builder_results, runner_results, strict=True)):
                if built.error_msg is not None:
                    msg = str(built.error_msg)
                    status, secs = ("timeout" if "Timeout" in msg else "build_error"), []
                elif ran.error_msg is not None:
                    msg = str(ran.error_msg)
                    status, secs = ("timeout" if "Timeout" in msg else "run_error"), []
                else:
                    msg, status, secs = None, "ok", [float(s) for s in ran.run_secs]
                latency = float(sorted(secs)[len(secs) // 2]) if secs else math.nan
                self.workdir.add_measurement(self.run.subgraphs[task_id], cand.sch.trace, status=status,
                                             error=msg, run_secs=secs, hardware=self.hardware_id,
                                             trial=task.trials + i)
                entries.append((status, latency, msg))
            self.run._record(task_id, entries, self.session)

    return Recorder


def _stopper_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class Stopper(PyMeasureCallback):
        """Last callback of a batch (its records are saved by then): ends the search when asked to."""

        def __init__(self, event: threading.Event) -> None:
            super().__init__()
            self.event = event

        def apply(self, task_scheduler: Any, task_id: int, *args: Any) -> None:
            if self.event.is_set():
                raise StopTuning(_STOP_MESSAGE)

    return Stopper


def _timed_builder_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import PyBuilder

    @derived_object
    class TimedBuilder(PyBuilder):
        """Builds with the inner builder and adds the wall time to the run's build time."""

        def __init__(self, run: TuningRun, inner: Any) -> None:
            super().__init__()
            self.run_owner, self.inner = run, inner

        def build(self, build_inputs: list) -> list:
            start = time.time()
            try:
                return self.inner.build(build_inputs)
            finally:
                self.run_owner._timings.build += time.time() - start

    return TimedBuilder


def _timed_runner_class() -> type:
    import_tvm()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.runner import PyRunner

    @derived_object
    class TimedRunner(PyRunner):
        """Hands candidates to the inner runner and notes when, so the run's time can be attributed."""

        def __init__(self, run: TuningRun, inner: Any) -> None:
            super().__init__()
            self.run_owner, self.inner = run, inner

        def run(self, runner_inputs: list) -> list:
            self.run_owner._session.sent.append(time.time())
            return self.inner.run(runner_inputs)

    return TimedRunner

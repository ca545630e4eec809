"""A tuning run: MetaSchedule's search with a chosen cost model, in the background, stoppable and resumable.

A run tunes one subgraph or every fused task of a catalog model under a trial budget. Its work dir is a
MetaSchedule JSON database (TVM's two files, written by TVM's own ``AddToDatabase`` callback) plus the
workbench side files (status, error, repeats and hardware of every measured candidate), so ``load_logs`` and
TVM both open it. ``workbench_run.json`` keeps the run's settings and one entry per session.

Resuming is starting again on the same work dir: the records already there count toward the budget, are
never measured again (their trace keys are handed to the search as already measured, see
:class:`~workbench.tuning.search.SeenFilter`), and the best of them seed the search as usual. A killed run
resumes the same way; a partial last line left by the kill is moved aside first.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
import traceback
import warnings
import weakref
from functools import partial
from pathlib import Path
from typing import Any

from workbench._tvm import ensure_intrinsics, import_tvm
from workbench.hardware import TargetError, hardware_descriptor, hardware_id, make_target
from workbench.integrity import check, clean_copy
from workbench.logfiles import WriterLock
from workbench.logs import RECORD_FILE, WorkDir, load_logs
from workbench.measure import MeasureConfig, Measurer, close_runner, make_builder, make_runner
from workbench.rpc import RPCError, infrastructure_problem, remote_hardware, remote_target
from workbench.subgraphs import Subgraph, SubgraphError, load_subgraph, model_key, model_subgraphs
from workbench.tuning.callbacks import (
    INFRA_BATCHES,
    Recorder,
    SkipInfrastructure,
    Stopper,
    TimedBuilder,
    TimedRunner,
    infrastructure_error,
    is_stop,
)
from workbench.tuning.cost_model import cost_model_problem, default_cost_model, make_cost_model
from workbench.tuning.e2e import TorchModel, compare_with_torch, compile_tuned
from workbench.tuning.online import ROUNDS_FILE, read_rounds
from workbench.tuning.results import (
    CONFIRM_SETTINGS,
    apply_trace,
    best_records,
    confirm_best,
    needs_confirmation,
    warn_other_machines,
)
from workbench.tuning.search import STRATEGIES, quiet_statistics, search_strategy, task_scheduler
from workbench.tuning.state import RunConfig, RunFile, RunState, TuningError

import_tvm()
from tvm.s_tir import meta_schedule as ms  # noqa: E402

WORLD_EXPLORE = 0.125  # the share of a world-model batch drawn at random (see TuningRun)


class TuningRun:
    """Tune a subgraph (or a catalog model's tasks) with MetaSchedule's evolutionary search.

    ``cost_model``: "world" (the shipped world model, or ``evaluator=``), "world_verify" (the world model's best
    re-scored by the verifier saved beside it), "xgb" (MetaSchedule's default), "random", or a ``CostModel``; None:
    :func:`~workbench.tuning.cost_model.default_cost_model` (a resumed run's own, else "world_verify" where the
    world model has a verifier and the strategy is "evolutionary", else "world"). ``runner``: "local", or
    ``"rpc://host:port/key"`` to measure on the RPC servers registered with that TVM tracker. ``measure``: how
    candidates are built and timed (:class:`~workbench.measure.MeasureConfig`). ``confirm``: at the end of a
    session, the best records of each task measured again (``confirm_rounds`` interleaved rounds, long repeats) so
    that the best reported is a latency the schedule shows again (default: the top 3 of a subgraph, the top 1 of
    each task of a model; 0: off; see :mod:`workbench.tuning.results`). ``explore``: the share of each batch the
    search draws at random from its population instead of the cost model's top (default: 1/8 with world models, two
    of a batch of 16, so the run's own model learns from more than the prior's picks; MetaSchedule's 0.05 with the
    others, which rounds to none of 16).

    ``start()`` returns at once and tunes in a background thread; ``progress()``, ``history()`` and
    ``timings()`` can be read at any time, ``bar()`` draws a progress bar, ``stop()`` ends the run after the
    batch being measured is saved. ``run()`` does the same in the foreground.
    """

    def __init__(self, subgraph: str | Path | Subgraph | None = None, *, model: Any = None,
                 target: Any = "cpu", trials: int = 64, cost_model: Any = None, work_dir: str | Path,
                 seed: int = 0, trials_per_iter: int = 16, evaluator: Any = None, runner: str = "local",
                 strategy: str = "evolutionary", measure: MeasureConfig | None = None, confirm: int | None = None,
                 confirm_rounds: int = 3, explore: float | None = None) -> None:
        if (subgraph is None) == (model is None):
            raise TuningError("give exactly one of a subgraph (name, TVMScript file or Subgraph) or model=")
        if not isinstance(trials, int) or trials < 1:
            raise TuningError(f"trials must be a positive integer, got {trials!r}")
        if not isinstance(trials_per_iter, int) or trials_per_iter < 1:
            raise TuningError(f"trials_per_iter must be a positive integer, got {trials_per_iter!r}")
        if runner != "local" and not str(runner).startswith("rpc://"):
            raise TuningError(f"runner must be 'local' or 'rpc://host:port/key', got {runner!r}")
        self.hardware, target = self._measuring_machine(str(runner), target)
        try:
            self.target = make_target(target)
        except TargetError as err:
            raise TuningError(str(err)) from err
        self.torch_model: TorchModel | None = None
        self.compile_coverage: dict[str, list[str]] | None = None  # set by compile()
        try:
            if isinstance(model, TorchModel):
                self.torch_model, self.subgraphs = model, model.subgraphs(self.target)
                model = model_key(model.name, model.pipeline)  # "resnet50", or "resnet50@fold_pack"
            elif model is not None:
                self.subgraphs, model = model_subgraphs(model), model_key(model)
            else:
                self.subgraphs = [subgraph if isinstance(subgraph, Subgraph) else load_subgraph(subgraph)]
        except SubgraphError as err:
            raise TuningError(str(err)) from err
        self.model = model
        self.work_dir = Path(work_dir)
        self.trials = trials
        self.cost_model_spec = cost_model = default_cost_model(evaluator, self.target, strategy, self.work_dir) \
            if cost_model is None else cost_model
        self.evaluator = evaluator
        self.seed = seed
        self.trials_per_iter = trials_per_iter
        self.runner_spec = str(runner)
        self.strategy = strategy
        if strategy not in STRATEGIES:
            raise TuningError(f"unknown search strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
        if problem := cost_model_problem(cost_model, evaluator, self.target, strategy):
            raise TuningError(problem)
        if explore is not None and not 0.0 <= explore <= 1.0:
            raise TuningError(f"explore must be a share between 0 and 1, got {explore!r}")
        self.explore = (WORLD_EXPLORE if cost_model in ("world", "world_verify") else None) if explore is None else explore
        self.measure = measure or MeasureConfig()
        self.confirm_top = (3 if model is None else 1) if confirm is None else confirm
        self.confirm_rounds = confirm_rounds
        self.config = RunConfig(
            tasks=[s.name for s in self.subgraphs], model=model,
            target=target if isinstance(target, str) else json.dumps(dict(self.target.export()), default=str),
            trials=trials, cost_model=cost_model if isinstance(cost_model, str) else type(cost_model).__name__,
            seed=seed, trials_per_iter=trials_per_iter, runner=self.runner_spec)
        self.run_file = RunFile(self.work_dir, self.config)
        self.run_file.check()
        self.state = RunState(self.subgraphs)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.status = "new"  # new, running, stopping, stopped, done, failed
        self.error: str | None = None
        self.traceback: str | None = None
        self.confirm_error: str | None = None  # why the last confirmation failed (the run itself is fine)
        self.cost_model: Any = None
        self._lock = WriterLock(self.work_dir)  # held from start() until the session ends
        if (self.work_dir / RECORD_FILE).is_file():  # earlier sessions: counted, never measured again
            earlier = load_logs(self.work_dir, errors="warn", with_actions=False, progress=False)
            self.state.load(earlier)
            warn_other_machines(self.work_dir, earlier, self.hardware)
        if (self.run_file.saved() or {}).get("sessions"):  # a run of earlier sessions, opened again
            self.status = "done" if self.remaining == 0 else "stopped"

    @staticmethod
    def _measuring_machine(runner: str, target: Any) -> tuple[dict[str, Any], Any]:
        """The hardware descriptor of the machine that will time the candidates, and the target to build for.

        For RPC runs that is the remote's: its servers report it (``python -m workbench.rpc``); a plain TVM
        server cannot, so the run needs its target and records an "unknown remote" descriptor.
        """
        if runner == "local":
            return hardware_descriptor(), target
        try:
            remote = remote_hardware(runner)
        except RPCError as err:
            raise TuningError(str(err)) from err
        if remote is None:
            if target in ("cpu", "llvm"):
                raise TuningError(f"the RPC servers at {runner} do not report their hardware (start them with "
                                  "`python -m workbench.rpc`), so give the run their target, e.g. target={'kind': "
                                  "'llvm', 'mcpu': ..., 'num-cores': ...}")
            remote = {"id": hardware_id({"remote": runner}), "remote": runner, "known": False}
        return remote, remote_target(remote) if target in ("cpu", "llvm") else target

    # ---- state ------------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[Any]:
        return self.state.tasks

    @property
    def measured(self) -> int:
        return self.state.measured

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
        return self.state.progress()

    def history(self) -> Any:
        """One row per measured candidate, in order: task, trial, latency, status, best so far, session."""
        return self.state.history_frame()

    def timings(self, *, sessions: str = "this") -> dict[str, float]:
        """Wall seconds in search (generation and cost model), build, run and confirmation, and their total: of
        this session (``sessions="this"``), or of every session of the run, from its run file and the live one
        (``"all"``: what the run cost so far, the same after it is opened again)."""
        if sessions == "this":
            return self.state.timings_now()
        if sessions != "all":
            raise ValueError(f"sessions must be 'this' or 'all', not {sessions!r}")
        keys = ("search", "build", "run", "confirm", "total")
        out = dict.fromkeys(keys, 0.0)
        ended = [x for x in (self.run_file.saved() or {}).get("sessions", []) if isinstance(x.get("timings"), dict)]
        live = [self.state.timings_now()] if self.running else []
        for t in [x["timings"] for x in ended] + live:
            for k in keys:
                value = t.get(k)
                out[k] += float(value) if isinstance(value, int | float) else 0.0
        return out

    def rounds(self) -> Any:
        """One row per measured batch of a world-model run, read from the work dir (every session): its task,
        size, each model's prospective pairwise accuracy on it, the blend's weights, and the predicted scores
        and measured latencies (lists) of the batch the search picked."""
        return read_rounds(self.work_dir)

    def __repr__(self) -> str:
        what = self.model or self.subgraphs[0].name
        return (f"TuningRun({what!r}, cost_model={self.config.cost_model!r}, {self.measured}/{self.budget} trials, "
                f"{self.status})")

    # ---- control ----------------------------------------------------------------------------------
    def start(self) -> TuningRun:
        """Tune in a background thread (returns at once). Starting a stopped or finished run resumes it.

        Raises ``WorkDirBusy`` (naming the other process) when another writer holds the work dir.
        """
        if self.running:
            raise RuntimeError("this run is already running")
        self._lock.acquire()
        self._stop.clear()
        self.error = self.traceback = None
        self.status = "running"
        self._thread = threading.Thread(target=self._main, name=f"tuning:{self.work_dir.name}", daemon=True)
        self._thread.start()
        return self

    def run(self, *, progress: bool = True) -> TuningRun:
        """Tune in the foreground with a progress bar; Ctrl-C stops after the current batch is saved.

        Raises RuntimeError when the run failed (the records measured before stay in the work dir).
        """
        self.start()
        try:
            self.bar(disable=not progress)
        except KeyboardInterrupt:
            self.stop()
        return self.wait()

    def stop(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Ask the run to stop once the batch being measured is saved; ``wait`` for it."""
        if self.running:
            self.status = "stopping"
            self._stop.set()
            if wait:
                self.wait(timeout)

    def wait(self, timeout: float | None = None) -> TuningRun:
        """Wait for the run to end (or ``timeout`` seconds); raises RuntimeError if it failed."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.status == "failed" and not self.running:
            raise RuntimeError(f"tuning failed: {self.error}")
        return self

    def bar(self, *, disable: bool = False, interval: float = 0.5) -> None:
        """A tqdm bar over the trial budget that follows the run until it ends."""
        from tqdm.auto import tqdm

        with tqdm(total=self.budget, initial=self.measured, desc=f"tuning ({self.config.cost_model})",
                  unit="trial", disable=disable) as bar:
            while True:
                done = not self.running
                bar.n = self.measured
                best = [b for b in self.state.best_latencies().values() if math.isfinite(b)]
                if len(self.tasks) == 1 and best:
                    bar.set_postfix(best_ms=f"{best[0] * 1e3:.4f}")
                bar.refresh()
                if done:
                    break
                time.sleep(interval)

    # ---- the search -------------------------------------------------------------------------------
    def _main(self) -> None:
        session = None
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            session = self.run_file.begin_session(self.measured)
            self.state.begin_session(session, budget=self.remaining)  # the budget every task's search shares
            try:
                self._tune(session)
            finally:
                self.state.end_session()
            if not self._stop.is_set():
                self._confirm_quietly()
            self.status = "stopped" if self._stop.is_set() and self.remaining else "done"
        except Exception as err:  # noqa: BLE001 - the run reports any failure; the thread must not die silently
            if is_stop(err) and self._stop.is_set():  # StopTuning, possibly re-raised by TVM's FFI
                self.status = "stopped"
            elif infrastructure_error(err):
                self.status, self.error = "failed", infrastructure_error(err)
            else:
                self.status = "failed"
                self.error = f"{type(err).__name__}: {err}"
                self.traceback = traceback.format_exc()
        finally:
            try:
                if session is not None:
                    self.run_file.end_session(status=self.status, measured_after=self.measured, error=self.error,
                                              timings=self.timings(),
                                              cost_model=getattr(self.cost_model, "stats", None))
            except OSError:
                pass
            finally:
                self._lock.release()

    def _tune(self, session: int) -> None:
        if self.remaining == 0:
            return
        ensure_intrinsics(self.target)
        workdir = WorkDir(self.work_dir, create=True, lock=self._lock)
        moved = workdir.repair(tvm=True)  # before TVM opens the files: it crashes on some bad lines
        for problem in moved:
            warnings.warn(f"moved out of the work dir: {problem}", stacklevel=2)
        if moved:  # count what is left (the state counted the records before the bad ones were moved out)
            state = RunState(self.subgraphs)
            state.load(load_logs(self.work_dir, errors="warn", with_actions=False, progress=False))
            state.begin_session(session, budget=self.remaining)
            self.state = state
            if self.remaining == 0:
                return
        workdir.add_hardware(self.hardware)
        for sub in self.subgraphs:
            workdir.add_subgraph_info(sub)
        cores = ms.utils.cpu_count(logical=False)
        # A new seed per session: a resumed search must not replay the first session's random choices.
        rand = (self.seed * 7919 + session * 104729) % (2**31 - 2) + 1
        database = ms.database.JSONDatabase(work_dir=str(self.work_dir), module_equality="structural")
        self.cost_model = make_cost_model(self.cost_model_spec, target=self.target, evaluator=self.evaluator,
                                          num_tuning_cores=cores, hardware=self.hardware,
                                          rounds_file=self.work_dir / ROUNDS_FILE, seed=rand)
        contexts = [ms.TuneContext(mod=s.mod, target=self.target, space_generator="post-order-apply",
                                   search_strategy=search_strategy(self.strategy, seen=self.state.seen[s.name],
                                                                   budget=self.state.budget,
                                                                   explore=self.explore, seed=rand + i,
                                                                   cost_model=self.cost_model),
                                   task_name=s.name, num_threads=cores, rand_state=rand + i)
                    for i, s in enumerate(self.subgraphs)]
        # Starting the build and run pools (the local runner checks its pool with a real call, ~4 s) is building
        # and running, not searching: the search time then holds what the search strategies differ in.
        # Counted as under way while they start, as a batch is, so the live search time never goes backwards.
        start = time.time()
        self.state.build_started()
        try:
            builder = make_builder(self.target, self.measure)
        finally:
            self.state.add_build_time(time.time() - start)
        rpc = None if self.runner_spec == "local" else self.runner_spec
        self.state.batch_sent()
        try:
            runner = make_runner(self.target, self.measure, rpc=rpc)
        finally:
            self.state.batch_joined()
        infra_check = partial(infrastructure_problem, rpc) if rpc else None
        callbacks = [Recorder(self.state, workdir, self.subgraphs, self.hardware["id"], infra_check=infra_check,
                              source=f"tune:{self.config.cost_model}"),
                     SkipInfrastructure(self.state, ms.measure_callback.AddToDatabase()),
                     ms.measure_callback.RemoveBuildArtifact(),
                     SkipInfrastructure(self.state, ms.measure_callback.UpdateCostModel()),
                     Stopper(self._stop, self.state)]
        # TVM counts every candidate it hands out toward its own limits, also those the infrastructure failed
        # (which are refunded to the shared budget): its limits get room for that, the shared budget decides.
        cap = self.remaining + (INFRA_BATCHES + 1) * self.trials_per_iter
        try:
            with quiet_statistics():  # the run's own progress, not TVM's table after every batch
                ms.tune_tasks(tasks=contexts, task_weights=[float(s.weight) for s in self.subgraphs],
                              work_dir=str(self.work_dir), max_trials_global=cap, max_trials_per_task=cap,
                              num_trials_per_iter=self.trials_per_iter, builder=TimedBuilder(self.state, builder),
                              runner=TimedRunner(self.state, runner, infra_check=infra_check),
                              database=database, cost_model=self.cost_model, measure_callbacks=callbacks,
                              task_scheduler=task_scheduler(self.state, seed=rand))
        finally:
            builder.close()
            close_runner(runner)

    def confirm(self) -> TuningRun:
        """Measure the best records of each task again now, if the latest confirmation does not cover them
        (a run does this itself at the end of every session it is not stopped in)."""
        if self.running:
            raise RuntimeError("this run is running: it confirms at the end of its session")
        with self._lock:
            self._confirm()
        return self

    def _confirm_quietly(self) -> None:
        """Confirm; a failure there (a server gone, a build pool error) is a warning: the search is saved."""
        try:
            self._confirm()
        except Exception as err:  # noqa: BLE001 - the records stand; only their confirmation is missing
            self.confirm_error = f"{type(err).__name__}: {err}"
            warnings.warn(f"{self.work_dir}: the best records could not be measured again ({self.confirm_error}); "
                          "best() reports the latencies logged during the search", stacklevel=2)

    def _confirm(self) -> None:
        if not self.confirm_top or not self.measured:
            return
        df = load_logs(self.work_dir, errors="warn", with_actions=False, progress=False)
        if not needs_confirmation(df, self.subgraphs, self.confirm_top):
            return
        workdir = WorkDir(self.work_dir, lock=self._lock)
        start = time.time()
        config = MeasureConfig(**{**vars(CONFIRM_SETTINGS), "build_workers": self.measure.build_workers,
                                  "build_timeout": self.measure.build_timeout,
                                  "run_timeout": max(self.measure.run_timeout, CONFIRM_SETTINGS.run_timeout)})
        with Measurer(self.target, config, rpc=None if self.runner_spec == "local" else self.runner_spec,
                      hardware=self.hardware) as measurer:
            best = confirm_best(workdir, self.subgraphs, measurer, top=self.confirm_top, rounds=self.confirm_rounds,
                                seed=self.seed, stop=self._stop)
        self.state.confirmed(best, time.time() - start)

    # ---- results ----------------------------------------------------------------------------------
    def database(self) -> Any:
        """The work dir as MetaSchedule's ``JSONDatabase`` (checked line by line first: if a line is bad, TVM
        opens a cleaned copy, and a warning names every problem; the work dir itself is not modified)."""
        path = self.work_dir
        report = check(path, tvm=True)
        if report.ok:
            return ms.database.JSONDatabase(work_dir=str(path), module_equality="structural")
        for problem in report.problems():
            warnings.warn(f"left out of the database: {problem}", stacklevel=2)
        copy = clean_copy(path, report)
        database = ms.database.JSONDatabase(work_dir=str(copy), module_equality="structural")
        weakref.finalize(database, shutil.rmtree, copy, True)  # the copy goes with the database
        return database

    def best(self) -> Any:
        """The best schedule of each task: latency (ms; confirmed by re-measurement unless ``confirmed`` is
        False), GFLOP/s, the latency logged during the run, trace (JSON) and TIR."""
        return best_records(self.work_dir, self.subgraphs)

    def best_schedule(self, task: str | None = None, *, trace: Any = None) -> Any:
        """The best measured schedule of ``task`` (the only task by default) as a TVM Schedule."""
        sub = self._subgraph(task)
        if trace is None:
            trace = self.best().loc[sub.name, "trace"]
            if trace is None:
                raise TuningError(f"no successful measurement of {sub.name} yet")
        return apply_trace(sub, trace)

    def compile(self) -> Any:
        """A whole-model run's model built with the best schedules found so far (a Relax VM executable).

        ``compile_coverage`` then says which of its functions got a tuned schedule; on CPU the others are
        built unscheduled (a warning names them).
        """
        coverage: dict[str, list[str]] = {}
        executable = compile_tuned(self._torch_model(), self.database(), self.target, coverage=coverage)
        self.compile_coverage = coverage
        if coverage["untuned"] and self.target.kind.name != "cuda":
            warnings.warn(f"{self.model}: {len(coverage['untuned'])} functions have no tuning record and are built "
                          f"unscheduled (slow on CPU): {', '.join(coverage['untuned'])}", stacklevel=2)
        return executable

    def compare_with_torch(self, **kwargs: Any) -> Any:
        """Compile the tuned model and time it against PyTorch eager (and torch.compile) on the same inputs."""
        return compare_with_torch(self._torch_model(), self.compile(), **kwargs)

    def _torch_model(self) -> TorchModel:
        if self.model is None:
            raise TuningError("compiling needs a whole-model run (TuningRun(model=...))")
        if self.torch_model is None:
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

"""What a run hooks into MetaSchedule's loop: the recorder and stopper callbacks, a timed builder and runner.

All of them write the run's :class:`~workbench.tuning.state.RunState` through its lock. Importing this
module loads TVM (MetaSchedule ``Py*`` objects need it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from workbench._tvm import import_tvm
from workbench.logs import WorkDir
from workbench.measure import INFRA_PREFIX, classify_failure, median_latency
from workbench.tuning.state import RunState

import_tvm()

from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule.builder import PyBuilder  # noqa: E402
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback  # noqa: E402
from tvm.s_tir.meta_schedule.runner import PyRunner, RunnerFuture, RunnerResult  # noqa: E402

STOP_MESSAGE = "tuning stopped by the user"
INFRA_BATCHES = 2  # batches in a row with infrastructure failures before the run ends


class StopTuning(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the search (after a batch is saved) to end a run that was asked to stop."""


class InfrastructureFailure(RuntimeError):
    """The measuring infrastructure (RPC tracker or servers) is gone; nothing measured was counted for it."""


def is_stop(err: BaseException) -> bool:
    """True for :class:`StopTuning`, also once TVM's FFI has turned it into a ``RuntimeError``."""
    return isinstance(err, StopTuning) or STOP_MESSAGE in str(err)


def infrastructure_error(err: BaseException) -> str | None:
    """The message of an :class:`InfrastructureFailure` (also once TVM's FFI has wrapped it), else None."""
    text = str(err)
    return text[text.index(INFRA_PREFIX):].splitlines()[0] if INFRA_PREFIX in text else None


@derived_object
class Recorder(PyMeasureCallback):
    """Writes each candidate's side line (status, error, repeats, hardware) before TVM's own record line,
    and counts the batch in the run's state.

    Run failures the infrastructure caused (``infra_check`` says the RPC servers are gone, or the runner was
    never asked: see :class:`TimedRunner`) are not the candidates' fault: they get no record, do not count
    toward the budget and are measured again on resume (:class:`SkipInfrastructure` keeps them out of the
    database and the cost model). After ``INFRA_BATCHES`` such batches in a row the run ends.
    """

    def __init__(self, state: RunState, workdir: WorkDir, subgraphs: list[Any], hardware_id: str,
                 infra_check: Callable[[], str | None] | None = None, source: str = "tune") -> None:
        super().__init__()
        self.state, self.workdir, self.subgraphs, self.hardware_id = state, workdir, subgraphs, hardware_id
        self.source = source  # where the records come from, on their side lines ("tune:<cost model>")
        self.infra_check = infra_check
        self.infra_batches = 0

    def apply(self, task_scheduler: Any, task_id: int, candidates: list, builder_results: list,
              runner_results: list) -> None:
        self.state.batch_joined()
        outcomes = []
        for built, ran in zip(builder_results, runner_results, strict=True):
            if built.error_msg is not None:
                msg = str(built.error_msg)
                outcomes.append((classify_failure(msg, "build"), [], msg))
            elif ran.error_msg is not None:
                msg = str(ran.error_msg)
                outcomes.append((classify_failure(msg, "run"), [], msg))
            else:
                outcomes.append(("ok", [float(s) for s in ran.run_secs], None))
        failed_runs = [i for i, (status, _, _) in enumerate(outcomes) if status in ("run_error", "timeout")]
        reason = self.infra_check() if failed_runs and self.infra_check is not None else None
        infra = {i for i, (status, _, msg) in enumerate(outcomes) if status == "infra_error"}
        if reason:
            infra |= set(failed_runs)
        why = reason or next((outcomes[i][2] for i in sorted(infra)), None)
        self.state.skip(infra, why.removeprefix(INFRA_PREFIX).splitlines()[0] if why else None)
        self.infra_batches = self.infra_batches + 1 if infra else 0
        if self.infra_batches >= INFRA_BATCHES:
            self.state.fatal = (f"{INFRA_PREFIX}{self.state.infra_reason}; {INFRA_BATCHES} batches in a row could "
                                "not be measured, and none of their candidates was counted: start the servers "
                                "again and resume the run")
        trial = self.state.tasks[task_id].trials
        session, elapsed = self.state.session, self.state.elapsed()
        entries = []
        for i, (cand, (status, secs, msg)) in enumerate(zip(candidates, outcomes, strict=True)):
            if i in infra:
                continue
            self.workdir.add_measurement(self.subgraphs[task_id], cand.sch.trace, status=status, error=msg,
                                         run_secs=secs, hardware=self.hardware_id, trial=trial, source=self.source,
                                         session=session if session >= 0 else None, elapsed=elapsed)
            trial += 1
            entries.append((status, median_latency(secs), msg))
        self.state.record(task_id, entries)


@derived_object
class SkipInfrastructure(PyMeasureCallback):
    """One of MetaSchedule's callbacks (adding to the database, updating the cost model), minus the candidates
    the :class:`Recorder` found failed by the infrastructure."""

    def __init__(self, state: RunState, inner: Any) -> None:
        super().__init__()
        self.state, self.inner = state, inner

    def apply(self, task_scheduler: Any, task_id: int, candidates: list, builder_results: list,
              runner_results: list) -> None:
        keep = [i for i in range(len(candidates)) if i not in self.state.skipped]
        if keep:
            self.inner.apply(task_scheduler, task_id, [candidates[i] for i in keep],
                             [builder_results[i] for i in keep], [runner_results[i] for i in keep])


@derived_object
class Stopper(PyMeasureCallback):
    """Last callback of a batch (its records are saved by then): ends the search when asked to."""

    def __init__(self, event: threading.Event, state: RunState) -> None:
        super().__init__()
        self.event, self.state = event, state

    def apply(self, task_scheduler: Any, task_id: int, *args: Any) -> None:
        if self.state.fatal:
            raise InfrastructureFailure(self.state.fatal)
        if self.event.is_set():
            raise StopTuning(STOP_MESSAGE)


@derived_object
class TimedBuilder(PyBuilder):
    """Builds with the inner builder and adds the wall time to the run's build time."""

    def __init__(self, state: RunState, inner: Any) -> None:
        super().__init__()
        self.state, self.inner = state, inner

    def build(self, build_inputs: list) -> list:
        start = time.time()
        self.state.build_started()
        try:
            return self.inner.build(build_inputs)
        finally:
            self.state.add_build_time(time.time() - start)


@derived_object
class TimedRunner(PyRunner):
    """Hands candidates to the inner runner and notes when, so the run's time can be attributed.

    With ``infra_check`` (RPC runs), a batch is not sent while the check finds no server: its candidates come
    back at once as infrastructure failures instead of waiting out the runner's timeout one by one.
    """

    def __init__(self, state: RunState, inner: Any, infra_check: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.state, self.inner, self.infra_check = state, inner, infra_check

    def run(self, runner_inputs: list) -> list:
        self.state.batch_sent()
        reason = self.infra_check() if self.infra_check is not None else None
        if reason:
            result = RunnerResult(None, INFRA_PREFIX + reason)
            return [RunnerFuture(lambda: True, lambda r=result: r) for _ in runner_inputs]
        return self.inner.run(runner_inputs)

"""Build and time candidates for real on CPU (and CUDA when present), failures kept as explicit records.

:class:`MeasureConfig` holds the measurement settings that every measuring path shares (``collect``, the
measure panel, tuning runs); :func:`make_builder` and :func:`make_runner` turn it into MetaSchedule's
builder and runner, and :class:`Measurer` uses both to measure candidates one batch at a time.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from workbench._tvm import ensure_intrinsics, import_tvm, worker_initializer
from workbench.hardware import hardware_descriptor, make_target


@dataclass(frozen=True)
class MeasureConfig:
    """How candidates are built and timed."""

    build_workers: int | None = None  # build processes (None: one per logical core)
    build_timeout: float = 60.0  # seconds one build may take before its worker is killed
    run_timeout: float = 30.0  # seconds one timed run may take
    repeat: int = 3  # timed repeats per candidate (the latency is their median)
    min_repeat_ms: int = 20  # a repeat runs the program as many times as this many milliseconds need
    number: int = 1  # runs per repeat before min_repeat_ms scales it up
    cpu_cache_flush: bool = False  # flush the CPU caches before each repeat

    def evaluator_config(self) -> Any:
        """MetaSchedule's ``EvaluatorConfig`` for these settings."""
        import_tvm()
        from tvm.s_tir.meta_schedule.runner import EvaluatorConfig

        return EvaluatorConfig(number=self.number, repeat=self.repeat, min_repeat_ms=self.min_repeat_ms,
                               enable_cpu_cache_flush=self.cpu_cache_flush)


def measure_config(config: MeasureConfig | None = None, **settings: Any) -> MeasureConfig:
    """``config``, or one made from keyword settings (names of :class:`MeasureConfig` fields)."""
    known = {f.name for f in fields(MeasureConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"unknown measurement settings {unknown}; known: {sorted(known)}")
    if config is not None and settings:
        raise TypeError("give a MeasureConfig or keyword settings, not both")
    return config or MeasureConfig(**settings)


def median_latency(run_secs: Sequence[float]) -> float:
    """The latency of a measured candidate: the median of its timed repeats (NaN for none)."""
    return statistics.median(run_secs) if len(run_secs) else float("nan")


INFRA_PREFIX = "infrastructure failure: "  # a failure of the measuring machinery, not of the candidate


def classify_failure(message: str, stage: str) -> str:
    """The status of a failed build (``stage="build"``) or run (``"run"``): ``infra_error`` when the measuring
    machinery failed (the message starts with ``INFRA_PREFIX``), ``timeout``, or ``<stage>_error``."""
    if message.startswith(INFRA_PREFIX):
        return "infra_error"
    return "timeout" if "Timeout" in message else f"{stage}_error"


def is_build_failure(status: Any, error: Any) -> bool:
    """True when a failed record never reached the runner (its status, or a builder's error message)."""
    if status == "build_error":
        return True
    return isinstance(error, str) and "Builder" in error.split(":", 1)[0]


def make_builder(target: Any, config: MeasureConfig) -> Any:
    """A persistent-pool builder whose workers register only ``target``'s tensor intrinsics."""
    import_tvm()
    from tvm.s_tir.meta_schedule.utils import cpu_count

    from workbench.builder import PooledBuilder

    return PooledBuilder(max_workers=config.build_workers or cpu_count(logical=True),
                         timeout_sec=config.build_timeout,
                         initializer=partial(worker_initializer, make_target(target).kind.name))


def make_runner(target: Any, config: MeasureConfig, *, rpc: str | None = None) -> Any:
    """MetaSchedule's ``LocalRunner`` (or ``RPCRunner`` on the servers of the tracker at ``rpc``)."""
    import_tvm()
    from tvm.s_tir.meta_schedule.runner import LocalRunner

    if rpc is not None:
        from workbench.rpc import rpc_runner

        return rpc_runner(rpc, evaluator_config=config.evaluator_config(), timeout_sec=config.run_timeout)
    return LocalRunner(timeout_sec=config.run_timeout, evaluator_config=config.evaluator_config(),
                       initializer=partial(worker_initializer, make_target(target).kind.name))


def close_runner(runner: Any) -> None:
    """Stop a runner's worker processes (RPC runners have none here)."""
    pool = getattr(runner, "pool", None)
    if pool is not None:
        pool.shutdown()


@dataclass
class MeasureResult:
    """The outcome of building and timing one candidate."""

    status: str  # "ok", "build_error", "run_error" or "timeout"
    run_secs: list[float] = field(default_factory=list)  # one time per repeat (seconds); empty on failure
    error: str | None = None  # the builder's or runner's message on failure
    build_secs: float = 0.0  # wall time of the batch build, shared out per candidate
    hardware: str = ""  # id of the hardware descriptor of the machine that measured it

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def latency(self) -> float:
        """Median over repeats (seconds); inf on failure."""
        return median_latency(self.run_secs) if self.run_secs else float("inf")

    @property
    def spread(self) -> float:
        """Relative spread over repeats: (max - min) / median; 0 for one repeat."""
        if len(self.run_secs) < 2:
            return 0.0
        return (max(self.run_secs) - min(self.run_secs)) / self.latency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Measurer:
    """Builds candidates in parallel worker processes and times them one at a time.

    Settings come as a :class:`MeasureConfig` or as its fields (``Measurer("cpu", repeat=5)``); ``rpc``
    times on the servers of a TVM tracker (``rpc://host:port/key``), whose ``hardware`` to record. Workers start
    through :func:`workbench._tvm.worker_initializer`, which registers only the target's tensor intrinsics,
    so first builds no longer hit the builder's timeout. Use it as a context manager (or call :meth:`close`)
    to stop its build and run worker processes.
    """

    def __init__(self, target: Any = "cpu", config: MeasureConfig | None = None, *, rpc: str | None = None,
                 hardware: dict[str, Any] | None = None, **settings: Any) -> None:
        import_tvm()
        self.config = measure_config(config, **settings)
        self.target = make_target(target)
        ensure_intrinsics(self.target)
        self.device_type = "cuda" if self.target.kind.name == "cuda" else "cpu"
        self.builder = make_builder(self.target, self.config)
        self.runner = make_runner(self.target, self.config, rpc=rpc)
        self.hardware = hardware or hardware_descriptor()  # the machine that times (an RPC run's: the remote's)
        self.timings = {"build": 0.0, "run": 0.0}  # cumulative wall seconds, for throughput reports

    def measure_mods(self, mods: Sequence[Any], *,
                     on_result: Callable[[int, MeasureResult], None] | None = None) -> list[MeasureResult]:
        """Build and time scheduled IRModules (each with a PrimFunc "main").

        ``on_result(i, result)`` is called as soon as module ``i`` has its result (build failures right after
        the batch build, timings one by one), so a caller can save each before the next one runs.
        """
        if not mods:
            return []
        results: list[MeasureResult | None] = [None] * len(mods)

        def done(i: int, result: MeasureResult) -> None:
            results[i] = result
            if on_result is not None:
                on_result(i, result)

        to_run, failed, per_build = self._build(mods)
        for i, result in failed.items():
            done(i, result)
        start = time.perf_counter()
        try:
            for i, path in to_run:
                done(i, self._run_one(mods[i], path, per_build))
        finally:
            self._clean(to_run, start)
        return [r for r in results if r is not None]

    def time_rounds(self, mods: Sequence[Any], *, rounds: int, seed: int = 0,
                    on_round: Callable[[int], None] | None = None) -> list[list[MeasureResult]]:
        """Build each scheduled IRModule once, then time every artifact ``rounds`` times, interleaved, in a new
        random order each round (``seed``): ``out[i][r]`` is module ``i``'s result in round ``r``.

        Cheaper than building again every round (a build costs seconds, a timing milliseconds), but a schedule
        built once keeps that build's own speed in every round: builds of one schedule differ (0.8% and 2.9%
        median in two runs of ``benchmarks/remeasure_spread.py``), which rounds of one build cannot show. A
        module that fails to build has its failure in every round. ``on_round(r)`` follows each round.
        """
        import random

        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, not {rounds}")
        if not mods:
            return []
        to_run, failed, per_build = self._build(mods)
        out: list[list[MeasureResult]] = [[failed[i]] * rounds if i in failed else [] for i in range(len(mods))]
        rng = random.Random(seed)
        start = time.perf_counter()
        try:
            for r in range(rounds):
                order = list(to_run)
                rng.shuffle(order)
                for i, path in order:
                    out[i].append(self._run_one(mods[i], path, per_build))
                if on_round is not None:
                    on_round(r)
        finally:
            self._clean(to_run, start)
        return out

    def _build(self, mods: Sequence[Any]) -> tuple[list[tuple[int, str]], dict[int, MeasureResult], float]:
        """Build the modules: (index and artifact of each built one, the failure of each other, seconds each)."""
        from tvm.s_tir.meta_schedule.builder import BuilderInput

        start = time.perf_counter()
        built = self.builder.build([BuilderInput(mod, self.target) for mod in mods])
        build_secs = time.perf_counter() - start
        self.timings["build"] += build_secs
        per_build = build_secs / len(mods)
        to_run: list[tuple[int, str]] = []
        failed: dict[int, MeasureResult] = {}
        for i, res in enumerate(built):
            if res.error_msg is not None:
                msg = str(res.error_msg)
                failed[i] = MeasureResult(classify_failure(msg, "build"), error=msg, build_secs=per_build,
                                          hardware=self.hardware["id"])
            else:
                to_run.append((i, str(res.artifact_path)))
        return to_run, failed, per_build

    def _run_one(self, mod: Any, path: str, per_build: float) -> MeasureResult:
        """Time one built artifact of ``mod``."""
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.runner import RunnerInput

        # The entry function's arguments as the build takes them: a schedule that repacks a weight
        # (RewriteLayout) is built without the repacking, so it takes the packed weight.
        args = ArgInfo.from_entry_func(mod, remove_preproc=True)
        (future,) = self.runner.run([RunnerInput(path, self.device_type, args)])
        out = future.result()
        hw = self.hardware["id"]
        if out.error_msg is not None:
            msg = str(out.error_msg)
            return MeasureResult(classify_failure(msg, "run"), error=msg, build_secs=per_build, hardware=hw)
        return MeasureResult("ok", run_secs=[float(s) for s in out.run_secs], build_secs=per_build, hardware=hw)

    def _clean(self, built: list[tuple[int, str]], started: float) -> None:
        """Remove the artifacts and count the run time since ``started``."""
        for _, path in built:
            shutil.rmtree(Path(path).parent, ignore_errors=True)
        self.timings["run"] += time.perf_counter() - started

    def measure(self, candidates: Sequence[Any], *,
                on_result: Callable[[int, MeasureResult], None] | None = None) -> list[MeasureResult]:
        """Build and time :class:`workbench.actions.Candidate` objects (``on_result`` as in measure_mods)."""
        return self.measure_mods([c.mod for c in candidates], on_result=on_result)

    def close(self) -> None:
        """Stop the build and run worker processes."""
        self.builder.close()
        close_runner(self.runner)

    def __enter__(self) -> Measurer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

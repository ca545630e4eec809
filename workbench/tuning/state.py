"""A tuning run's settings, its run file, and its live state (what the search callbacks write, readers show).

The search thread's callbacks write to :class:`RunState` and the notebook thread reads it; every access goes
through its lock. Resuming counts what the work dir already holds (:meth:`RunState.load`): those records
count toward the budget and their trace keys are never measured again.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.logfiles import LOCK_FILE, write_atomically
from workbench.logs import RECORD_FILE
from workbench.measure import is_build_failure
from workbench.tuning.results import best_of

RUN_FILE = "workbench_run.json"


class TuningError(ValueError):
    """A tuning run that cannot start: bad subgraph, target, budget or work dir."""


@dataclass
class RunConfig:
    """What a run tunes and how; stored in the work dir so a resume continues the same run."""

    tasks: list[str]  # subgraph names (one, or all of a model's)
    model: str | None  # catalog model name for whole-model runs
    target: str  # "cpu", "cuda", or a target JSON string
    trials: int  # trial budget: per subgraph for one subgraph, in total for a model
    cost_model: str  # "world", "world_verify", "xgb", "random", or a class name for instances
    seed: int
    trials_per_iter: int
    runner: str  # "local" or "rpc://host:port/key"


def read_run_file(work_dir: str | Path) -> dict[str, Any] | None:
    """The run file of ``work_dir`` (settings and sessions); None when it is missing, empty or unreadable."""
    try:
        data = json.loads((Path(work_dir) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("config"), dict)
            and isinstance(data.get("sessions"), list)):
        return None
    return data


class RunFile:
    """``workbench_run.json``: the run's settings and one entry per session (start, end, status, timings)."""

    def __init__(self, work_dir: Path, config: RunConfig) -> None:
        self.path = Path(work_dir) / RUN_FILE
        self.config = config
        self.data: dict[str, Any] = {"config": asdict(config), "sessions": []}

    def saved(self) -> dict[str, Any] | None:
        """The file's content; None when it is missing, empty or unreadable (it is then rebuilt on start)."""
        return read_run_file(self.path.parent)

    def check(self) -> None:
        """Refuse a work dir that holds another run, or files that are not a tuning work dir."""
        work_dir = self.path.parent
        data = self.saved()
        if data is not None:
            saved = data["config"]
            mine = asdict(self.config)
            diff = {k: (saved.get(k), v) for k, v in mine.items() if k != "trials" and saved.get(k) != v}
            if diff:
                detail = "; ".join(f"{k}: was {a!r}, now {b!r}" for k, (a, b) in diff.items())
                raise TuningError(f"{work_dir} holds another run ({detail}); resume it with the same "
                                  "settings or use another work dir")
        elif (work_dir.is_dir() and not self.path.exists() and not (work_dir / RECORD_FILE).is_file()
              and any(p.name != LOCK_FILE for p in work_dir.iterdir())):
            raise TuningError(f"{work_dir} exists and is not a tuning work dir; use an empty or new one")

    def begin_session(self, measured_before: int) -> int:
        """Append a session entry (and write the file); returns the session's index.

        A missing, empty or unreadable run file is rebuilt (the unreadable one kept as ``.bak``): the records
        are the truth, the run file only their history.
        """
        data = self.saved()
        if data is None and self.path.is_file():
            self.path.replace(self.path.with_name(RUN_FILE + ".bak"))
            warnings.warn(f"{self.path}: unreadable run file rebuilt (the old one is {RUN_FILE}.bak)", stacklevel=3)
        self.data = data or {"config": asdict(self.config), "sessions": []}
        self.data["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                      "measured_before": measured_before})
        self.write()
        return len(self.data["sessions"]) - 1

    def end_session(self, **fields: Any) -> None:
        """Complete the last session entry (status, measured_after, error, timings, cost-model stats)."""
        self.data["sessions"][-1].update(ended=time.strftime("%Y-%m-%d %H:%M:%S"), **fields)
        self.write()

    def write(self) -> None:
        self.data["config"] = asdict(self.config)
        write_atomically(self.path, json.dumps(self.data, indent=1).encode())


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

    def count(self, status: str, latency: float, error: Any) -> int:
        """Count one measured candidate; returns its trial number."""
        trial = self.trials
        self.trials += 1
        if status == "ok":
            self.ok += 1
            if latency < self.best_latency:
                self.best_latency, self.best_trial = latency, trial
        elif is_build_failure(status, error):
            self.build_errors += 1
        else:
            self.run_errors += 1
        return trial

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
    confirm: float = 0.0  # re-measuring the best records at the end (see workbench.tuning.results)
    total: float = 0.0

    @property
    def search(self) -> float:
        """Everything else: candidate generation, cost-model predict and update, bookkeeping."""
        return max(0.0, self.total - self.build - self.run - self.confirm)

    def as_dict(self) -> dict[str, float]:
        return {"search": self.search, "build": self.build, "run": self.run, "confirm": self.confirm,
                "total": self.total}


HISTORY_COLUMNS = ["task", "trial", "latency_ms", "status", "best_ms", "session", "seconds"]


class RunState:
    """Tasks, history, seen trace keys and timings of a run, shared by the search thread and its readers."""

    def __init__(self, subgraphs: list[Any]) -> None:
        self.lock = threading.Lock()
        self.tasks = [TaskState(s.name, s.weight, s.flops) for s in subgraphs]
        self.by_name = {t.name: t for t in self.tasks}
        self.history: list[dict[str, Any]] = []
        self.seen: dict[str, set[str]] = {t.name: set() for t in self.tasks}  # trace keys measured so far
        self.timings = Timings()
        self.session = -1
        self.budget: dict[str, int] = {"left": 0}  # what the search may still hand out (shared with it)
        self.skipped: set[int] = set()  # candidates of the batch being joined that the infrastructure failed
        self.infra_failures = 0  # candidates not measured because of the infrastructure (this session)
        self.infra_reason: str | None = None
        self.fatal: str | None = None  # set when the run must end (the infrastructure is gone)
        self._started: float | None = None  # wall clock of the current session's start
        self._sent: list[float] = []  # when each batch not yet joined went to the runner
        self._building: float | None = None  # wall clock of the start of the build under way

    def load(self, df: Any) -> None:
        """Count the records of earlier sessions (a ``load_logs`` DataFrame of the work dir); a task whose
        records were confirmed shows its confirmed best."""
        with self.lock:
            for row in df.itertuples(index=False):
                task = self.by_name.get(row.subgraph)
                if task is None:
                    continue
                self.seen[task.name].add(row.trace_key)
                trial = task.count(row.status, row.latency, row.error)
                session, elapsed = getattr(row, "session", None), getattr(row, "elapsed", None)
                self.history.append({"task": task.name, "trial": trial, "latency_ms": row.latency * 1e3,
                                     "status": row.status, "best_ms": task.best_latency * 1e3,
                                     "session": int(session) if session == session and session is not None else -1,
                                     "seconds": float(elapsed) if elapsed is not None else math.nan})
            for name, group in (df[df["status"] == "ok"].groupby("subgraph") if len(df) else []):
                if name in self.by_name:
                    self.by_name[name].best_latency = best_of(group)[1]  # confirmed where it covers the best

    @property
    def measured(self) -> int:
        return sum(t.trials for t in self.tasks)

    # ---- written by the search thread ---------------------------------------------------------------
    def begin_session(self, index: int, budget: int) -> None:
        with self.lock:
            self.session, self.timings, self._started, self._sent = index, Timings(), time.time(), []
            self._building = None
            self.budget["left"] = budget
            self.skipped, self.infra_failures, self.infra_reason, self.fatal = set(), 0, None, None

    def skip(self, indices: set[int], reason: str | None) -> None:
        """Candidates of the batch being joined that the infrastructure failed: not counted, budget refunded."""
        with self.lock:
            self.skipped = set(indices)
            if indices:
                self.infra_failures += len(indices)
                self.infra_reason = reason
                self.budget["left"] += len(indices)

    def end_session(self) -> None:
        with self.lock:
            if self._started is not None:
                self.timings.total = time.time() - self._started
            self._started = None

    def build_started(self) -> None:
        with self.lock:
            self._building = time.time()

    def add_build_time(self, seconds: float) -> None:
        with self.lock:
            self.timings.build += seconds
            self._building = None

    def batch_sent(self) -> None:
        with self.lock:
            self._sent.append(time.time())

    def batch_joined(self) -> None:
        """A batch's results arrived: the time since it was sent was spent running it."""
        with self.lock:
            if self._sent:  # batches are joined in the order they were sent
                self.timings.run += time.time() - self._sent.pop(0)

    def record(self, task_id: int, entries: list[tuple[str, float, str | None]]) -> None:
        """Count a joined batch: (status, latency in seconds, error) per candidate, in order."""
        with self.lock:
            task = self.tasks[task_id]
            now = time.time()
            for status, latency, error in entries:
                trial = task.count(status, latency, error)
                self.history.append({"task": task.name, "trial": trial, "latency_ms": latency * 1e3,
                                     "status": status, "best_ms": task.best_latency * 1e3,
                                     "session": self.session,
                                     "seconds": now - self._started if self._started else math.nan})

    # ---- read from any thread -----------------------------------------------------------------------
    def elapsed(self) -> float | None:
        """Seconds since the current session started (None outside a session)."""
        with self.lock:
            return time.time() - self._started if self._started is not None else None

    def progress(self) -> Any:
        import pandas as pd

        with self.lock:
            return pd.DataFrame([t.row() for t in self.tasks]).set_index("task")

    def history_frame(self) -> Any:
        import pandas as pd

        with self.lock:
            return pd.DataFrame(self.history, columns=HISTORY_COLUMNS)

    def timings_now(self) -> dict[str, float]:
        """The current session's timings; while it runs, ``total`` is the wall time so far, and a build or run
        under way counts as build or run already (so no part ever goes backwards)."""
        with self.lock:
            t = Timings(self.timings.build, self.timings.run, self.timings.confirm, self.timings.total)
            if self._started is not None:
                now = time.time()
                t.total = now - self._started
                t.build += now - self._building if self._building is not None else 0.0
                t.run += sum(now - sent for sent in self._sent)
            return t.as_dict()

    def confirmed(self, best: dict[str, float], seconds: float) -> None:
        """The confirmed best latency of each task (seconds) replaces the lowest logged one."""
        with self.lock:
            for name, latency in best.items():
                self.by_name[name].best_latency = latency
            self.timings.confirm += seconds
            if self._started is None:  # the search's session already ended: its total grows by the confirmation
                self.timings.total += seconds

    def best_latencies(self) -> dict[str, float]:
        with self.lock:
            return {t.name: t.best_latency for t in self.tasks}

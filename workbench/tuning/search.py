"""How a run searches: MetaSchedule's search strategy without re-measuring, and a task scheduler that saves
each batch as soon as it is measured.

Importing this module loads TVM (both are MetaSchedule ``Py*`` objects, which ``derived_object`` needs TVM
for).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workbench._tvm import import_tvm
from workbench.measure import median_latency
from workbench.traces import compute_locations, trace_key, trace_to_json
from workbench.tuning.state import RunState

import_tvm()

from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy, SearchStrategy  # noqa: E402
from tvm.s_tir.meta_schedule.task_scheduler import PyTaskScheduler  # noqa: E402
from tvm_ffi import get_global_func, register_global_func  # noqa: E402

_QUIET = threading.local()  # set on a thread inside quiet_statistics()


def _install_quiet_statistics() -> None:
    """Wrap TVM's "are we in a notebook?" question so that it says no on a thread that asked for quiet."""
    original = get_global_func("s_tir.meta_schedule.using_ipython", allow_missing=True)

    def using_ipython() -> bool:
        if getattr(_QUIET, "on", False):
            return False
        return bool(original()) if original is not None else False

    register_global_func("s_tir.meta_schedule.using_ipython", using_ipython, override=True)


_install_quiet_statistics()


@contextmanager
def quiet_statistics() -> Iterator[None]:
    """TVM's task scheduler shows its per-task table after every batch it joins and every task it ends: in a
    notebook as a new HTML table plus "Total trials" lines in the cell (three or more per run, under the run's
    own progress bar). Inside this block, on this thread, TVM believes it is not in a notebook and sends the
    table to its logger only, as it does in a script; the run's progress bar and the dashboard say the same."""
    before = getattr(_QUIET, "on", False)
    _QUIET.on = True
    try:
        yield
    finally:
        _QUIET.on = before

STRATEGIES = ("evolutionary", "plan", "beam", "transfer", "warm", "diverse", "hedge", "local")
# The strategies that search in the world model's space (cost model: the world model).
PLANNED = ("plan", "beam", "transfer")
BEAM_FAMILIES = 8  # families (sketch, categorical values, compute locations) the "beam" strategy beams each round
TRANSFER_RECORDS = 8  # the "transfer" strategy's warm starts: records per subgraph the world model knows
DIVERSE_WIDEN = 4  # "diverse": a session's first batch is picked from a search this many times as wide
DIVERSE_CAP = 0.5  # "diverse": the most of a batch's model picks that may share one compute-location plan
HEDGE_WIDEN = 4  # "hedge": every batch is picked from a search this many times as wide, plus the reserve
HEDGE_RESERVE = 256  # "hedge": candidates proposed but not measured yet, kept (best-scored) for later batches
HEDGE_PLANS = 0.5  # "hedge", nothing measured yet: the share of the model picks that are one per plan
HEDGE_NEW = 2  # "hedge", later batches: model picks for plans not measured yet (their best-scored candidate)
HEDGE_FOCUS = 0.5  # "hedge", later batches: the share of the other model picks from the best measured plan


def hedge_picks(plans: list, scores: list[float], n: int, *, plan_best: dict, near: list[float] | None = None
                ) -> list[int]:
    """Indices of ``n`` candidates to measure, out of a pool whose compute-location plans are ``plans`` and
    model scores ``scores`` (higher: predicted faster); ``plan_best`` maps each plan measured so far to the
    fastest latency measured with it; ``near`` (the ``"local"`` strategy), each candidate's distance to the fastest
    program measured so far, orders the best plan's picks nearest first (then by score) instead of by score. A
    bandit over plans, then a search inside the best one:

    - nothing measured yet: the best-scored candidate of each plan, plans in order of their best score, for
      ``HEDGE_PLANS`` of the batch (the model's favourite plan is not the only one measured first);
    - later: ``HEDGE_NEW`` picks for plans not measured yet, then ``HEDGE_FOCUS`` of the rest from the plan that
      holds the fastest program measured so far (its tiles tuned with the trials left);

    and the rest by score, whatever their plan."""
    order = sorted(range(len(plans)), key=lambda i: (-scores[i], i))
    firsts: dict = {}  # plan -> its best-scored candidate, in score order
    for i in order:
        firsts.setdefault(plans[i], i)
    if not plan_best:
        picked = list(firsts.values())[: max(1, int(n * HEDGE_PLANS))]
    else:
        picked = [i for p, i in firsts.items() if p not in plan_best][:HEDGE_NEW]
        best = min(plan_best, key=plan_best.get)
        focus = int((n - len(picked)) * HEDGE_FOCUS)
        inside = [i for i in order if plans[i] == best and i not in picked]
        if near is not None:
            inside.sort(key=lambda i: near[i])  # stable: by score among equally near
        picked += inside[:focus]
    chosen = set(picked)
    picked += [i for i in order if i not in chosen][: max(0, n - len(picked))]
    return picked[:n]


def _fastest_by_plan(best: dict[tuple, float], trace: Any, run_secs: Any) -> float:
    """Fold one measured program (its trace and timed repeats) into ``best``: plan -> fastest latency. Returns
    its latency (NaN: not measured)."""
    secs = [float(x) for x in run_secs or []]
    if not secs:
        return math.nan
    plan, latency = compute_locations(trace), median_latency(secs)
    best[plan] = min(best.get(plan, math.inf), latency)
    return latency


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def decision_signature(trace: Any) -> tuple[tuple, tuple]:
    """A trace's sampling instructions (their kinds, in order) and its decision for each: what
    :func:`decision_distance` compares. ``trace``: a TVM ``Trace`` or its JSON ``[insts, decisions]``."""
    insts, decisions = trace if isinstance(trace, list | tuple) else trace_to_json(trace)
    chosen = {int(i): d for i, d in decisions}
    kept = sorted(chosen)
    return tuple(insts[i][0] for i in kept), tuple(_frozen(chosen[i]) for i in kept)


def decision_distance(a: tuple[tuple, tuple], b: tuple[tuple, tuple]) -> float:
    """How many decisions differ between two programs of one sketch (infinite across sketches)."""
    if a[0] != b[0]:
        return math.inf
    return float(sum(x != y for x, y in zip(a[1], b[1], strict=True)))


def diverse_picks(candidates: list, want: int, *, randoms: int, n_random: int, key: Any,
                  cap: float = DIVERSE_CAP) -> list:
    """``want`` of ``candidates``, a wide batch of MetaSchedule's evolutionary search: its model picks in
    descending score order, then ``randoms`` random picks at the end. ``n_random`` of the batch come from the
    random tail (the same exploration share as a plain batch); the rest are the best-scored model picks with at
    most ``cap`` of them sharing one ``key``, the cap lifted only when no other key is left. A model sure of
    one compute-location plan still measures the runner-up plan in its first batch, so the online update
    sees both before it commits."""
    randoms = min(randoms, len(candidates))
    bests, tail = candidates[: len(candidates) - randoms], candidates[len(candidates) - randoms:]
    n_random = min(n_random, len(tail))
    n_best = min(want - n_random, len(bests))
    limit = max(1, math.ceil(n_best * cap))
    picked, skipped, counts = [], [], {}
    for cand in bests:
        if len(picked) == n_best:
            break
        k = key(cand)
        if counts.get(k, 0) < limit:
            counts[k] = counts.get(k, 0) + 1
            picked.append(cand)
        else:
            skipped.append(cand)
    picked += skipped[: n_best - len(picked)]
    return picked + tail[: want - len(picked)]


@derived_object
class SeenFilter(PySearchStrategy):
    """MetaSchedule's search, minus candidates the work dir already holds, within the run's budget.

    The evolutionary search remembers what it measured in this session only; on a resumed run it can
    propose a record of an earlier session again (the database's best seed its population). Those are
    dropped here before they reach the builder, so a resumed run never measures anything twice. The
    budget left is shared by all tasks of a run, so a model run stops at its budget exactly (TVM's own
    global limit can overshoot by a batch). A search that returns a quarter or less of the candidates asked
    for has run out of programs: the task ends there instead of searching its tiny space again (20-30 s each
    time).

    With ``widen`` > 1 (the ``"diverse"`` strategy), the first batch of each session comes from a clone of the
    search asked for ``widen`` times the batch, and :func:`diverse_picks` measures a batch of it that hedges
    across compute-location plans. Only the first: TVM's search never proposes again what it returned, measured
    or not, so every batch widened would use up a small design space (norm, pooling) four times as fast and
    drop the runner-up candidates of the plan the run's own model comes to prefer.

    With ``hedge`` (the ``"hedge"`` strategy) every batch comes from the search asked for ``widen`` times the
    batch; what it proposes and is not measured stays in a reserve (the ``HEDGE_RESERVE`` best-scored), so
    nothing proposed is lost, and each batch is picked from the new candidates and the reserve, scored again
    together by the run's cost model, by :func:`hedge_picks` with the fastest latency measured per
    compute-location plan (this session's batches and the records of earlier ones).

    With ``warm`` (a :class:`~workbench.tuning.plan.PlanSearch` with ``transfer``, the ``"warm"`` strategy) a fresh
    run's first batch measures its best-scored warm starts in ``warm_share`` of the places.
    """

    MAX_EMPTY = 2  # batches in a row that held only known candidates before the task is ended, beyond those
    # a resumed session needs: its search proposes the best records of earlier sessions first (the database
    # seeds it, the cost model ranks them high), each batch of them is dropped and never proposed again, so
    # up to (records of earlier sessions) / per_iter batches in a row can be all known before new programs come.

    def __init__(self, inner: Any, seen: set[str], budget: dict[str, int], *, widen: int = 1,
                 explore: float = 0.0, hedge: bool = False, local: bool = False, warm: Any = None,
                 warm_share: float = 0.25) -> None:
        super().__init__()
        self.inner, self.seen, self.budget = inner, seen, budget
        self.warm, self.warm_share, self.warm_pending = warm, warm_share, False  # the "warm" strategy
        self.widen, self.explore, self.hedge, self.local = widen, explore, hedge or local, local
        self.context: Any = None
        self.cost_model: Any = None
        self.reserve: dict[str, tuple] = {}  # hedge: trace key -> (candidate, plan), proposed, not measured
        self.plan_best: dict[tuple, float] = {}  # hedge: plan -> fastest latency measured with it
        self.incumbent: tuple[float, Any] = (math.inf, None)  # local: the fastest program's (latency, signature)
        self.first: Any = None  # widen > 1: the widened search of a session's first batch
        self.first_pending = False
        self.max_trials = 0
        self.per_iter = 0
        self.given = 0
        self.skipped = 0
        self.exhausted = False
        self.known = len(seen)

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.context = context
        self.inner._initialize_with_tune_context(context)
        if self.warm is not None:
            self.warm._initialize_with_tune_context(context)
        if self.widen > 1 and not self.hedge:
            self.first = self.inner.clone()
            self.first._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials: int, num_trials_per_iter: int, design_spaces: list, database: Any = None,
                   cost_model: Any = None) -> None:
        self.max_trials, self.per_iter, self.given, self.exhausted = max_trials, num_trials_per_iter, 0, False
        self.known = len(self.seen)  # measured by earlier sessions: what the search may propose again first
        if self.hedge:
            self.cost_model, self.reserve, self.incumbent = cost_model, {}, (math.inf, None)
            self.plan_best = self._measured_plans(database)
            self.inner.pre_tuning(max_trials * self.widen, num_trials_per_iter * self.widen, design_spaces,
                                  database, cost_model)
            return
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)
        if self.warm is not None:
            self.warm.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)
            self.warm_pending = not self.known  # a fresh run's first batch only
        if self.first is not None:
            self.first.pre_tuning(max_trials * self.widen, num_trials_per_iter * self.widen, design_spaces,
                                  database, cost_model)
            self.first_pending = True

    def post_tuning(self) -> None:
        self.inner.post_tuning()
        if self.first is not None:
            self.first.post_tuning()

    def generate_measure_candidates(self) -> Any:
        if self.hedge:
            return self._hedged()
        for _ in range(self.MAX_EMPTY + self.known // max(1, self.per_iter)):
            if self.given >= self.max_trials or self.budget["left"] <= 0 or self.exhausted:
                return None
            wide, self.first_pending = self.first_pending, False
            candidates = (self.first if wide else self.inner).generate_measure_candidates()
            if candidates is None:
                return None
            # Far fewer than asked for: the search found no more unmeasured programs (a tiny design space,
            # such as a fused element-wise task). Searching it again would only burn time.
            asked = min(self.per_iter, self.max_trials - self.given)
            self.exhausted = len(candidates) < asked and len(candidates) <= max(1, asked // 4)
            fresh, keys = [], set()
            for cand in candidates:
                key = trace_key(cand.sch.trace)
                if key in self.seen or key in keys:
                    self.skipped += 1
                else:
                    keys.add(key)
                    fresh.append((key, cand))
            want = min(self.max_trials - self.given, self.budget["left"])
            if wide:
                # TVM's batch ends with int(n * eps_greedy) random picks when it is full
                tail = int(len(candidates) * self.explore) if len(candidates) == asked * self.widen else 0
                fresh = diverse_picks(fresh, min(want, asked), randoms=min(tail, len(fresh)),
                                      n_random=int(asked * self.explore),
                                      key=lambda kc: compute_locations(kc[1].sch.trace))
            if self.warm_pending:
                self.warm_pending = False
                fresh = self._with_warm_starts(fresh, keys, full=len(candidates) == asked)
            fresh = fresh[:want]
            self.seen.update(k for k, _ in fresh)
            fresh = [c for _, c in fresh]
            if fresh:
                self.given += len(fresh)
                self.budget["left"] -= len(fresh)
                return fresh
        return None

    def _with_warm_starts(self, fresh: list[tuple[str, Any]], keys: set[str], full: bool) -> list[tuple[str, Any]]:
        """The ``"warm"`` strategy's first batch: the best-scored warm starts (:mod:`workbench.tuning.transfer`)
        in ``warm_share`` of its places, in place of the search's lowest picks above its random tail."""
        n = math.ceil(len(fresh) * self.warm_share)
        pairs, _ = self.warm.warm_candidates(n)
        extra = [(trace_key(c.sch.trace), c) for _, c in pairs]
        extra = [(k, c) for k, c in extra if k not in self.seen and k not in keys][:n]
        tail = int(len(fresh) * self.explore) if full else 0  # TVM's batch ends with its random picks
        head, randoms = fresh[:len(fresh) - tail], fresh[len(fresh) - tail:]
        warm_cm = self.warm.cost_model  # the world model: its round record says how many were measured
        warm_cm.round_info[str(self.context.task_name)] = {"warm": {"warm": len(extra),
                                                                    "warm_starts": len(self.warm.warm)}}
        return extra + head[:max(0, len(head) - len(extra))] + randoms

    def _hedged(self) -> Any:
        """A ``hedge`` batch: new candidates of the widened search and the reserve, picked by plan."""
        for _ in range(self.MAX_EMPTY + self.known // max(1, self.per_iter)):
            want = min(self.per_iter, self.max_trials - self.given, self.budget["left"])
            if want <= 0:
                return None
            candidates = None if self.exhausted else self.inner.generate_measure_candidates()
            asked = self.per_iter * self.widen
            if candidates is None or len(candidates) <= max(1, asked // 4):
                self.exhausted = True  # no more new programs: the reserve is what is left
            candidates = list(candidates or [])
            # TVM's batch ends with int(n * eps_greedy) random picks when it is full
            tail = int(len(candidates) * self.explore) if len(candidates) == asked else 0
            fresh: dict[str, tuple] = {}
            for cand in candidates:
                key = trace_key(cand.sch.trace)
                if key in self.seen or key in fresh or key in self.reserve:
                    self.skipped += 1
                else:
                    js = cand.sch.trace if isinstance(cand.sch.trace, list) else trace_to_json(cand.sch.trace)
                    fresh[key] = (cand, compute_locations(js), decision_signature(js) if self.local else None)
            randoms = list(fresh)[len(fresh) - min(tail, len(fresh)):]
            n_random = min(int(want * self.explore), len(randoms))
            pool = [k for k in [*fresh, *self.reserve] if k not in randoms[:n_random]]
            everything = {**self.reserve, **fresh}
            if not pool and not n_random:
                if self.exhausted:
                    return None
                continue
            scores = self._scores([everything[k][0] for k in pool])
            near = None
            if self.local and self.incumbent[1] is not None:
                near = [decision_distance(everything[k][2], self.incumbent[1]) for k in pool]
            picks = [pool[i] for i in hedge_picks([everything[k][1] for k in pool], scores, want - n_random,
                                                  plan_best=self.plan_best, near=near)] + randoms[:n_random]
            chosen = set(picks)
            left = sorted((i for i, k in enumerate(pool) if k not in chosen), key=lambda i: -scores[i])
            self.reserve = {pool[i]: everything[pool[i]] for i in left[:HEDGE_RESERVE]}
            self.seen.update(picks)
            self.given += len(picks)
            self.budget["left"] -= len(picks)
            return [everything[k][0] for k in picks]
        return None

    def _scores(self, candidates: list) -> list[float]:
        """The run's cost model's scores of ``candidates``, all in one call (a verifier's scale is per call);
        without a cost model, the order they came in."""
        if self.cost_model is None or self.context is None or not candidates:
            return [-float(i) for i in range(len(candidates))]
        return [float(x) for x in self.cost_model.predict(self.context, candidates)]

    def _measured_plans(self, database: Any) -> dict[tuple, float]:
        """The fastest latency measured per plan by earlier sessions (the database's valid records)."""
        best: dict[tuple, float] = {}
        mod = getattr(self.context, "mod", None)
        if database is None or mod is None or not database.has_workload(mod):
            return best
        for record in database.get_top_k(database.commit_workload(mod), 100000):
            self._observe(best, record.trace, record.run_secs)
        return best

    def _observe(self, best: dict[tuple, float], trace: Any, run_secs: Any) -> None:
        """A measured program: into the fastest latency per plan and (``local``) the incumbent."""
        latency = _fastest_by_plan(best, trace, run_secs)
        if self.local and latency < self.incumbent[0]:
            self.incumbent = (latency, decision_signature(trace))

    def notify_runner_results(self, measure_candidates: list, results: list) -> None:
        if self.hedge:
            for cand, res in zip(measure_candidates, results, strict=False):
                if res.error_msg is None:
                    self._observe(self.plan_best, cand.sch.trace, res.run_secs)
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self) -> Any:
        return SeenFilter(self.inner.clone(), set(self.seen), self.budget, widen=self.widen, explore=self.explore,
                          hedge=self.hedge, local=self.local, warm_share=self.warm_share,
                          warm=None if self.warm is None else self.warm.clone())


def search_strategy(name: str, *, seen: set[str], budget: dict[str, int], explore: float | None = None,
                    seed: int = 0, cost_model: Any = None) -> Any:
    """The search strategy ``name`` (one of ``STRATEGIES``), never proposing a trace key in ``seen``:
    ``"evolutionary"`` (MetaSchedule's; ``explore`` is its ``eps_greedy``, None its default), ``"diverse"``
    (the same search, but each session's first batch is picked by :func:`diverse_picks` from a search
    ``DIVERSE_WIDEN`` times as wide, hedging across compute-location plans), ``"hedge"`` (every batch picked by
    :func:`hedge_picks` from a search ``HEDGE_WIDEN`` times as wide and a reserve: a bandit over compute-location
    plans, then the best measured plan's tiles), ``"local"`` (the same, the best plan's picks nearest the fastest
    program measured so far), ``"plan"`` (:class:`workbench.tuning.plan.PlanSearch`,
    which scores with ``cost_model``, the run's world model) or ``"beam"`` (the same, each round's parents also
    from a beam over the tile decisions of ``BEAM_FAMILIES`` families pruned by the world model's value head along
    the rollout, :mod:`workbench.tuning.beam`) or ``"transfer"`` (the beam, its seeds also the fastest records of
    ``TRANSFER_RECORDS`` per subgraph the world model learned from that fit the task's sketches,
    :mod:`workbench.tuning.transfer`) or ``"warm"`` (the evolutionary search whose fresh run's first batch
    measures the best-scored of those warm starts in a quarter of its places; once measured they seed its
    population as the database's best)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown search strategy {name!r}: choose from {', '.join(STRATEGIES)}")
    if name in PLANNED:
        from workbench.tuning.plan import PlanSearch

        return SeenFilter(PlanSearch(explore=0.125 if explore is None else float(explore), seed=seed,
                                     cost_model=cost_model, seen=seen,
                                     beam=0 if name == "plan" else BEAM_FAMILIES,
                                     transfer=TRANSFER_RECORDS if name == "transfer" else 0),
                          seen, budget)
    kwargs = {"eps_greedy": float(explore)} if explore is not None else {}
    if name == "warm":
        from workbench.tuning.plan import PlanSearch

        eps = 0.05 if explore is None else float(explore)  # MetaSchedule's default eps_greedy
        return SeenFilter(SearchStrategy.create("evolutionary", eps_greedy=eps), seen, budget, explore=eps,
                          warm=PlanSearch(seed=seed, cost_model=cost_model, seen=seen, transfer=TRANSFER_RECORDS))
    if name in ("diverse", "hedge", "local"):
        eps = 0.05 if explore is None else float(explore)  # MetaSchedule's default eps_greedy
        return SeenFilter(SearchStrategy.create("evolutionary", eps_greedy=eps), seen, budget,
                          widen=DIVERSE_WIDEN if name == "diverse" else HEDGE_WIDEN, explore=eps,
                          hedge=name == "hedge", local=name == "local")
    return SeenFilter(SearchStrategy.create(name, **kwargs), seen, budget)


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

    def __init__(self, state: RunState, seed: int = 1) -> None:
        super().__init__()
        self.state = state
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
                best = self.state.tasks[i].best_latency
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
            tasks = self.state.tasks
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


def task_scheduler(state: RunState, *, seed: int) -> Any:
    """The scheduler of a run: round-robin for one task, :class:`EagerGradientScheduler` for several."""
    return EagerGradientScheduler(state, seed=seed) if len(state.tasks) > 1 else "round-robin"

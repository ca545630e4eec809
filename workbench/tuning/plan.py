"""Search that plans in the world model's space: candidates proposed and scored as decisions, few built.

MetaSchedule's evolutionary search builds, mutates and post-processes every candidate it scores (~19 ms each).
:class:`PlanSearch` works on decision vectors instead. For every design-space sketch it knows the sampling
instructions (tile sizes, categorical choices, compute locations); a candidate is the sketch plus one value per
instruction. Each round:

1. **Propose** decision vectors with exact arithmetic: perfect factorizations of each tiled loop's extent (a prime
   factor moved between tiles, or a fresh factorization), another categorical choice, another compute location
   among those the sketch was seen to allow; from the best measured, the best scored so far and random samples.
   Vectors come in *families* (one sketch, the same categorical values and compute locations): a mutation
   changes tile sizes within the family, a *move* changes a categorical value or compute location for the
   family's best ``family`` members at once, and random samples come as whole families. A family shares one
   compiled plan, so a batch is a few hundred arrays rather than a thousand families of a few vectors each.
   With ``beam`` > 0 (the ``"beam"`` strategy), ``beam`` families (those of the best measured and best scored
   vectors, a quarter random) also have their tile decisions chosen stage by stage, each stage's prefixes
   rolled out and pruned by the world model's value head (:mod:`workbench.tuning.beam`); what the beam keeps
   joins the parents. With ``transfer`` > 0 (the ``"transfer"`` strategy, a beam too), the fastest measured
   schedules of the world model's training subgraphs whose sketch matches join the seeds, their tile sizes
   fitted to this task's extents (:mod:`workbench.tuning.transfer`), and a fresh run's first batch measures the
   best-scored of them in ``warm_share`` of its places (a hedge: they are measured even where the world model
   scores its own proposals higher).
2. **Score** them all in latent space at once: each vector's actions are the sketch's with its decisions
   (:class:`workbench.worldmodel.decisions.CompiledPlan` makes its features arithmetic), rolled out and ranked
   by the world model and the run's online model, as the world-model cost model scores; the parents are the
   best scored so far, random samples, and the run's best measured programs (read again every round). A few generations of
   mutate-and-keep-the-best run on the scores alone; a share of every batch stays random (``explore``).
3. **Materialize** only the best few (``materialize`` x the batch): replay the sketch with those decisions and
   run the post-processors. A vector TVM refuses is remembered and never proposed again (a recorded rejection,
   never a crash). Under a draft-then-verify cost model (``"world_verify"``,
   :class:`~workbench.tuning.cost_model.VerifiedCostModel`) the world model's best ``k`` are built, the verifier
   re-scores the built programs, and its best fill the model's places in the batch; the others stay unmeasured
   and may be proposed again.

The cost model must be the world model (:class:`workbench.tuning.cost_model.WorldModelCostModel`) or a
draft-then-verify one whose draft it is: the strategy reads its evaluator and online blend. Measured results feed
it as in any run (``update``); resuming, records in MetaSchedule's database and RPC runners work as with the
evolutionary search (:class:`SeenFilter` wraps both).
"""

from __future__ import annotations

import math
import random
import time
import warnings
from typing import Any

import numpy as np

from workbench import sample_logs_dir
from workbench._tvm import import_tvm
from workbench.actions import actions_from_trace
from workbench.traces import trace_key
from workbench.tuning.beam import beam_family
from workbench.tuning.transfer import library, warm_vectors
from workbench.tuning.vectors import (
    Sketch,
    compiled_for,
    decisions_of,
    evolve,
    mutate_decisions,
    random_decisions,
    sketch_of,
    vector_features,
)
from workbench.worldmodel.decisions import CompiledPlan
from workbench.worldmodel.effects import Machine
from workbench.worldmodel.items import wiring_of

import_tvm()

from tvm import s_tir  # noqa: E402
from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule import MeasureCandidate  # noqa: E402
from tvm.s_tir.meta_schedule.arg_info import ArgInfo  # noqa: E402
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy  # noqa: E402


class PlanState:
    """What a plan search remembers across rounds: decision vectors scored, built, rejected."""

    def __init__(self) -> None:
        self.invalid: set[tuple] = set()  # (sketch, decisions) TVM refused
        self.proposed: set[tuple] = set()  # materialized (measured or rejected; built for a verifier: until it passes)
        self.elite: list[tuple[float, int, tuple]] = []  # (score, sketch, decisions): the best scored so far
        # materialized: every build TVM accepted (one a verifier passed over, again when it is built again)
        self.stats = {"rounds": 0, "scored": 0, "prefixes": 0, "materialized": 0, "rejected": 0, "verified": 0,
                      "search_seconds": 0.0}
        self.last_round: dict[str, Any] = {}


@derived_object
class PlanSearch(PySearchStrategy):
    """Decision-space search scored by the world model (see the module docstring)."""

    def __init__(self, *, population: int = 8192, generations: int = 3, mutants_per_parent: int = 4,
                 family: int = 32, moves: int = 64, materialize: int = 3, explore: float = 0.125,
                 seed_samples: int = 64, seed: int = 0, state: PlanState | None = None, cost_model: Any = None,
                 seen: set[str] | None = None, beam: int = 0, beam_width: int = 32, beam_expand: int = 8,
                 transfer: int = 0, warm_share: float = 0.25) -> None:
        super().__init__()
        # A draft-then-verify cost model (the run's, whose stats it reports): its draft scores, its verifier picks.
        self.verified_by: Any = None
        self.verifier, self.verify_k = None, 0
        if hasattr(cost_model, "draft") and hasattr(cost_model, "verifier"):
            if getattr(cost_model, "mix", False) or getattr(cost_model, "online", False):
                raise ValueError("plan search: the verified top is taken in the verifier's own order; a mixed "
                                 "or online order is for the evolutionary search")
            # k None (the verifier scores everything): every candidate built, materialize x the model's places
            self.verifier, self.verify_k = cost_model.verifier, int(cost_model.k or 0)
            self.verified_by, cost_model = cost_model, cost_model.draft
        if population < 4 or generations < 1 or mutants_per_parent < 1 or family < 1 or moves < 0 or materialize < 1:
            raise ValueError(f"plan search: population >= 4, generations, mutants_per_parent, family and "
                             f"materialize >= 1 and moves >= 0 needed; got {population}, {generations}, "
                             f"{mutants_per_parent}, {family}, {materialize}, {moves}")
        if transfer < 0:
            raise ValueError(f"plan search: transfer >= 0 needed (records per subgraph); got {transfer}")
        if not 0 <= warm_share <= 1:
            raise ValueError(f"plan search: warm_share in [0, 1] needed; got {warm_share}")
        if beam < 0 or beam_width < 1 or beam_expand < 1:
            raise ValueError(f"plan search: beam >= 0, beam_width and beam_expand >= 1 needed; got {beam}, "
                             f"{beam_width}, {beam_expand}")
        self.beam, self.beam_width, self.beam_expand = beam, beam_width, beam_expand
        self.transfer, self.warm_share = transfer, warm_share
        self.warm: list[tuple[int, tuple]] = []
        self.population, self.generations, self.mutants = population, generations, mutants_per_parent
        self.family, self.moves = family, moves
        self.materialize, self.explore, self.seed_samples = materialize, explore, seed_samples
        self.rng = random.Random(seed)
        self.state = state or PlanState()
        self.context: Any = None
        self.sketches: list[Sketch] = []
        self._compiled: dict[tuple, CompiledPlan] = {}  # (sketch, fixed decisions) -> its compiled plan
        # The world model's cost model, as the run made it: MetaSchedule hands pre_tuning its FFI wrapper only.
        self.cost_model: Any = cost_model
        self.seen = seen  # trace keys of the run's measured programs (never built again)
        self.database: Any = None
        self.max_trials = self.per_iter = self.given = 0

    # ---- MetaSchedule's interface ----------------------------------------------------------------------
    def _initialize_with_tune_context(self, context: Any) -> None:
        self.context = context
        self.args_info = ArgInfo.from_entry_func(context.mod, remove_preproc=True)
        self.postprocs = list(context.space_generator.postprocs)

    def pre_tuning(self, max_trials: int, num_trials_per_iter: int, design_spaces: list, database: Any = None,
                   cost_model: Any = None) -> None:
        cm = self.cost_model
        if cm is None or not hasattr(cm, "evaluator") or not hasattr(cm, "blend"):
            raise ValueError("the plan strategy scores with the world model: use cost_model='world'")
        if not cm.evaluator.config.use_transition or cm.evaluator.transition is None:
            raise ValueError("the plan strategy rolls decisions out in latent space: this evaluator has no "
                             "transition model (a static ablation); use one trained with its transition")
        self.database = database
        self.machine = Machine.of(cm.hardware)
        self.max_trials, self.per_iter, self.given = max_trials, num_trials_per_iter, 0
        self.sketches = [sketch_of(i, sch.trace) for i, sch in enumerate(design_spaces)]
        self._seed_population()

    def post_tuning(self) -> None:
        pass

    def generate_measure_candidates(self) -> list[Any] | None:
        if self.given >= self.max_trials or not self.sketches:
            return None
        start = time.perf_counter()
        want = min(self.per_iter, self.max_trials - self.given)
        ranked = self._plan_round()
        out: list[Any] = []
        n_random = int(round(want * self.explore))
        tries = 0
        built: list[tuple[int, tuple]] = []  # the vector of each candidate in ``out``

        def build(vector: tuple[int, tuple] | None) -> None:
            nonlocal tries
            if vector is None or vector in self.state.proposed:
                return
            tries += 1
            cand = self._build(*vector)
            if cand is not None:
                out.append(cand)
                built.append(vector)

        for _ in range(4 * n_random):  # the exploration share: random vectors
            if len(out) >= n_random:
                break
            build(self._random_vector())
        warm_tries = 0
        if self.transfer and not self.given and not self.measured_seeds:  # a fresh run's first batch
            # The best-scored warm starts too (their tries do not count against the model's picks).
            pairs, warm_tries = self.warm_candidates(min(want, len(out) + math.ceil(want * self.warm_share))
                                                     - len(out))
            tries += warm_tries
            built += [v for v, _ in pairs]
            out += [c for _, c in pairs]
            self.state.last_round.update(warm=len(pairs), warm_starts=len(self.warm))
        first = len(out)  # the model's places: ``want - first``; a verifier chooses them from its ``verify_k``
        drafts = want - first
        if self.verifier is not None and drafts > 0:  # (a verify_k no larger than the places verifies nothing)
            drafts = max(drafts, self.verify_k or self.materialize * drafts)
        for _, sketch, decisions in ranked:  # the model's best, until the batch (or the verifier's draft) is full
            if len(out) - first >= drafts or tries - warm_tries >= self.materialize * drafts:
                break
            build((sketch, decisions))
        if self.verifier is not None and len(out) - first > want - first:
            keep = self._verify(out[first:], want - first)
            for i, vector in enumerate(built[first:]):
                if i not in keep:  # built, not measured: it may be proposed again
                    self.state.proposed.discard(vector)
            out[first:] = [out[first + i] for i in keep]
            built[first:] = [built[first + i] for i in keep]
        for _ in range(8 * want):  # refused or known: top the batch up at random rather than end the task
            if len(out) >= want:
                break
            build(self._random_vector())
        self.given += len(out)
        self.state.stats["rounds"] += 1
        self.state.stats["search_seconds"] += time.perf_counter() - start
        self.state.last_round.update(built=len(out), tried=tries, rejected=self.state.stats["rejected"],
                                     search_seconds=time.perf_counter() - start)
        # The batch's record in workbench_rounds.json says how many vectors were scored and built for it.
        self.cost_model.round_info[str(self.context.task_name)] = {"plan": dict(self.state.last_round)}
        return out or None

    def notify_runner_results(self, measure_candidates: list, results: list) -> None:
        pass  # the measurements reach the world model through the cost model's update

    def clone(self) -> Any:
        return PlanSearch(population=self.population, generations=self.generations,
                          mutants_per_parent=self.mutants, family=self.family, moves=self.moves,
                          materialize=self.materialize, explore=self.explore,
                          seed_samples=self.seed_samples, seed=self.rng.randrange(2**31), state=PlanState(),
                          cost_model=self.cost_model if self.verified_by is None else self.verified_by,
                          seen=self.seen, beam=self.beam,
                          beam_width=self.beam_width, beam_expand=self.beam_expand, transfer=self.transfer,
                          warm_share=self.warm_share)

    # ---- sketches ----------------------------------------------------------------------------------------
    def _seed_population(self) -> None:
        """Random samples of every sketch (what compute locations it allows) and the database's best."""
        seeds: list[tuple[int, tuple]] = []
        for sk in self.sketches:
            for _ in range(max(1, self.seed_samples // len(self.sketches))):
                sch = s_tir.Schedule(self.context.mod, seed=self.rng.randint(1, 2**31 - 1),
                                     error_render_level="none")
                try:
                    s_tir.Trace(sk.trace.insts, {}).apply_to_schedule(sch, remove_postproc=True)
                except Exception:  # noqa: BLE001 - a sampled decision can make a sketch inapplicable
                    continue
                d = decisions_of(sk, sch.trace)
                if d is None:
                    continue
                sk.learn(d)
                seeds.append((sk.index, d))
        self.warm = self._warm_vectors()
        self.seeds = self.warm + seeds
        self.measured_seeds = self._measured_vectors()  # a resumed run starts from its best

    def _warm_vectors(self) -> list[tuple[int, tuple]]:
        """With ``transfer`` > 0: of each subgraph the world model was trained on, its ``transfer`` fastest
        records in the shipped ``sample_logs/<target>``, those that fit one of this task's sketches, tile sizes
        fitted to its extents (:mod:`workbench.tuning.transfer`). They join the seeds (parents of every round
        and beam bases), and a fresh run's first batch holds the best-scored of them (``warm_share`` of it).
        Warns when the shipped logs hold no record of those subgraphs (the strategy then runs as the beam)."""
        if not self.transfer:
            return []
        names = tuple(self.cost_model.evaluator.config.info.get("subgraphs") or ())
        kind = {"llvm": "cpu", "cuda": "cuda"}.get(str(self.context.target.kind.name))
        warm = library(str(sample_logs_dir() / kind), names, self.transfer) if kind else ()
        if not warm:
            warnings.warn(f"transfer: no shipped records ({sample_logs_dir() / (kind or '?')}) of the "
                          f"subgraphs this world model was trained on ({len(names)} named), for target "
                          f"{self.context.target.kind.name}: no warm starts, the search runs as the beam",
                          stacklevel=2)
        return [(s, d) for s, d, _ in warm_vectors(self.sketches, warm)]

    def _measured_vectors(self, n: int = 32) -> list[tuple[int, tuple]]:
        """Decision vectors of the task's best measured records (the database's), each marked as proposed."""
        out = []
        for rec in self._best_records(n):
            trace = rec.trace
            for sk in self.sketches:
                if not self._matches(sk, trace):
                    continue
                d = decisions_of(sk, trace)
                if d is not None:
                    out.append((sk.index, d))
                    self.state.proposed.add((sk.index, d))
                break
        return out

    def _matches(self, sketch: Sketch, trace: Any) -> bool:
        """Whether a measured trace is a candidate of ``sketch``: the same design instructions, wired alike."""
        try:
            actions = actions_from_trace(trace, design_only=True)
        except Exception:  # noqa: BLE001 - a record TVM cannot decode is no candidate of any sketch
            return False
        return ([a.kind for a in actions] == [a.kind for a in sketch.template]
                and wiring_of(actions) == sketch.wiring)

    def _best_records(self, n: int) -> list[Any]:
        if self.database is None:
            return []
        try:
            workload = self.database.commit_workload(self.context.mod)
            return list(self.database.get_top_k(workload, n))
        except Exception:  # noqa: BLE001 - an empty or foreign database: nothing to seed from
            return []

    # ---- proposing and scoring ---------------------------------------------------------------------------
    def _random_vector(self) -> tuple[int, tuple] | None:
        sk = self.rng.choice(self.sketches)
        d = random_decisions(sk, self.rng)
        return None if d is None or (sk.index, d) in self.state.invalid else (sk.index, d)

    def _mutate(self, sketch: int, decisions: tuple) -> tuple[int, tuple] | None:
        """Another tile factorization (the vector stays in its family; :meth:`_move` changes families); in a
        sketch without tile decisions, another value of any decision."""
        sk = self.sketches[sketch]
        d = mutate_decisions(sk, decisions, self.rng, free=sk.tiles or None)
        return None if d is None or (sketch, d) in self.state.invalid else (sketch, d)

    def _random_family(self) -> list[tuple[int, tuple]]:
        """A random vector and ``family - 1`` more with its categorical values and compute locations."""
        first = self._random_vector()
        if first is None:
            return []
        sk = self.sketches[first[0]]
        out = [first]
        for _ in range(self.family - 1 if sk.tiles else 0):
            d = random_decisions(sk, self.rng, base=first[1], free=sk.tiles)
            if d is not None and (sk.index, d) not in self.state.invalid:
                out.append((sk.index, d))
        return out

    def _move(self, members: list[tuple[int, tuple]]) -> list[tuple[int, tuple]]:
        """Moves between families: for each of the best ``moves`` families (vectors of one sketch with the same
        categorical values and compute locations; ``members`` best first), one of those decisions changed in
        its best ``family`` members at once. A family's vectors share one compiled plan, so they are scored as
        one array; moving them together keeps the batch in a few hundred large families."""
        families: dict[tuple, list[tuple[int, tuple]]] = {}
        for s, d in members:
            families.setdefault((s, self.sketches[s].family(d)), []).append((s, d))
        out = []
        for (s, _), vectors in list(families.items())[: self.moves]:
            sk = self.sketches[s]
            moved = None
            for _ in range(8 if sk.fixed else 0):  # a draw may keep the value (or find nowhere to move): redraw
                moved = mutate_decisions(sk, vectors[0][1], self.rng, free=sk.fixed)
                if moved is not None and moved != vectors[0][1]:
                    break
            if moved is None or moved == vectors[0][1]:
                continue
            for _, d in vectors[: self.family]:
                v = (s, tuple(moved[k] if k in sk.fixed else x for k, x in enumerate(d)))
                if v not in self.state.invalid:
                    out.append(v)
        return out

    def warm_candidates(self, n: int) -> tuple[list[tuple[tuple[int, tuple], Any]], int]:
        """Up to ``n`` warm starts (``transfer``), built, best-scored first, as (vector, candidate); and how many
        were tried (at most ``materialize`` x ``n``; one proposed before is skipped)."""
        out: list[tuple[tuple[int, tuple], Any]] = []
        tries = 0
        for i in np.argsort(-self._score(self.warm), kind="stable") if self.warm and n > 0 else []:
            if len(out) >= n or tries >= self.materialize * n:
                break
            if self.warm[i] in self.state.proposed:
                continue
            tries += 1
            cand = self._build(*self.warm[i])
            if cand is not None:
                out.append((self.warm[i], cand))
        return out, tries

    def _verify(self, candidates: list[Any], n: int) -> list[int]:
        """The indices of the verifier's best ``n`` of the built ``candidates``, best first."""
        start = time.perf_counter()
        scores = np.asarray(self.verifier.predict(self.context, candidates), dtype="float64")
        # XGBModel's pack-sum leaves out trailing candidates without any store feature: they score 0.
        scores = np.concatenate([scores, np.zeros(len(candidates) - len(scores))])
        seconds = time.perf_counter() - start
        self.state.stats["verified"] += len(candidates)
        self.state.last_round.update(verified=len(candidates), verify_seconds=seconds)
        self.verified_by.stats["verified"] += len(candidates)  # what the run's session reports as its work
        self.verified_by.stats["verify_seconds"] += seconds
        return [int(i) for i in np.argsort(-scores, kind="stable")[:n]]

    def _score(self, vectors: list[tuple[int, tuple]]) -> np.ndarray:
        """The search's scores of decision vectors, straight from the decisions: per sketch and choice of
        categorical values and compute locations, one compiled plan turns tile sizes into features by matrix
        products; then one rollout and the ranker for all, blended with the run's online model."""
        cm = self.cost_model
        mod = self.context.mod
        n = len(vectors)
        x = vector_features(cm.evaluator, mod, self.sketches, vectors, machine=self.machine, hardware=cm.hardware,
                            target_kind=str(self.context.target.kind.name), flops=cm.flops_of(mod),
                            compiled=self._compiled)
        scores = cm.blend.scores(x, cm.evaluator.ranker.predict(x), str(self.context.task_name))
        self.state.stats["scored"] += n
        cm.stats["predicted"] += n
        if self.verified_by is not None:
            self.verified_by.stats["predicted"] += n
        return scores

    def _plan_round(self) -> list[tuple[float, int, tuple]]:
        """A round of planning: mutate the population, score every vector, keep the best; best first."""
        if self.state.stats["rounds"]:  # what the run measured since: its best are parents too
            self.measured_seeds = self._measured_vectors()
        parents = ([(s, d) for _, s, d in self.state.elite[: self.population // 4]] + list(self.seeds)
                   + list(self.measured_seeds))
        for _ in range(max(1, self.population // 4 // self.family)):
            parents += self._random_family()
        beamed, prefixes = self._beam_round() if self.beam else ([], 0)
        parents += beamed
        # Scores are kept for this round only: the online model changes between rounds.
        order, known = evolve(parents, score=self._score, mutate=lambda v: self._mutate(*v), population=self.population,
                              generations=self.generations, mutants=self.mutants, rng=self.rng,
                              skip=self.state.invalid.__contains__, spawn=self._move)
        ranked = [(known[v], v[0], v[1]) for v in order]
        self.state.elite = ranked[: self.population]
        self.state.last_round = {"scored": len(known), "best_score": ranked[0][0] if ranked else None}
        if self.beam:
            self.state.last_round.update(prefixes=prefixes, beamed=len(beamed))
        return ranked

    def _beam_round(self) -> tuple[list[tuple[int, tuple]], int]:
        """Vectors from a beam over the tile decisions of ``beam`` families (:mod:`workbench.tuning.beam`): the
        families of the run's best measured programs first, then of the best scored so far, then of the
        sketches' own samples, leaving a quarter for random families (exploration; random families also fill
        what the others leave). They join the round's parents, scored in full with the rest. Returns (the
        vectors, prefixes the value head scored)."""
        cm = self.cost_model
        mod = self.context.mod
        bases: dict[tuple, tuple[int, tuple]] = {}
        n_random = self.beam // 4
        for s, d in list(self.measured_seeds) + [(s, d) for _, s, d in self.state.elite] + list(self.seeds):
            if len(bases) >= self.beam - n_random:
                break
            bases.setdefault((s, self.sketches[s].family(d)), (s, d))
        for _ in range(4 * n_random):
            if len(bases) >= self.beam:
                break
            v = self._random_vector()
            if v is not None:
                bases.setdefault((v[0], self.sketches[v[0]].family(v[1])), v)
        z0, info, out, prefixes = cm.evaluator.encode_initial(mod), cm.evaluator.program_info(mod), [], 0
        for s, d in bases.values():
            sk = self.sketches[s]
            cp = compiled_for(info, sk, d, self._compiled)
            vectors, scored = beam_family(sk, d, cp, z0, cm.evaluator.transition, width=self.beam_width,
                                          expand=self.beam_expand, rng=self.rng,
                                          skip=lambda c, s=s: (s, c) in self.state.invalid)
            prefixes += scored
            out += [(s, v) for v in vectors]
        self.state.stats["prefixes"] += prefixes
        return out, prefixes

    # ---- materializing -------------------------------------------------------------------------------------
    def _build(self, sketch: int, decisions: tuple) -> Any:
        """The measure candidate of a decision vector: the sketch replayed with it, then post-processed; None
        (and remembered) when TVM refuses it."""
        sk = self.sketches[sketch]
        key = (sketch, decisions)
        self.state.proposed.add(key)
        perfect = all(int(np.prod(decisions[k])) == sk.extents[k] and min(decisions[k]) >= 1 for k in sk.tiles
                      if sk.extents[k])  # TVM would split imperfectly (with a predicate): not this sketch's space
        if not perfect:
            self.state.invalid.add(key)
            self.state.stats["rejected"] += 1
            return None
        values = {inst: (list(v) if isinstance(v, tuple) else v) for inst, v in zip(sk.insts, decisions, strict=True)}
        sch = s_tir.Schedule(self.context.mod, seed=self.rng.randint(1, 2**31 - 1), error_render_level="none")
        try:
            s_tir.Trace(sk.trace.insts, values).apply_to_schedule(sch, remove_postproc=True)
            sch.enter_postproc()
            ok = all(proc.apply(sch) for proc in self.postprocs)
        except Exception:  # noqa: BLE001 - TVM raises builtin error types for a decision it cannot apply
            ok = False
        if not ok:
            self.state.invalid.add(key)
            self.state.stats["rejected"] += 1
            return None
        if self.seen is not None and trace_key(sch.trace) in self.seen:
            return None  # a program measured in an earlier session (proposed now, it is not built again)
        self.state.stats["materialized"] += 1
        return MeasureCandidate(sch, self.args_info)

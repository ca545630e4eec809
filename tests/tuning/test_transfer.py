import json
import math
import random

import pytest

from workbench import sample_logs_dir
from workbench.tuning.transfer import _latency, design_signature, fit_tiles, library

LOGS = sample_logs_dir() / "cpu"
TRANSPOSED = ("conv2d_transpose_16x16x64", "conv2d_transpose_8x8x128")  # training subgraphs of one kind


def test_fitted_tiles_factor_the_new_extent_no_larger_inside_than_the_source():
    rng = random.Random(0)
    for _ in range(500):
        parts = rng.randint(1, 4)
        tiles = tuple(rng.choice([1, 2, 3, 4, 8, 16, 32]) for _ in range(parts))
        extent = rng.choice([1, 7, 12, 64, 96, 128, 196, 512, 768])
        fitted = fit_tiles(tiles, extent)
        assert len(fitted) == parts and math.prod(fitted) == extent
        assert all(f <= max(t, 1) for f, t in zip(fitted[1:], tiles[1:], strict=True))
    assert fit_tiles((2, 4, 8), 64) == (2, 4, 8)  # the source's own extent: unchanged
    assert fit_tiles((1, 4, 32), 96) == (1, 3, 32)  # innermost kept, the next the largest divisor left <= 4
    assert fit_tiles((4, 2), 7) == (7, 1)  # a prime larger than the inner tile: everything outside
    assert fit_tiles((0, 4), 8) == (2, 4) and fit_tiles((4, 0), 8) == (8, 1)  # a 0 tile counts as 1


def test_the_library_holds_each_subgraphs_fastest_distinct_records_read_without_parsing_traces():
    warm = library(str(LOGS), (*TRANSPOSED, "no_such_subgraph"), 3)
    assert [w.subgraph for w in warm] == [TRANSPOSED[0]] * 3 + [TRANSPOSED[1]] * 3
    for name in TRANSPOSED:
        lines = (LOGS / name / "database_tuning_record.json").read_text().splitlines()
        means = []
        for line in lines:
            secs = json.loads(line)[1][1]
            mean = sum(secs) / len(secs)
            assert _latency(line) == (mean if mean < 1e9 else None)  # the fast read is the parsed one
            assert _latency(json.dumps(json.loads(line), separators=(", ", ": "))) == _latency(line)
            means.append(mean)
        mine = [w.latency for w in warm if w.subgraph == name]
        assert mine == sorted(mine) and mine[0] == min(means)
        assert len({(w.signature, w.decisions) for w in warm if w.subgraph == name}) == 3
    assert any(a.signature == b.signature for a in warm[:3] for b in warm[3:]), "the two share no sketch"


def test_a_design_signature_drops_lookups_without_a_result_and_names_what_each_step_acts_on():
    line = (LOGS / TRANSPOSED[0] / "database_tuning_record.json").read_text().splitlines()[0]
    trace = json.loads(line)[1][0]
    sig, decisions = design_signature(trace)
    insts = trace[0][: [i[0] for i in trace[0]].index("EnterPostproc")]
    with_lookup = [[insts[0][0], [], insts[0][2], []], *insts]  # a GetSBlock whose result nothing uses
    assert design_signature([with_lookup, [[i + 1, v] for i, v in trace[1]]]) == (sig, decisions)
    rewired = json.loads(json.dumps(insts))
    at = next(i for i, inst in enumerate(rewired) if inst[0] == "Split")
    rewired[at][1][0] = "l999"  # the same steps acting on another loop: another sketch
    assert design_signature([rewired, trace[1]])[0] != sig
    assert design_signature("not a trace") is None


@pytest.mark.slow
def test_a_fresh_transfer_run_measures_warm_starts_of_other_subgraphs_first_a_resumed_one_does_not(tmp_path):
    from workbench.logs import load_logs
    from workbench.tuning.run import TuningRun
    from workbench.views import plan_table
    from workbench.worldmodel import Evaluator, default_model_dir

    # matmul_256 is held out of the shipped model: its warm starts are other subgraphs' records, fitted.
    assert "matmul_256" not in Evaluator.load(default_model_dir("cpu")).config.info["subgraphs"]
    run = TuningRun("matmul_256", trials=8, trials_per_iter=8, cost_model="world", strategy="transfer",
                    work_dir=tmp_path / "t", confirm=0, seed=1)
    run.run(progress=False)
    assert run.status == "done" and run.measured == 8
    first = [p for p in run.rounds()["plan"] if isinstance(p, dict)]
    assert len(first) == 1 and first[0]["warm"] == 2 and first[0]["warm_starts"] > 2
    assert first[0]["beamed"] > 0
    assert list(plan_table(run.rounds()).columns[-1:]) == ["warm"]
    resumed = TuningRun("matmul_256", trials=16, trials_per_iter=8, cost_model="world", strategy="transfer",
                        work_dir=tmp_path / "t", confirm=0, seed=1)
    resumed.run(progress=False)
    plans = [p for p in resumed.rounds()["plan"] if isinstance(p, dict)]
    assert len(plans) == 2 and "warm" not in plans[1]  # a resumed run starts from its own best instead
    df = load_logs(tmp_path / "t", progress=False)
    assert len(df) == 16 and df["trace_key"].is_unique


@pytest.mark.slow
def test_a_fresh_warm_run_measures_warm_starts_in_the_evolutionary_searchs_first_batch(tmp_path):
    from workbench.logs import load_logs
    from workbench.tuning import TuningError
    from workbench.tuning.run import TuningRun

    with pytest.raises(TuningError, match="warm strategy searches with the world model"):
        TuningRun("matmul_256", cost_model="xgb", strategy="warm", work_dir=tmp_path / "x")
    run = TuningRun("matmul_256", trials=8, trials_per_iter=8, strategy="warm", work_dir=tmp_path / "w",
                    confirm=0, seed=1)
    assert run.cost_model_spec == "world_verify"  # the default with MetaSchedule's search
    run.run(progress=False)
    assert run.status == "done" and run.measured == 8
    warm = [w for w in run.rounds()["warm"] if isinstance(w, dict)]
    assert len(warm) == 1 and warm[0]["warm"] == 2 and warm[0]["warm_starts"] > 2
    resumed = TuningRun("matmul_256", trials=16, trials_per_iter=8, strategy="warm", work_dir=tmp_path / "w",
                        confirm=0, seed=1)
    resumed.run(progress=False)
    assert len([w for w in resumed.rounds()["warm"] if isinstance(w, dict)]) == 1  # a resumed run does not hedge
    df = load_logs(tmp_path / "w", progress=False)
    assert len(df) == 16 and df["trace_key"].is_unique

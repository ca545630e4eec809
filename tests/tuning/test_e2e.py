"""A whole PyTorch model: tuned task by task, compiled with its records, checked and timed against PyTorch."""

from __future__ import annotations

import os

import pytest

from workbench._tvm import torch_ready
from workbench.logs import load_logs
from workbench.tuning import TorchModel, TuningError, TuningRun, function_times
from workbench.views import time_shares

pytestmark = pytest.mark.slow
SUBGRAPH = "matmul_128"


def _records(work_dir):
    return load_logs(work_dir, progress=False)


def test_whole_model_run_compiles_and_matches_pytorch(tmp_path):
    torch = torch_ready()
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32)).eval()
    model = TorchModel("tiny_mlp", mlp, (torch.randn(4, 64),))
    run = TuningRun(model=model, trials=8, trials_per_iter=4, cost_model="world", work_dir=tmp_path / "mlp",
                    confirm=0)
    assert len(run.subgraphs) == 2 and run.budget == 8
    # Each task's batch is saved (and the run stoppable) as soon as it is measured, not after every task has
    # been searched once, as TVM's own gradient scheduler does: a stop asked for at once ends the run after
    # the first task's batch, with that batch saved.
    run.start()
    run.stop(timeout=300)
    assert run.status == "stopped" and run.measured == 4 and len(_records(tmp_path / "mlp")) == 4
    run = TuningRun(model=model, trials=8, trials_per_iter=4, cost_model="world", work_dir=tmp_path / "mlp",
                    confirm=0)
    run.run(progress=False)
    assert run.status == "done" and run.measured == 8 and len(_records(tmp_path / "mlp")) == 8  # budget, exactly
    assert (run.progress()["trials"] == 4).all()  # the resumed warm-up pass went to the untuned task first
    db = run.database()
    assert all(db.has_workload(s.mod) for s in run.subgraphs)  # every task tuned, under its own key
    cmp = run.compare_with_torch(repeat=3, try_compile=False)
    assert cmp.outputs_match and cmp.max_abs_err < 1e-4
    # Every fused task got its tuned schedule (TVM 0.27's compile_relax alone finds none of them: op_pattern).
    assert sorted(run.compile_coverage["tuned"]) == sorted(s.name.split("/")[-1] for s in run.subgraphs)
    assert run.compile_coverage["untuned"] == []
    assert cmp.tvm_ms > 0 and cmp.eager_ms > 0 and len(cmp.times["tvm"]) == 3
    told = os.environ.get("TVM_NUM_THREADS") or os.environ["OMP_NUM_THREADS"]  # set by the workbench if not by you
    assert cmp.tvm_threads == int(told) and cmp.torch_threads >= 1  # TVM on every core, not TVM's half
    shares = time_shares(run, first=2)  # where the model's time goes: the first round's best, then the final
    assert list(shares.index) == sorted(shares.index, key=lambda t: -shares.loc[t, "share_best"])
    assert (shares["first_ms"] >= shares["best_ms"]).all() and shares["share_best"].sum() == pytest.approx(1.0)
    assert shares["trials"].tolist() == [4] * len(shares)
    inside = function_times(model, run.compile(), calls=2)  # each function's time inside the compiled model
    assert set(run.compile_coverage["tuned"]) <= set(inside["task"]), inside
    assert (inside.loc[inside["task"].isin(run.compile_coverage["tuned"]), "calls"] == 1).all()
    assert (inside["ms"] > 0).all() and inside["share"].sum() == pytest.approx(1.0)
    assert inside["ms"].tolist() == sorted(inside["ms"], reverse=True)
    single = TuningRun(SUBGRAPH, trials=4, work_dir=tmp_path / "single")
    with pytest.raises(TuningError, match="whole-model run"):
        single.compile()


def test_packed_weights_are_repacked_by_the_tuned_schedule_and_folded_at_compile(tmp_path):
    """The "_pack" pipelines: weights marked layout-free, repacked by the schedule (RewriteLayout) in tuning
    and, in the compiled model, once at compile time; the outputs still match PyTorch's."""
    torch = torch_ready()
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32)).eval()
    model = TorchModel("tiny_mlp", mlp, (torch.randn(4, 64),), pipeline="fold_pack")
    run = TuningRun(model=model, trials=4, trials_per_iter=2, cost_model="random", work_dir=tmp_path / "pack",
                    confirm=1, confirm_rounds=1)
    assert run.model == "tiny_mlp@fold_pack"  # the run's config names the pipeline
    assert all(len(s.mod["main"].attrs["layout_free_buffers"]) == 2 for s in run.subgraphs)  # weight and bias
    run.run(progress=False)
    assert run.status == "done" and run.measured == 4
    best = run.best()
    # The measured schedules read their weight in the packed layout the schedule chose, and they can be
    # measured again (built without the repacking, they take the packed weight).
    assert all("layout_rewrite_preproc" in tir for tir in best["tir"]) and best["confirmed"].all()
    cmp = run.compare_with_torch(repeat=2, try_compile=False)
    assert cmp.outputs_match and cmp.max_abs_err < 1e-4
    assert run.compile_coverage["untuned"] == []
    # Both tasks' weights were repacked at compile time: the model calls the "_prepacked" functions and no
    # repacking function is left to run at every call.
    assert run.compile_coverage["prepacked"] == sorted(s.name.split("/")[-1] for s in run.subgraphs)


def test_a_build_that_fails_names_the_step_and_the_operator_and_keeps_the_records(tmp_path):
    """A tuning record that no longer applies to its function (a hand-edited or foreign log): the build fails
    at applying the tuned schedules, the error names the fused function and its operator, and the database
    still holds every record."""
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    from workbench.hardware import make_target
    from workbench.subgraphs import load_subgraph
    from workbench.tuning import CompileError, compile_tuned

    torch = torch_ready()
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32)).eval()
    model = TorchModel("tiny_mlp", mlp, (torch.randn(4, 64),))
    task = model.subgraphs()[0]
    other = s_tir.Schedule(load_subgraph("softmax_256x256").mod)
    other.get_loops(other.get_sblock("T_softmax_maxelem"))  # a trace naming a block the task does not have
    target = make_target("cpu")
    db = ms.database.JSONDatabase(work_dir=str(tmp_path))
    workload = db.commit_workload(task.mod)
    db.commit_tuning_record(ms.database.TuningRecord(other.trace, workload, [1e-4], target,
                                                     ms.arg_info.ArgInfo.from_prim_func(task.mod["main"])))
    with pytest.raises(CompileError) as info:
        compile_tuned(model, db, target)
    err = info.value
    name = task.name.split("/")[-1]
    assert err.step == "applying the tuned schedules" and err.function == name and err.op == "matmul", str(err)
    assert f"in {name} (matmul)" in str(err) and "tiny_mlp" in str(err) and "1 tuning records are kept" in str(err)
    assert len((tmp_path / "database_tuning_record.json").read_text().splitlines()) == 1  # nothing lost

"""Tuning runs: the world model inside MetaSchedule's search, launched from a cell, stopped and resumed.

>>> from workbench.tuning import TuningRun
>>> run = TuningRun("matmul_256", trials=64, cost_model="world", work_dir="work/tune/matmul_world")
>>> run.start()          # returns at once; run.progress() and run.bar() show it live
>>> run.wait(); run.best()

Modules: ``run`` (the public :class:`TuningRun`), ``state`` (settings, run file, live state), ``search``
(search strategy and task scheduler), ``callbacks`` (recorder, stopper, timed builder and runner),
``cost_model`` (the world model as a MetaSchedule cost model), ``results`` and ``e2e`` (a tuned PyTorch
model against PyTorch). Importing this package loads TVM.
"""

from workbench.rpc import LocalRPCCluster, RPCError
from workbench.tuning.cost_model import COST_MODELS, make_cost_model, world_cost_model
from workbench.tuning.e2e import (
    Comparison,
    CompileError,
    TorchModel,
    compare_with_torch,
    compile_tuned,
    function_times,
)
from workbench.tuning.run import TuningRun
from workbench.tuning.search import STRATEGIES
from workbench.tuning.state import TuningError

__all__ = ["COST_MODELS", "STRATEGIES", "Comparison", "CompileError", "LocalRPCCluster", "RPCError", "TorchModel",
           "TuningError", "TuningRun", "compare_with_torch", "compile_tuned", "function_times", "make_cost_model",
           "world_cost_model"]

"""Tuning runs: the world model inside MetaSchedule's search, launched from a cell, stopped and resumed.

>>> from workbench.tuning import TuningRun
>>> run = TuningRun("matmul_256", trials=64, cost_model="world", work_dir="work/tune/matmul_world")
>>> run.start()          # returns at once; run.progress() and run.bar() show it live
>>> run.wait(); run.best()
"""

from workbench.tuning.cost_model import COST_MODELS, make_cost_model, world_cost_model

__all__ = ["COST_MODELS", "make_cost_model", "world_cost_model"]

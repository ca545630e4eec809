"""The world-model evaluator: state encoders, a latent transition model, and a ranker.

>>> from workbench.worldmodel import load_default
>>> evaluator = load_default("cpu")
>>> scores = evaluator.score(candidates)    # Candidates, or a DataFrame from workbench.logs.load_logs

Modules: ``config`` (every hyperparameter), ``items`` (what is scored), ``encoders/``, ``transition``,
``ranker``, ``evaluator`` (the three together, saved as a directory), ``train``, ``evaluate`` and ``metrics``
(honest evaluation), ``baseline`` (MetaSchedule's XGBModel on the same logs).
"""

from workbench.worldmodel.config import DEFAULTS, EvaluatorConfig, TrainConfig
from workbench.worldmodel.encoders import ContrastiveEncoder, Encoder, HFEncoder, TfidfEncoder
from workbench.worldmodel.encoders import create as create_encoder
from workbench.worldmodel.evaluator import Evaluator, default_model_dir, load_default
from workbench.worldmodel.files import ModelFileError
from workbench.worldmodel.items import Item

__all__ = [
    "DEFAULTS", "ContrastiveEncoder", "Encoder", "Evaluator", "EvaluatorConfig", "HFEncoder", "Item",
    "ModelFileError", "TfidfEncoder", "TrainConfig", "create_encoder", "default_model_dir", "load_default",
]

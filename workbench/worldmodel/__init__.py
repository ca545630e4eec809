"""The world-model evaluator: state encoders, a latent transition model, and a ranker.

>>> from workbench.worldmodel import load_default
>>> evaluator = load_default("cpu")
>>> scores = evaluator.score(candidates)    # Candidates, or a DataFrame from workbench.logs.load_logs
"""

from workbench.worldmodel.encoders import (
    ContrastiveEncoder,
    Encoder,
    HFEncoder,
    ModelFileError,
    TfidfEncoder,
    get_encoder,
)
from workbench.worldmodel.evaluator import Evaluator, EvaluatorConfig, Item, default_model_dir, load_default

__all__ = [
    "ContrastiveEncoder", "Encoder", "Evaluator", "EvaluatorConfig", "HFEncoder", "Item", "ModelFileError",
    "TfidfEncoder", "default_model_dir", "get_encoder", "load_default",
]

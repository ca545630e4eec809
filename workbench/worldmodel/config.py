"""Every hyperparameter of the world model, in one place: what training uses and what a checkpoint records.

``TrainConfig`` is saved in each model's ``config.json`` (``info.config``), so a checkpoint says how it was
made. The components (encoders, transition, ranker) take these values as keyword arguments whose defaults
are read from :data:`DEFAULTS`, so there is one default for each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from workbench.worldmodel.features import BASE_TRACE_FEATURES, HARDWARE_FEATURES, TRACE_FEATURES


@dataclass
class TrainConfig:
    # ---- what is trained
    # state encoder: tfidf | contrastive | hf:/path/to/local/model. TF-IDF by default: it ranks as well as the
    # contrastive transformer here (benchmarks/results/eval_world_model.md) and trains in seconds, not ~20 minutes.
    encoder: str = "tfidf"
    latent_dim: int = 64  # size of the latent state (the tfidf and contrastive encoders' output)
    seed: int = 0  # seeds Python, NumPy, torch and XGBoost
    use_transition: bool = True  # roll actions out in latent space (False: encode the final program)
    use_action_features: bool = True  # the ranker also reads trace-level action features
    use_effect_features: bool = True  # ...and among them what post-processing makes of the decisions (effects)
    use_hardware_features: bool = True  # the ranker also reads the hardware descriptor
    # ---- transition data (replayed traces: no measurement needed)
    replay_traces: int = 12  # traces per subgraph replayed for (state, action, next state) data
    validation_traces: int = 2  # of those, kept out of transition training to report its error
    # ---- tfidf encoder
    tfidf_max_features: int = 20000  # vocabulary size (tokens and token bigrams seen at least twice)
    # ---- contrastive encoder: the model (a small RoBERTa built from a config)
    encoder_hidden: int = 128  # transformer width
    encoder_layers: int = 4  # transformer layers
    encoder_heads: int = 4  # attention heads
    encoder_vocab_size: int = 2000  # BPE vocabulary trained on TIR text
    encoder_max_length: int = 384  # tokens read per program (longer ones are truncated)
    # ---- contrastive encoder: training (InfoNCE over two views of each program)
    positives: str = "rewrite"  # positives: rewrite (renamed / grid-expanded views) or dropout (same text)
    encoder_steps: int = 300  # optimizer steps
    encoder_groups_per_batch: int = 4  # subgraphs per batch (their other schedules are the hard negatives)
    encoder_per_group: int = 8  # programs per subgraph in a batch
    encoder_lr: float = 5e-4  # AdamW peak learning rate
    encoder_weight_decay: float = 0.01  # AdamW weight decay
    encoder_warmup_steps: int = 20  # linear warm-up, then linear decay to 5% of the peak
    temperature: float = 0.1  # InfoNCE softmax temperature
    # ---- transition model (TransH-style step, value head)
    transition_hidden: int = 128  # width of the action MLP, the translation and the value head
    transition_token_dim: int = 32  # embedding size of an action token
    transition_epochs: int = 150  # passes over the replayed traces
    transition_batch_size: int = 32  # traces per optimizer step
    transition_lr: float = 2e-3  # AdamW learning rate
    transition_weight_decay: float = 1e-4  # AdamW weight decay
    grad_clip: float = 1.0  # gradient norm clip (encoder and transition)
    value_weight: float = 1.0  # weight of the value head's ranking loss on measured records (0: state loss only)
    value_groups_per_step: int = 4  # subgraphs whose measured records enter each step's value loss
    value_per_group: int = 64  # measured records per subgraph in that loss
    # ---- ranker (XGBoost over [final latent, action features, hardware features])
    ranker_rounds: int = 300  # boosting rounds
    ranker_objective: str = "regression"  # regression | pairwise | pairwise_top | ndcg (ranker_objective_cv.py)
    # learn speed per busy core and score programs that leave a machine's cores idle down by that share (ranker.py);
    # 0 turns it off; None: PARALLEL_EXPONENT with the regression objective, 0 with the ranking ones (it scales
    # predicted relevances, which only regression predicts)
    ranker_parallel_exponent: float | None = None
    ranker_max_depth: int = 6  # tree depth
    ranker_eta: float = 0.05  # learning rate
    ranker_subsample: float = 0.8  # rows per tree
    ranker_colsample: float = 0.8  # columns per tree
    ranker_min_child_weight: float = 2.0  # minimum hessian per leaf
    ranker_threads: int = 2  # XGBoost threads

    def __post_init__(self) -> None:
        if self.ranker_parallel_exponent is None:
            self.ranker_parallel_exponent = PARALLEL_EXPONENT if self.ranker_objective == "regression" else 0.0
        check_parallel_exponent(self.ranker_parallel_exponent, self.ranker_objective)

    @classmethod
    def from_saved(cls, saved: dict[str, Any] | None) -> TrainConfig:
        """The config a model was trained with, from its ``info["config"]``: fields this version does not know
        are dropped, and a model saved before the parallel exponent existed was trained without it (0)."""
        if not saved:
            return cls()
        fields = {k: v for k, v in saved.items() if k in cls.__dataclass_fields__}
        fields.setdefault("ranker_parallel_exponent", 0.0)
        return cls(**fields)


# The ranker's parallel exponent by default: chosen by cross-validation over training subgraphs
# (benchmarks/results/ranker_parallel_cv.md).
PARALLEL_EXPONENT = 0.5


def check_parallel_exponent(exponent: float, objective: str) -> None:
    """ValueError unless ``exponent`` is a finite number >= 0, and 0 for a ranking objective."""
    if not (isinstance(exponent, int | float) and math.isfinite(exponent) and exponent >= 0):
        raise ValueError(f"the ranker's parallel exponent must be a finite number >= 0, got {exponent!r}")
    if exponent and objective != "regression":
        raise ValueError(f"parallel exponent {exponent} needs the regression objective (it scales predicted "
                         f"relevances), not {objective!r}; set it to 0")


DEFAULTS = TrainConfig()


@dataclass
class EvaluatorConfig:
    """What scoring needs to know about a trained evaluator (saved in its ``config.json``)."""

    latent_dim: int
    use_transition: bool = True
    use_action_features: bool = True
    use_hardware_features: bool = True
    use_effect_features: bool = True
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # training data, timings, versions, the TrainConfig

    def feature_names(self) -> list[str]:
        """The ranker's columns: latent coordinates, then action features, then hardware features."""
        names = [f"z{i}" for i in range(self.latent_dim)]
        if self.use_action_features:
            names += [f"act:{n}" for n in (TRACE_FEATURES if self.use_effect_features else BASE_TRACE_FEATURES)]
        if self.use_hardware_features:
            names += [f"hw:{n}" for n in HARDWARE_FEATURES]
        return names

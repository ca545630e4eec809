"""State encoders: a TIR program (its normalized text) to a vector.

* ``tfidf``: TF-IDF over TIR tokens projected by a truncated SVD; fast lexical baseline.
* ``contrastive``: a small RoBERTa trained contrastively on TIR (rewrites as positives).
* ``hf``: any local Hugging Face encoder directory, loaded offline.

Chosen by name or passed as an instance (:func:`create`); :meth:`Encoder.load` reads any saved one.
"""

from workbench.worldmodel.encoders.base import KINDS, Encoder, TransformerEncoder, create
from workbench.worldmodel.encoders.contrastive import ContrastiveEncoder
from workbench.worldmodel.encoders.hf import HFEncoder
from workbench.worldmodel.encoders.tfidf import TfidfEncoder

__all__ = ["KINDS", "ContrastiveEncoder", "Encoder", "HFEncoder", "TfidfEncoder", "TransformerEncoder", "create"]

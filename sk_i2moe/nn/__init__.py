"""The I2MoE model in plain PyTorch (no scikit-learn, no skorch).

Use :class:`InteractionMoE` directly in your own training loop, or through
:class:`sk_i2moe.I2MoEClassifier`.
"""

from .encoders import MLPEncoder, PatchTokenizer
from .fusion import FUSIONS, MLPFusion, TransformerFusion
from .losses import (
    interaction_loss,
    interaction_terms,
    redundancy_loss,
    synergy_loss,
    uniqueness_loss,
)
from .moe import InteractionMoE, MoEOutput, ReweightingMLP

__all__ = [
    "FUSIONS",
    "InteractionMoE",
    "MLPEncoder",
    "MLPFusion",
    "MoEOutput",
    "PatchTokenizer",
    "ReweightingMLP",
    "TransformerFusion",
    "interaction_loss",
    "interaction_terms",
    "redundancy_loss",
    "synergy_loss",
    "uniqueness_loss",
]

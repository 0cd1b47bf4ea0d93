"""The I2MoE model in plain PyTorch (no scikit-learn, no skorch).

Use :class:`InteractionMoE` directly in your own training loop, or through
:class:`sk_i2moe.I2MoEClassifier`.
"""

from .custom import VmappedFusion
from .encoders import MLPEncoder, PatchTokenizer
from .experts import FusionOutput
from .fusion import (
    FUSIONS,
    EarlyFusion,
    InterpretCCFusion,
    LateFusion,
    LowRankTensorFusion,
    MLPFusion,
    MoEPlusPlusFusion,
    SwitchTransformerFusion,
    TransformerFusion,
    make_fusion,
)
from .losses import (
    interaction_loss,
    interaction_terms,
    redundancy_loss,
    synergy_loss,
    uniqueness_loss,
)
from .moe import (
    InteractionMoE,
    MoEOutput,
    ReweightingMLP,
    StaticReweighting,
    missing_modality_mixtures,
)
from .sparse import load_balancing_loss

__all__ = [
    "FUSIONS",
    "EarlyFusion",
    "FusionOutput",
    "InteractionMoE",
    "InterpretCCFusion",
    "LateFusion",
    "LowRankTensorFusion",
    "MLPEncoder",
    "MLPFusion",
    "MoEOutput",
    "MoEPlusPlusFusion",
    "PatchTokenizer",
    "ReweightingMLP",
    "StaticReweighting",
    "SwitchTransformerFusion",
    "TransformerFusion",
    "VmappedFusion",
    "interaction_loss",
    "interaction_terms",
    "load_balancing_loss",
    "make_fusion",
    "missing_modality_mixtures",
    "redundancy_loss",
    "synergy_loss",
    "uniqueness_loss",
]

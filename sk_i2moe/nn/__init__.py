"""The I2MoE model and its training objective in plain PyTorch (no scikit-learn, no skorch).

A kind of mixture (:class:`InteractionMoE`, the paper's, or
:class:`StructuredInteractionMoE`) returns outputs only; its objective
(``model.Objective``, see :mod:`sk_i2moe.nn.objective`) turns them into the
training loss and its named parts. The estimators train exactly this pair;
in your own loop:

>>> import torch
>>> from sk_i2moe.nn import InteractionMoE
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> xs = [torch.randn(64, 5), torch.randn(64, 3)]          # two modalities
>>> y = (xs[0][:, 0] * xs[1][:, 0] > 0).long()               # a synergy label
>>> model = InteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
>>> objective = model.Objective(
...     torch.nn.CrossEntropyLoss(reduction="none"), interaction_loss_weight=0.5
... )
>>> optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
>>> for step in range(20):
...     optimizer.zero_grad()
...     total, parts = objective(model(xs), y)               # training mode: perturbed passes
...     total.backward()
...     optimizer.step()
>>> sorted(parts)
['expert_loss', 'interaction_loss', 'task_loss']
>>> weights = model.eval()(xs).weights                       # [64, 4], rows sum to 1
>>> model.expert_names(["labs", "notes"])
['uniqueness[labs]', 'uniqueness[notes]', 'synergy', 'redundancy']
"""

from ._defaults import DEFAULTS
from .calibration import fit_shrinkage, fit_temperature, set_absence_shrinkage, set_temperature
from .custom import VmappedFusion
from .encoders import MLPEncoder, PatchTokenizer
from .ensemble import EnsembleObjective, EnsembleOutput, MixtureEnsemble, member_contributions
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
from .models import (
    ExpertPass,
    InteractionMoE,
    MixtureOfInteractionExperts,
    MixtureOutput,
    ModalityScorer,
    MoEOutput,
    ReweightingMLP,
    StaticReweighting,
    StructuredInteractionMoE,
    StructuredMoEOutput,
    agreement_missing,
    capped_softmax,
    missing_modality_mixtures,
    modality_agreement,
    shrink_weights,
    weighted_mean_missing,
)
from .objective import (
    InteractionObjective,
    MixtureObjective,
    StructuredObjective,
    interaction_loss,
    interaction_terms,
)
from .refine import fit_reweighting
from .shrinkage import anchor_weights, release_weights
from .sparse import load_balancing_loss

__all__ = [
    "DEFAULTS",
    "FUSIONS",
    "EarlyFusion",
    "EnsembleObjective",
    "EnsembleOutput",
    "ExpertPass",
    "FusionOutput",
    "InteractionMoE",
    "InteractionObjective",
    "InterpretCCFusion",
    "LateFusion",
    "LowRankTensorFusion",
    "MLPEncoder",
    "MLPFusion",
    "MixtureEnsemble",
    "MixtureObjective",
    "MixtureOfInteractionExperts",
    "MixtureOutput",
    "ModalityScorer",
    "MoEOutput",
    "MoEPlusPlusFusion",
    "PatchTokenizer",
    "ReweightingMLP",
    "StaticReweighting",
    "StructuredInteractionMoE",
    "StructuredMoEOutput",
    "StructuredObjective",
    "SwitchTransformerFusion",
    "TransformerFusion",
    "VmappedFusion",
    "anchor_weights",
    "agreement_missing",
    "capped_softmax",
    "fit_reweighting",
    "fit_shrinkage",
    "fit_temperature",
    "interaction_loss",
    "interaction_terms",
    "load_balancing_loss",
    "make_fusion",
    "member_contributions",
    "missing_modality_mixtures",
    "modality_agreement",
    "weighted_mean_missing",
    "release_weights",
    "set_absence_shrinkage",
    "set_temperature",
    "shrink_weights",
]

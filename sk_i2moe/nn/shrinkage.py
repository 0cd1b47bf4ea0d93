"""Per-sample interaction weights shrunk towards their mean over the training rows.

On a few hundred samples the per-sample weights of a structured mixture
carry more noise than signal: predicting with ``(1 - s) w(x) + s w_bar``,
where ``w_bar`` is the mixture's mean weight over its training rows, raises
held-out ROC-AUC on most small data sets while keeping every expert's
weights in the same order across samples (an increasing map of each). The
experts' outputs do not depend on the weights (the structured mixture trains
each expert on its own loss), so the shrinkage is applied after training,
at prediction only: :func:`~sk_i2moe.nn.shrink_weights` is the rule
(applied by :meth:`~sk_i2moe.nn.StructuredInteractionMoE.mix`),
:func:`anchor_weights` stores ``w_bar`` and ``s`` in a fitted mixture (or
in each member of an ensemble), whose evaluation-mode forward pass then
applies it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .ensemble import mixtures_of
from .refine import refinable

#: the buffers of a mixture that hold its anchor and shrinkage (state-dict name endings)
SHRINKAGE_BUFFERS = ("weight_anchor", "weight_shrinkage")


def anchor_weights(
    module: nn.Module,
    member_weights: np.ndarray,
    usable: np.ndarray | None,
    shrinkage: float,
) -> np.ndarray:
    """Store each member's mean training weight and the shrinkage in ``module``.

    Parameters
    ----------
    module : Module
        A :class:`~sk_i2moe.nn.StructuredInteractionMoE` or an ensemble of
        them: a mixture whose experts do not learn through the weights
        (:func:`~sk_i2moe.nn.refine.refinable`).
    member_weights : ndarray
        ``(n, K, E)`` every member's unshrunk weights on the training rows
        (``K = 1`` for a single mixture).
    usable : ndarray or None
        ``(n, E)`` bool: the experts each row can use (None: all). An
        expert's mean is taken over the rows that can use it.
    shrinkage : float
        In ``[0, 1]``, the fraction applied at prediction.

    Returns
    -------
    ndarray
        ``(K, E)`` the anchors stored.

    Raises
    ------
    ValueError
        When ``module`` does not shrink its weights, or the weights do not
        have one block per member.
    """
    members = mixtures_of(module)
    if not refinable(module):
        raise ValueError(
            f"{type(members[0]).__name__} trains its experts through the weights and does "
            "not shrink them; use a StructuredInteractionMoE (interaction_constraint="
            "'structure')."
        )
    if member_weights.ndim != 3 or member_weights.shape[1] != len(members):
        raise ValueError(
            f"Expected weights of shape (n, {len(members)}, E), one block per member; got "
            f"{member_weights.shape}."
        )
    weights = member_weights.astype(np.float64)
    counts = np.full(weights.shape[-1], len(weights), float) if usable is None else usable.sum(0)
    anchors = weights.sum(axis=0) / np.maximum(counts, 1.0)
    for member, anchor in zip(members, anchors):
        member.anchor_weights(torch.from_numpy(anchor), shrinkage)
    return anchors


def release_weights(module: nn.Module) -> None:
    """Stop ``module`` from shrinking its weights (shrinkage 0); no-op where it cannot.

    Parameters
    ----------
    module : Module
        A mixture or an ensemble of them.
    """
    if refinable(module):
        for member in mixtures_of(module):
            member.anchor_weights(member.weight_anchor, 0.0)

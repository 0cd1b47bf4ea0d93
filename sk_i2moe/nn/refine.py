"""Train the reweighting networks to convergence with the experts frozen.

In a :class:`~sk_i2moe.nn.StructuredInteractionMoE` the task loss trains the
weights only (the mixture is formed from the experts' detached outputs), so
once the experts are trained the weights have an objective of their own:
the kind's objective with everything but the reweighting networks fixed. The
training loop stops when the experts are ready, usually before the weights
are: on small data it takes few optimiser steps, and where the views are
redundant, where in its slow drift the weights were stopped depended on the
seed. :func:`fit_reweighting` finishes the job: it evaluates the experts once
on the training data (evaluation mode, no dropout, as at prediction) and then
trains the reweighting networks on full batches until their objective stops
improving.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._dtypes import at_least_float32
from .ensemble import EnsembleObjective, mixtures_of
from .models import ExpertPass

#: AdamW's learning rate: full batches allow a larger step than the training loop's
LEARNING_RATE = 2e-2
#: stop when the objective has not improved by this much ...
TOLERANCE = 1e-4
#: ... in this many consecutive steps
PATIENCE = 20


def refinable(module: nn.Module) -> bool:
    """Whether :func:`fit_reweighting` can train ``module``'s weights alone.

    True for a :class:`~sk_i2moe.nn.StructuredInteractionMoE` or an ensemble of
    them; the paper's :class:`~sk_i2moe.nn.InteractionMoE` trains its experts
    through the mixture, so its weights have no objective of their own.
    """
    return all(hasattr(member, "expert_pass") for member in mixtures_of(module))


@torch.no_grad()
def _expert_passes(
    members: Sequence[nn.Module],
    inputs: Sequence[torch.Tensor],
    present: torch.Tensor | None,
    batch_size: int,
) -> list[ExpertPass]:
    """Each member's pass over all the rows, computed batch by batch, in float32 at least."""
    n = inputs[0].shape[0]
    passes = []
    for member in members:
        chunks = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            mask = None if present is None else present[rows]
            chunks.append(member.expert_pass([x[rows] for x in inputs], mask))
        whole = ExpertPass.concat(chunks)
        passes.append(
            ExpertPass(
                pooled=at_least_float32(whole.pooled),
                present=whole.present,
                fixed_logits=at_least_float32(whole.fixed_logits),
                modality_logits=at_least_float32(whole.modality_logits),
                gate_loss=None,
            )
        )
    return passes


def fit_reweighting(
    module: nn.Module,
    objective: nn.Module,
    inputs: Sequence[torch.Tensor],
    y: torch.Tensor,
    sample_weight: torch.Tensor,
    *,
    present: torch.Tensor | None = None,
    max_steps: int,
    lr: float = LEARNING_RATE,
    weight_decay: float = 0.0,
    batch_size: int = 1024,
) -> list[float]:
    """Train the reweighting networks of a trained structured mixture, experts frozen.

    Full-batch AdamW on the mixture's objective (task loss and the
    missing-modality loss; the experts' own terms are constants here) over
    the reweighting network and the redundancy expert's modality scorer of
    every member, until the objective has not improved by ``TOLERANCE``
    in ``PATIENCE`` consecutive steps (constants of this module), or for
    ``max_steps`` steps. Nothing else changes; the
    module is left in evaluation mode.

    Parameters
    ----------
    module : StructuredInteractionMoE or MixtureEnsemble of them
        The trained mixture.
    objective : Module
        Its training objective (``module.Objective`` or an
        :class:`~sk_i2moe.nn.ensemble.EnsembleObjective` of it).
    inputs : sequence of Tensor
        One ``[n, d_m]`` tensor per modality (on the module's device).
    y : Tensor
        Targets as the objective expects them.
    sample_weight : Tensor
        ``[n]`` per-sample weights.
    present : Tensor, optional
        ``[n, M]`` bool, which modalities each sample has (all when None).
    max_steps : int
        Most optimiser steps (at least 1).
    lr : float, default=LEARNING_RATE
        AdamW's learning rate (``LEARNING_RATE`` is this module's constant).
    weight_decay : float, default=0.0
        AdamW's weight decay.
    batch_size : int, default=1024
        Rows per batch of the experts' single evaluation (memory only; the
        optimisation uses every row at every step).

    Returns
    -------
    list of float
        The objective at every step, before it.

    Raises
    ------
    TypeError
        When ``module`` is not a structured mixture (see :func:`refinable`).
    ValueError
        For ``max_steps`` below 1.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StructuredInteractionMoE
    >>> from sk_i2moe.nn.refine import fit_reweighting
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> xs, y = [torch.randn(64, 5), torch.randn(64, 3)], torch.randint(0, 2, (64,))
    >>> model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
    >>> objective = model.Objective(torch.nn.CrossEntropyLoss(reduction="none"))
    >>> losses = fit_reweighting(model, objective, xs, y, torch.ones(64), max_steps=50, lr=1e-2)
    >>> losses[-1] < losses[0]
    True
    """
    if not refinable(module):
        raise TypeError(
            f"fit_reweighting trains the weights of a structured mixture, whose experts "
            f"do not learn through the weights; got {type(module).__name__}."
        )
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1; got {max_steps}.")
    members = mixtures_of(module)
    member_objective = objective.member if isinstance(objective, EnsembleObjective) else objective
    module.eval()
    passes = _expert_passes(members, inputs, present, batch_size)
    params = [p for member in members for p in member.reweighting_parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    best, since_best = float("inf"), 0
    with torch.enable_grad():
        for _ in range(max_steps):
            optimizer.zero_grad()
            total = torch.stack(
                [
                    member_objective(member.mix(p, with_missing=True), y, sample_weight)[0]
                    for member, p in zip(members, passes)
                ]
            ).mean()
            total.backward()
            optimizer.step()
            losses.append(total.item())
            if losses[-1] < best - TOLERANCE:
                best, since_best = losses[-1], 0
            else:
                since_best += 1
                if since_best >= PATIENCE:
                    break
    return losses

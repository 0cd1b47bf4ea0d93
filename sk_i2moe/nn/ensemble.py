"""An ensemble of independently initialised mixtures trained side by side.

The interaction weights of one trained mixture depend on its random
initialisation: two fits on the same small data set can lean on different
experts, and an interval over held-out samples says nothing about that.
:class:`MixtureEnsemble` holds ``n_members`` mixtures of one kind, each
initialised from its own draw of the random generator and trained on the
same batches by the sum of their objectives (:class:`EnsembleObjective`), so
that one skorch net, one optimiser and one model file hold them all. Its
output averages the members (their logits, weights and expert outputs) and
keeps every member's weights and expert outputs (``member_weights``,
``member_expert_logits``): the spread of the weights is the
training-randomness part of the interaction report's intervals, and the
members' products ``weight * output`` are the experts' contributions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from .models import MixtureOfInteractionExperts, MixtureOutput

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)


@dataclasses.dataclass(frozen=True)
class EnsembleOutput(MixtureOutput):
    """What :class:`MixtureEnsemble` returns.

    Attributes
    ----------
    logits : Tensor
        ``[B, C]`` mean of the members' mixture outputs.
    weights : Tensor
        ``[B, E]`` mean of the members' interaction weights (rows sum to 1).
    expert_logits : Tensor
        ``[B, E, C]`` the mean of the members' outputs of each expert. Each
        member's expert sees only the inputs its kind allows, and so does
        this mean (a uniqueness expert's output depends on its modality
        only). ``sum_e weights[:, e] * expert_logits[:, e]`` is *not*
        ``logits`` in general: the experts' contributions are the members'
        mean of ``weight * output`` (:func:`member_contributions`).
    gate_loss, present, available
        As in :class:`~sk_i2moe.nn.MixtureOutput` (``gate_loss`` the members'
        mean).
    member_weights : Tensor
        ``[B, K, E]`` every member's interaction weights.
    member_expert_logits : Tensor
        ``[B, K, E, C]`` every member's expert outputs.
    members : tuple of MixtureOutput
        The members' own outputs in training mode, which
        :class:`EnsembleObjective` scores; empty in evaluation mode.
    """

    member_weights: torch.Tensor | None = None
    member_expert_logits: torch.Tensor | None = None
    members: tuple = ()


def combine_members(outputs: Sequence[MixtureOutput]) -> dict[str, torch.Tensor]:
    """Average the members' outputs, keeping each member's weights and expert outputs.

    Parameters
    ----------
    outputs : sequence of MixtureOutput
        One per member, on the same batch.

    Returns
    -------
    dict of str to Tensor
        ``logits``, ``weights``, ``expert_logits``, ``member_weights`` and
        ``member_expert_logits`` as documented in :class:`EnsembleOutput`.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import MixtureOutput
    >>> from sk_i2moe.nn.ensemble import combine_members
    >>> t = torch.tensor
    >>> a = MixtureOutput(t([[2.0]]), t([[1.0, 0.0]]), t([[[2.0], [9.0]]]))
    >>> b = MixtureOutput(t([[4.0]]), t([[0.5, 0.5]]), t([[[0.0], [8.0]]]))
    >>> out = combine_members([a, b])
    >>> out["logits"].item(), out["weights"].tolist(), out["expert_logits"][0, :, 0].tolist()
    (3.0, [[0.75, 0.25]], [1.0, 8.5])
    """
    weights = torch.stack([o.weights.float() for o in outputs], dim=1)  # [B, K, E]
    experts = torch.stack([o.expert_logits.float() for o in outputs], dim=1)  # [B, K, E, C]
    return {
        "logits": torch.stack([o.logits.float() for o in outputs]).mean(0),
        "weights": weights.mean(1),
        "expert_logits": experts.mean(1),
        "member_weights": weights,
        "member_expert_logits": experts,
    }


def member_contributions(member_weights: ArrayLike, member_outputs: ArrayLike) -> ArrayLike:
    """The experts' contributions to an ensemble's output.

    Each member's output is ``sum_e w[k, e] * o[k, e]`` and the ensemble's
    the members' mean, so expert ``e`` contributes ``mean_k w[k, e] *
    o[k, e]``; summed over the experts this is the ensemble's output.

    Parameters
    ----------
    member_weights : ndarray or Tensor of shape (n, K, E)
        Every member's interaction weights.
    member_outputs : ndarray or Tensor of shape (n, K, E, C)
        Every member's expert outputs.

    Returns
    -------
    ndarray or Tensor of shape (n, E, C)

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.nn.ensemble import member_contributions
    >>> w = np.array([[[1.0, 0.0], [0.5, 0.5]]])
    >>> o = np.array([[[[2.0], [9.0]], [[0.0], [8.0]]]])
    >>> member_contributions(w, o)[0, :, 0].tolist(), member_contributions(w, o).sum(1).item()
    ([1.0, 2.0], 3.0)
    """
    return (member_weights[..., None] * member_outputs).mean(1)


class MixtureEnsemble(nn.Module):
    """``n_members`` mixtures of one kind, trained together and averaged.

    Each member is built with the same options and initialised from its own
    draw of the random generator; all see the same batches. In training mode
    the output carries every member's output, and the objective is the mean
    of the members' objectives, so each member learns as it would alone.

    Parameters
    ----------
    member : type
        The kind of mixture, a
        :class:`~sk_i2moe.nn.MixtureOfInteractionExperts` subclass.
    n_members : int
        Number of members (at least 1).
    **options
        The member's constructor arguments (``n_features``, ``n_outputs``,
        ...).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StructuredInteractionMoE
    >>> from sk_i2moe.nn.ensemble import MixtureEnsemble
    >>> model = MixtureEnsemble(StructuredInteractionMoE, 3, n_features=[5, 3], n_outputs=2)
    >>> out = model.eval()([torch.randn(4, 5), torch.randn(4, 3)])
    >>> out.member_weights.shape, model.expert_names(["a", "b"])[-1]
    (torch.Size([4, 3, 4]), 'redundancy')
    """

    def __init__(
        self, member: type[MixtureOfInteractionExperts], n_members: int, **options: object
    ) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"n_members must be at least 1; got {n_members}.")
        self.members = nn.ModuleList(member(**options) for _ in range(n_members))
        self.names_by_construction = member.names_by_construction

    def expert_names(self, modality_names: Sequence[str]) -> list[str]:
        """The members' expert names (see :meth:`MixtureOfInteractionExperts.expert_names`)."""
        return self.members[0].expert_names(modality_names)

    def available_experts(self, present: torch.Tensor | None) -> torch.Tensor | None:
        """Which experts each sample can use (as for each member)."""
        return self.members[0].available_experts(present)

    def forward(
        self, xs: Sequence[torch.Tensor], present: torch.Tensor | None = None
    ) -> EnsembleOutput:
        """Run every member on the batch and average them.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality.
        present : Tensor, optional
            ``[B, M]`` bool, which modalities each sample has.

        Returns
        -------
        EnsembleOutput
        """
        outputs = [member(xs, present) for member in self.members]
        gates = [o.gate_loss for o in outputs if o.gate_loss is not None]
        return EnsembleOutput(
            **combine_members(outputs),
            gate_loss=torch.stack(gates).mean() if gates else None,
            present=outputs[0].present,
            available=outputs[0].available,
            members=tuple(outputs) if self.training else (),
        )


class EnsembleObjective(nn.Module):
    """The mean of the members' objectives, part by part.

    Parameters
    ----------
    member : type
        The members' objective class (``model.Objective`` of the kind).
    **options
        Its constructor arguments (``task_loss``, the loss weights).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StructuredInteractionMoE
    >>> from sk_i2moe.nn.ensemble import EnsembleObjective, MixtureEnsemble
    >>> model = MixtureEnsemble(StructuredInteractionMoE, 2, n_features=[5, 3], n_outputs=2)
    >>> task_loss = torch.nn.CrossEntropyLoss(reduction="none")
    >>> objective = EnsembleObjective(StructuredInteractionMoE.Objective, task_loss=task_loss)
    >>> xs, y = [torch.randn(8, 5), torch.randn(8, 3)], torch.randint(0, 2, (8,))
    >>> total, parts = objective(model(xs), y)
    >>> list(parts)
    ['task_loss', 'expert_loss', 'missing_modality_loss', 'modality_loss']
    """

    def __init__(self, member: type[nn.Module], **options: object) -> None:
        super().__init__()
        self.member = member(**options)

    def weighted_task_loss(
        self, logits: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor
    ) -> torch.Tensor:
        """The members' task loss of ``logits`` (the validation loss of the ensemble)."""
        return self.member.weighted_task_loss(logits, y, sample_weight)

    def forward(
        self, output: EnsembleOutput, y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean total loss of the members and the mean of each named part.

        Parameters
        ----------
        output : EnsembleOutput
            The ensemble's training-mode output.
        y : Tensor
            Targets.
        sample_weight : Tensor, optional
            ``[B]`` per-sample weights.

        Returns
        -------
        total : Tensor
        parts : dict of str to Tensor
        """
        if not output.members:
            raise ValueError(
                "EnsembleObjective scores the members' outputs, which the ensemble returns "
                "in training mode only; call model.train() before computing the loss."
            )
        scored = [self.member(o, y, sample_weight) for o in output.members]
        total = torch.stack([t for t, _ in scored]).mean()
        names = scored[0][1]
        parts = {name: torch.stack([p[name] for _, p in scored]).mean() for name in names}
        return total, parts

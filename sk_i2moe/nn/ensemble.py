"""An ensemble of independently initialised mixtures trained side by side.

The interaction weights of one trained mixture depend on its random
initialisation: two fits on the same small data set can lean on different
experts, and an interval over held-out samples says nothing about that.
:class:`MixtureEnsemble` holds ``n_members`` mixtures of one kind, each
initialised from its own draw of the random generator and trained on the
same batches by the sum of their objectives (:class:`EnsembleObjective`), so
that one skorch net, one optimiser and one model file hold them all. Its
output averages the members (their logits, weights and, weighted by those
weights, expert outputs) and keeps every member's weights
(``member_weights``), whose spread the interaction report turns into the
training-randomness part of its intervals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from .models import MixtureOfInteractionExperts, MixtureOutput


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
        ``[B, E, C]`` each expert's output as the ensemble uses it: the
        members' outputs of that expert averaged with the members' weights on
        it (a plain mean where every member gives it weight 0), so that
        ``sum_e weights[:, e] * expert_logits[:, e] == logits``.
    gate_loss, present, available
        As in :class:`~sk_i2moe.nn.MixtureOutput` (``gate_loss`` the members'
        mean).
    member_weights : Tensor
        ``[B, K, E]`` every member's interaction weights.
    members : tuple of MixtureOutput
        The members' own outputs in training mode, which
        :class:`EnsembleObjective` scores; empty in evaluation mode.
    """

    member_weights: torch.Tensor | None = None
    members: tuple = ()


def combine_members(outputs: Sequence[MixtureOutput]) -> dict[str, torch.Tensor]:
    """Average member outputs so that contributions still add up to the output.

    Parameters
    ----------
    outputs : sequence of MixtureOutput
        One per member, on the same batch.

    Returns
    -------
    dict of str to Tensor
        ``logits``, ``weights``, ``expert_logits`` and ``member_weights`` as
        documented in :class:`EnsembleOutput`.

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
    (3.0, [[0.75, 0.25]], [1.3333333730697632, 8.0])
    """
    weights = torch.stack([o.weights.float() for o in outputs], dim=1)  # [B, K, E]
    experts = torch.stack([o.expert_logits.float() for o in outputs], dim=1)  # [B, K, E, C]
    total = weights.sum(1, keepdim=True)  # [B, 1, E]
    share = torch.where(total > 0, weights / total.clamp_min(1e-30), 1.0 / len(outputs))
    return {
        "logits": torch.stack([o.logits.float() for o in outputs]).mean(0),
        "weights": weights.mean(1),
        "expert_logits": torch.einsum("bke,bkec->bec", share, experts),
        "member_weights": weights,
    }


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

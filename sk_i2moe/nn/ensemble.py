"""An ensemble of independently initialised mixtures trained side by side.

The interaction weights of one trained mixture depend on its random
initialisation: two fits on the same small data set can lean on different
experts, and an interval over held-out samples says nothing about that.
:class:`MixtureEnsemble` holds ``n_members`` mixtures of one kind, each
initialised from its own draw of the random generator and trained by the
sum of their objectives (:class:`EnsembleObjective`), so that one skorch net,
one optimiser and one model file hold them all; a training batch gives each
member its own block of rows, so that each also sees the data in its own
order (as a fit with another seed would). Its
output averages the members (their logits, weights and expert outputs) and
keeps every member's weights and expert outputs (``member_weights``,
``member_expert_logits``): the spread of the weights is the
training-randomness part of the interaction report's intervals, and the
members' products ``weight * output`` are the experts' contributions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from ._dtypes import at_least_float32
from .models import MixtureOfInteractionExperts, MixtureOutput

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)


@dataclasses.dataclass(frozen=True, eq=False)
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
    streams : int
        1 when every member ran on the whole batch. ``K`` when member ``k``
        ran on block ``k`` of ``K`` equal blocks of rows (``streams=K`` in
        :meth:`MixtureEnsemble.forward`): ``logits``, ``weights`` and
        ``expert_logits`` are then each row's output from the member that
        ran on it, and the ``member_*`` fields are None.
    """

    member_weights: torch.Tensor | None = None
    member_expert_logits: torch.Tensor | None = None
    members: tuple = ()
    streams: int = 1


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
    weights = torch.stack([at_least_float32(o.weights) for o in outputs], dim=1)  # [B, K, E]
    experts = torch.stack(
        [at_least_float32(o.expert_logits) for o in outputs], dim=1
    )  # [B, K, E, C]
    return {
        "logits": torch.stack([at_least_float32(o.logits) for o in outputs]).mean(0),
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


def _joined(values: Sequence[torch.Tensor | None], streams: int) -> torch.Tensor | None:
    """The members' per-row masks: the first's (shared rows) or all, in block order."""
    if values[0] is None:
        return None
    return values[0] if streams == 1 else torch.cat(list(values))


class MixtureEnsemble(nn.Module):
    """``n_members`` mixtures of one kind, trained together and averaged.

    Each member is built with the same options and initialised from its own
    draw of the random generator. A batch of ``K`` blocks of rows
    (``streams=K``, from :class:`~sk_i2moe._data.BatchLoader`) gives member
    ``k`` block ``k``, so that each member also sees the data in its own
    order; otherwise every member runs on the whole batch. In training mode
    the output carries every member's output, and the objective is the mean
    of the members' objectives, so each member learns as it would alone.
    Where the members can (their
    :attr:`~sk_i2moe.nn.MixtureOfInteractionExperts.vmappable`,
    true for the structured mixture with the default backbone), training
    runs them as one more batched axis through :func:`torch.func.vmap`: one
    pass of the network's operations for all members instead of one per
    member. Each member computes what it would alone, its own dropout masks
    included; evaluation runs the members one by one.

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
        self,
        xs: Sequence[torch.Tensor],
        present: torch.Tensor | None = None,
        streams: int = 1,
        measured: torch.Tensor | None = None,
    ) -> EnsembleOutput:
        """Run every member on the batch (or on its own block of it) and average them.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality.
        present : Tensor, optional
            ``[B, M]`` bool, which modalities each sample has.
        streams : int, default=1
            1, or the number of members: the batch is that many equal blocks
            of rows and member ``k`` runs on block ``k`` only.
        measured : Tensor, optional
            ``[B, M]`` bool, which modalities each sample really has where
            ``present`` also drops some in training (``modality_dropout``);
            handed to the members as it is.

        Returns
        -------
        EnsembleOutput

        Raises
        ------
        ValueError
            If ``streams`` is neither 1 nor the number of members, or the
            batch does not split into that many equal blocks.
        """
        if streams != 1:
            self._check_streams(xs[0].shape[0], streams)
        # the masks go to the members by name (the paper's mixture takes ``reference`` second)
        masks = {
            name: mask
            for name, mask in (("present", present), ("measured", measured))
            if mask is not None
        }
        if self.training and len(self.members) > 1 and self.members[0].vmappable:
            outputs = self._vmapped(xs, masks, streams)
        elif streams == 1:
            outputs = [member(xs, **masks) for member in self.members]
        else:
            outputs = [
                member(block, **own)
                for member, (block, own) in zip(self.members, self._blocks(xs, masks, streams))
            ]
        if streams == 1:
            combined = combine_members(outputs)
        else:
            combined = {
                name: torch.cat([at_least_float32(getattr(o, name)) for o in outputs])
                for name in ("logits", "weights", "expert_logits")
            }
        gates = [o.gate_loss for o in outputs if o.gate_loss is not None]
        return EnsembleOutput(
            **combined,
            gate_loss=torch.stack(gates).mean() if gates else None,
            present=_joined([o.present for o in outputs], streams),
            available=_joined([o.available for o in outputs], streams),
            members=tuple(outputs) if self.training else (),
            streams=streams,
        )

    def _check_streams(self, rows: int, streams: int) -> None:
        """Raise unless ``streams`` gives every member an equal block of ``rows``."""
        if streams != len(self.members) or rows % streams:
            raise ValueError(
                f"A batch of {rows} rows in {streams} streams does not give each of the "
                f"{len(self.members)} members an equal block; streams must be 1 or the number "
                "of members, and the rows a multiple of it."
            )

    def _vmapped(
        self, xs: Sequence[torch.Tensor], masks: dict[str, torch.Tensor], streams: int
    ) -> list[MixtureOutput]:
        """Every member's training output from one pass with the members as a batched axis.

        The members' parameters and buffers are stacked (gradients flow back
        to each member's own) and :func:`torch.func.vmap` runs the first
        member's forward with each member's in turn; dropout draws its own
        masks per member (``randomness="different"``). Training only:
        :func:`torch.func.functional_call` swaps the first member's tensors
        for the call, which concurrent predictions on one fitted model must
        not see, so evaluation runs the members one by one.
        """
        template = self.members[0]
        stacked = [
            self._stacked(named) for named in (nn.Module.named_parameters, nn.Module.named_buffers)
        ]
        if streams == 1:
            inputs, dim = list(xs), None
        else:
            inputs = [x.unflatten(0, (streams, -1)) for x in xs]
            masks = {name: mask.unflatten(0, (streams, -1)) for name, mask in masks.items()}
            dim = 0
        absent: dict[str, object] = {}

        def run(params: dict, buffers: dict, inputs: list, masks: dict) -> dict:
            out = torch.func.functional_call(template, (params, buffers), (inputs,), masks)
            fields = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
            absent["kind"] = type(out)
            absent["none"] = [name for name, value in fields.items() if value is None]
            return {name: value for name, value in fields.items() if value is not None}

        batched = torch.func.vmap(run, in_dims=(0, 0, dim, dim), randomness="different")(
            *stacked, inputs, masks
        )
        kind, none = absent["kind"], dict.fromkeys(absent["none"])
        # one unbind per field (its backward is one stack), not one index per member and field
        per_member = {name: value.unbind(0) for name, value in batched.items()}
        return [
            kind(**{name: values[k] for name, values in per_member.items()}, **none)
            for k in range(len(self.members))
        ]

    def _stacked(self, named: Callable) -> dict[str, torch.Tensor]:
        """The members' tensors that ``named`` lists (parameters or buffers), stacked by name."""
        per_member = [dict(named(member)) for member in self.members]
        return {name: torch.stack([own[name] for own in per_member]) for name in per_member[0]}

    def _blocks(
        self, xs: Sequence[torch.Tensor], masks: dict[str, torch.Tensor], streams: int
    ) -> list[tuple[list[torch.Tensor], dict[str, torch.Tensor]]]:
        """The batch's ``streams`` blocks of rows: per member, its inputs and its masks."""
        blocks = [list(block) for block in zip(*(x.chunk(streams) for x in xs))]
        chunks = {name: mask.chunk(streams) for name, mask in masks.items()}
        return [
            (block, {name: own[k] for name, own in chunks.items()})
            for k, block in enumerate(blocks)
        ]


def mixtures_of(module: nn.Module) -> list[nn.Module]:
    """The mixtures in ``module``: an ensemble's members, or ``[module]`` for one mixture.

    Parameters
    ----------
    module : Module
        A :class:`MixtureEnsemble` or a single mixture.

    Returns
    -------
    list of Module
    """
    return list(module.members) if isinstance(module, MixtureEnsemble) else [module]


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

    def sample_task_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The members' task loss of each sample of ``logits``, ``[B]``."""
        return self.member.sample_task_loss(logits, y)

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
        if output.streams == 1:
            scored = [self.member(o, y, sample_weight) for o in output.members]
        else:  # member k ran on block k of the rows
            weights = (
                [None] * output.streams
                if sample_weight is None
                else sample_weight.chunk(output.streams)
            )
            scored = [
                self.member(o, y_k, w_k)
                for o, y_k, w_k in zip(output.members, y.chunk(output.streams), weights)
            ]
        total = torch.stack([t for t, _ in scored]).mean()
        names = scored[0][1]
        parts = {name: torch.stack([p[name] for _, p in scored]).mean() for name in names}
        return total, parts

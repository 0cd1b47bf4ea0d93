"""The training objectives: every loss term and its weight, in one place.

A model's forward pass returns outputs only; an objective turns them, the
target and per-sample weights into the total loss and a dict of its named
parts. There is one objective per kind of mixture (its model class names it
as ``model.Objective``):

- :class:`InteractionObjective` for :class:`~sk_i2moe.nn.InteractionMoE` (the
  paper's): task + ``expert_loss_weight`` x expert + ``interaction_loss_weight``
  x interaction + ``gate_loss_weight`` x gate.
- :class:`StructuredObjective` for :class:`~sk_i2moe.nn.StructuredInteractionMoE`:
  task + ``expert_loss_weight`` x expert + ``missing_modality_loss_weight``
  x missing-modality +
  ``interaction_loss_weight`` x single-modality + ``gate_loss_weight`` x gate.

The terms:

``task_loss``
    Sample-weighted mean of the task criterion (built with
    ``reduction="none"``) on the mixture's output; for a 2-D per-sample loss
    (multi-label, multi-output) the mean over outputs first.
``expert_loss``
    The same on every expert's own output, averaged over experts (only when
    ``expert_loss_weight > 0``).
``interaction_loss``
    Mean of :func:`interaction_terms` over the experts' outputs on the clean
    and perturbed inputs, each term's mean over the samples weighted by the
    sample weights (training mode only).
``modality_loss``
    The task loss of the redundancy expert's output from each modality alone,
    averaged over modalities (structured mixture, training mode only).
``missing_modality_loss``
    The task loss of the mixture with each modality missing in turn
    (structured mixture, training mode only).
``gate_loss``
    The load-balancing loss of a sparse mixture-of-experts backbone, when the
    backbone returns one.

Interaction terms, for one expert with clean output ``a`` and output ``p_j``
with modality ``j`` replaced, with ``distance="cosine"`` (classification,
the paper's): uniqueness expert ``i``: triplet margin loss (L2) with negative
``p_i``, averaged over the positives ``p_j``, ``j != i``; synergy
``mean_j cos(a, p_j)``; redundancy ``mean_j 1 - cos(a, p_j)``. With
``distance="euclidean"`` (regression, where one output makes cosine
meaningless) synergy is ``mean_j relu(margin - ||a - p_j||)`` (pushes the
outputs at least ``margin`` apart, bounded below by 0) and redundancy
``mean_j ||a - p_j||^2``. The paper's public code pulls the outputs together
in its regression synergy term, the opposite of what synergy means; see the
list of differences in the documentation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ._defaults import DEFAULTS
from ._dtypes import at_least_float32
from .experts import n_uniqueness_experts

__all__ = [
    "DISTANCES",
    "InteractionObjective",
    "MixtureObjective",
    "StructuredObjective",
    "interaction_loss",
    "interaction_terms",
]

DISTANCES = ("cosine", "euclidean")
_DISTANCE_EPS = 1e-6  # as in torch.nn.functional.pairwise_distance


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"Unknown distance {distance!r}; expected one of {list(DISTANCES)}.")


def _l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise L2 distance over the last axis, ``||a - b + eps||`` like torch."""
    return torch.linalg.vector_norm(a - b + _DISTANCE_EPS, dim=-1)


def _batch_mean(values: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Mean over the last (batch) axis, weighted by ``sample_weight`` ``[B]`` when given.

    0 for a batch whose weights are all 0 (it has nothing to learn from). The task
    loss and the interaction terms take their weighted means here.
    """
    if sample_weight is None:
        return values.mean(-1)
    total = sample_weight.sum().clamp_min(torch.finfo(sample_weight.dtype).tiny)
    return (values * sample_weight).sum(-1) / total


def _uniqueness_terms(
    anchors: torch.Tensor,
    perturbed: torch.Tensor,
    modalities: torch.Tensor,
    margin: float,
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Uniqueness terms of ``U`` experts at once.

    ``anchors`` ``[U, B, C]``; ``perturbed`` ``[U, K, B, C]``, variant ``k``
    with modality ``modalities[k]`` replaced; expert ``u`` is the uniqueness
    expert of modality ``u``. Returns the terms of the experts whose modality
    is among ``modalities`` (the others have no negative), in expert order,
    each a mean over the samples (weighted by ``sample_weight`` when given).
    """
    n_experts, n_variants, batch = perturbed.shape[:3]
    dist = _l2(anchors.unsqueeze(1), perturbed)  # [U, K, B]
    experts = torch.arange(n_experts, device=anchors.device)
    is_negative = experts.unsqueeze(1) == modalities.unsqueeze(0)  # [U, K]
    negative = (dist * is_negative.unsqueeze(-1)).sum(1)  # [U, B]
    hinge = F.relu(dist - negative.unsqueeze(1) + margin) * (~is_negative).unsqueeze(-1)
    if sample_weight is None:
        terms = hinge.sum((1, 2)) / ((n_variants - 1) * batch)
    else:
        terms = _batch_mean(hinge.sum(1) / (n_variants - 1), sample_weight)
    return terms[is_negative.any(1)]


def interaction_terms(
    outputs: torch.Tensor,
    margin: float = 1.0,
    *,
    modalities: torch.Tensor | Sequence[int] | None = None,
    distance: str = "cosine",
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every expert's interaction term, vectorised over experts.

    Parameters
    ----------
    outputs : Tensor
        ``[E, K + 1, B, C]`` outputs (logits or latent vectors) of the experts
        on the clean input (variant 0) and with modality ``modalities[k]``
        replaced (variant ``k + 1``). The experts are ``E - 2`` uniqueness
        experts of modalities ``0 .. E - 3`` (none when ``E == 2``), then the
        synergy and the redundancy expert.
    margin : float, default=1.0
        Triplet margin of the uniqueness terms, and the euclidean synergy
        hinge's margin.
    modalities : Tensor or sequence of int, optional
        Which modality each perturbed variant replaced (default
        ``0 .. K - 1``, all modalities in order).
    distance : {"cosine", "euclidean"}, default="cosine"
        Synergy / redundancy family, see the module docstring.
    sample_weight : Tensor, optional
        ``[B]`` non-negative weights of the samples in each term's mean over
        the batch (equal weights when None); a sample of weight 0 does not
        enter the terms.

    Returns
    -------
    Tensor
        The defined terms, in expert order: the uniqueness terms of the
        experts whose modality was perturbed (none when ``K < 2``: there is no
        positive), then synergy and redundancy. With all ``M`` modalities
        perturbed and ``M >= 2`` this is ``[E]``.

    Raises
    ------
    ValueError
        For fewer than two experts (``E < 2``) or an unknown ``distance``.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import interaction_terms
    >>> outputs = torch.randn(5, 4, 8, 2)  # 3 + 2 experts; clean + 3 perturbed variants; 8 samples
    >>> interaction_terms(outputs).shape  # uniqueness[0..2], synergy, redundancy
    torch.Size([5])
    >>> same = torch.ones(2, 3, 4, 2)  # synergy and redundancy; removing a modality changes nothing
    >>> interaction_terms(same).round(decimals=4)  # synergy at its maximum, redundancy at 0
    tensor([1., 0.])
    """
    _check_distance(distance)
    n_experts, n_perturbed = outputs.shape[0], outputs.shape[1] - 1
    if n_experts < 2:
        raise ValueError(
            f"Interaction terms need the synergy and redundancy experts; E={n_experts}."
        )
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    if distance == "cosine":
        cos = F.cosine_similarity(anchors[-2:].unsqueeze(1), perturbed[-2:], dim=-1)  # [2, K, B]
        per_sample = torch.stack((cos[0], 1.0 - cos[1]))
    else:
        apart = F.relu(margin - _l2(anchors[-2].unsqueeze(0), perturbed[-2]))
        moved = (anchors[-1].unsqueeze(0) - perturbed[-1]).square().sum(-1)
        per_sample = torch.stack((apart, moved))  # [2, K, B]
    if sample_weight is None:
        pair = per_sample.mean((1, 2))
    else:
        pair = _batch_mean(per_sample.mean(1), sample_weight)
    n_unique = n_uniqueness_experts(n_experts)
    if n_unique == 0 or n_perturbed < 2:
        return pair
    if modalities is None:
        modalities = torch.arange(n_perturbed, device=outputs.device)
    else:
        modalities = torch.as_tensor(modalities, device=outputs.device, dtype=torch.long)
    unique = _uniqueness_terms(
        anchors[:n_unique], perturbed[:n_unique], modalities, margin, sample_weight
    )
    return torch.cat((unique, pair))


def interaction_loss(
    outputs: torch.Tensor,
    margin: float = 1.0,
    *,
    modalities: torch.Tensor | Sequence[int] | None = None,
    distance: str = "cosine",
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of :func:`interaction_terms` (the I2MoE interaction loss).

    Parameters
    ----------
    outputs : Tensor
        ``[E, K + 1, B, C]``, see :func:`interaction_terms`.
    margin : float, default=1.0
        Triplet (and euclidean synergy) margin.
    modalities : Tensor or sequence of int, optional
        Modality replaced in each perturbed variant.
    distance : {"cosine", "euclidean"}, default="cosine"
        Synergy / redundancy family.
    sample_weight : Tensor, optional
        ``[B]`` weights of the samples in each term (see :func:`interaction_terms`).

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import interaction_loss
    >>> outputs = torch.randn(5, 4, 8, 2)  # 3 + 2 experts; clean + 3 perturbed variants; 8 samples
    >>> interaction_loss(outputs).shape
    torch.Size([])
    """
    return interaction_terms(
        outputs, margin, modalities=modalities, distance=distance, sample_weight=sample_weight
    ).mean()


class MixtureObjective(nn.Module):
    """Terms every kind of mixture shares: task, expert and gate losses.

    Parameters
    ----------
    task_loss : torch.nn.Module
        Per-sample task criterion built with ``reduction="none"``, e.g.
        ``torch.nn.CrossEntropyLoss(reduction="none")``.
    interaction_loss_weight : float, default=0.5
        Weight of the kind's interaction term (see the subclasses).
    expert_loss_weight : float, default=1.0
        Weight of the experts' own task losses; 0 leaves the term out.
    gate_loss_weight : float, default=0.01
        Weight of a sparse backbone's load-balancing loss.
    """

    def __init__(
        self,
        task_loss: nn.Module,
        *,
        interaction_loss_weight: float = DEFAULTS["interaction_loss_weight"],
        expert_loss_weight: float = DEFAULTS["expert_loss_weight"],
        gate_loss_weight: float = DEFAULTS["gate_loss_weight"],
    ) -> None:
        super().__init__()
        if getattr(task_loss, "reduction", "none") != "none":
            raise ValueError(
                f"task_loss must return one loss per sample; got reduction="
                f"{task_loss.reduction!r}. Build it with reduction='none'."
            )
        self.task_loss = task_loss
        self.interaction_loss_weight = interaction_loss_weight
        self.expert_loss_weight = expert_loss_weight
        self.gate_loss_weight = gate_loss_weight

    def weighted_task_loss(
        self, logits: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor
    ) -> torch.Tensor:
        """Sample-weighted mean of the task criterion.

        Parameters
        ----------
        logits : Tensor
            ``[B, C]`` outputs (computed in float32 at least: float64 stays float64).
        y : Tensor
            Targets as the criterion expects them.
        sample_weight : Tensor
            ``[B]`` non-negative weights.

        Returns
        -------
        Tensor
            Scalar loss; 0 for a batch whose weights are all 0 (it has nothing
            to learn from, e.g. a mini-batch of rows weighted 0).
        """
        return _batch_mean(self.sample_task_loss(logits, y), sample_weight)

    def sample_task_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task criterion of each sample, ``[B]`` (a multi-output loss: its mean).

        Parameters
        ----------
        logits : Tensor
            ``[B, C]`` outputs (computed in float32 at least: float64 stays float64).
        y : Tensor
            Targets as the criterion expects them.

        Returns
        -------
        Tensor
            ``[B]`` losses, unweighted.
        """
        per_sample = self.task_loss(at_least_float32(logits), y)
        if per_sample.dim() > 1:
            per_sample = per_sample.flatten(1).mean(1)
        return per_sample

    def folded_task_loss(
        self,
        logits: torch.Tensor,
        y: torch.Tensor,
        sample_weight: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Task loss of ``[B, K, C]`` outputs, each of the ``K`` scored alone and averaged.

        ``mask`` (``[B, K]`` bool) leaves out the outputs it marks False, e.g.
        the uniqueness expert of a modality the sample lacks.
        """
        batch, n_scored, n_outputs = logits.shape
        weight = sample_weight.unsqueeze(1).expand(batch, n_scored)
        if mask is not None:
            weight = weight * mask.to(weight.dtype)
        return self.weighted_task_loss(
            logits.reshape(batch * n_scored, n_outputs),
            y.repeat_interleave(n_scored, dim=0),
            weight.reshape(-1),
        )

    def _kind_terms(
        self, output: object, y: torch.Tensor, sample_weight: torch.Tensor
    ) -> list[tuple[str, torch.Tensor, float]]:
        """``(name, value, weight)`` of the kind's own terms (none here)."""
        return []

    def forward(
        self, output: object, y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its named, unweighted parts.

        Parameters
        ----------
        output : MixtureOutput
            What the model returned for the batch.
        y : Tensor
            Targets.
        sample_weight : Tensor, optional
            ``[B]`` per-sample weights (ones when None).

        Returns
        -------
        total : Tensor
            Scalar training loss, the weighted sum of the parts.
        parts : dict of str to Tensor
            Every term that applies to this output, unweighted, in the order
            they are added (``task_loss`` first).
        """
        if sample_weight is None:
            sample_weight = torch.ones(y.shape[0], device=output.logits.device)
        task = self.weighted_task_loss(output.logits, y, sample_weight)
        terms = [("task_loss", task, 1.0)]
        if self.expert_loss_weight > 0:
            expert = self.folded_task_loss(output.expert_logits, y, sample_weight, output.available)
            terms.append(("expert_loss", expert, self.expert_loss_weight))
        terms += self._kind_terms(output, y, sample_weight)
        if output.gate_loss is not None:
            terms.append(("gate_loss", output.gate_loss, self.gate_loss_weight))
        total = task
        for _, value, weight in terms[1:]:
            total = total + weight * value
        return total, {name: value for name, value, _ in terms}


class InteractionObjective(MixtureObjective):
    """Objective of :class:`~sk_i2moe.nn.InteractionMoE` (the paper's).

    Adds ``interaction_loss_weight`` times :func:`interaction_loss` of the
    outputs on the clean and perturbed inputs, when the model returned them
    (training mode with perturbed passes).

    Parameters
    ----------
    task_loss : torch.nn.Module
        Per-sample task criterion (``reduction="none"``).
    interaction_loss_weight : float, default=0.5
        Weight of the interaction loss.
    expert_loss_weight : float, default=1.0
        Weight of the experts' own task losses (0: the paper's objective).
    gate_loss_weight : float, default=0.01
        Weight of a sparse backbone's load-balancing loss.
    distance : {"cosine", "euclidean"}, default="cosine"
        Synergy / redundancy family: cosine for classification, euclidean for
        regression.
    margin : float, default=1.0
        Triplet margin (and euclidean synergy margin).

    Examples
    --------
    A plain-torch training step:

    >>> import torch
    >>> from sk_i2moe.nn import InteractionMoE
    >>> model = InteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
    >>> objective = model.Objective(torch.nn.CrossEntropyLoss(reduction="none"))
    >>> optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    >>> xs, y = [torch.randn(8, 5), torch.randn(8, 3)], torch.randint(0, 2, (8,))
    >>> total, parts = objective(model(xs), y)
    >>> total.backward(); optimizer.step()
    >>> list(parts)
    ['task_loss', 'expert_loss', 'interaction_loss']
    """

    def __init__(
        self,
        task_loss: nn.Module,
        *,
        interaction_loss_weight: float = DEFAULTS["interaction_loss_weight"],
        expert_loss_weight: float = DEFAULTS["expert_loss_weight"],
        gate_loss_weight: float = DEFAULTS["gate_loss_weight"],
        distance: str = "cosine",
        margin: float = 1.0,
    ) -> None:
        super().__init__(
            task_loss,
            interaction_loss_weight=interaction_loss_weight,
            expert_loss_weight=expert_loss_weight,
            gate_loss_weight=gate_loss_weight,
        )
        _check_distance(distance)
        self.distance = distance
        self.margin = margin

    def _kind_terms(
        self, output: object, y: torch.Tensor, sample_weight: torch.Tensor
    ) -> list[tuple[str, torch.Tensor, float]]:
        if output.variant_outputs is None:
            return []
        # weighted as the task loss: a row of weight 0 does not train the mixture at all
        loss = interaction_loss(
            output.variant_outputs,
            self.margin,
            modalities=output.perturbed_modalities,
            distance=self.distance,
            sample_weight=sample_weight,
        )
        return [("interaction_loss", loss, self.interaction_loss_weight)]


class StructuredObjective(MixtureObjective):
    """Objective of :class:`~sk_i2moe.nn.StructuredInteractionMoE`.

    Adds, in training mode, ``missing_modality_loss_weight`` times the
    ``missing_modality_loss`` (the weights answer for the mixture with each
    modality missing in turn) and
    ``interaction_loss_weight`` times the ``modality_loss`` (the redundancy
    expert's task loss from each modality alone). The mixture's task loss
    trains the weights only (the model detaches the experts' outputs in the
    mixture), so the experts learn from ``expert_loss`` and the redundancy
    expert's single-modality outputs from ``modality_loss`` alone: both
    weights must be positive.

    Parameters
    ----------
    task_loss : torch.nn.Module
        Per-sample task criterion (``reduction="none"``).
    interaction_loss_weight : float, default=0.5
        Weight of the redundancy expert's single-modality task loss; must be > 0.
    expert_loss_weight : float, default=1.0
        Weight of the experts' own task losses; must be > 0.
    missing_modality_loss_weight : float, default=1.0
        Weight of the mixture's task loss with each modality missing in turn,
        the term that tells the weights which expert needs which modality;
        0 leaves it out.
    gate_loss_weight : float, default=0.01
        Weight of a sparse backbone's load-balancing loss.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StructuredInteractionMoE
    >>> model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
    >>> objective = model.Objective(torch.nn.CrossEntropyLoss(reduction="none"))
    >>> xs, y = [torch.randn(8, 5), torch.randn(8, 3)], torch.randint(0, 2, (8,))
    >>> list(objective(model(xs), y)[1])
    ['task_loss', 'expert_loss', 'missing_modality_loss', 'modality_loss']
    """

    def __init__(
        self,
        task_loss: nn.Module,
        *,
        interaction_loss_weight: float = DEFAULTS["interaction_loss_weight"],
        expert_loss_weight: float = DEFAULTS["expert_loss_weight"],
        missing_modality_loss_weight: float = DEFAULTS["missing_modality_loss_weight"],
        gate_loss_weight: float = DEFAULTS["gate_loss_weight"],
    ) -> None:
        self.check_weights(interaction_loss_weight, expert_loss_weight)
        super().__init__(
            task_loss,
            interaction_loss_weight=interaction_loss_weight,
            expert_loss_weight=expert_loss_weight,
            gate_loss_weight=gate_loss_weight,
        )
        self.missing_modality_loss_weight = missing_modality_loss_weight

    @staticmethod
    def check_weights(interaction_loss_weight: float, expert_loss_weight: float) -> None:
        """Refuse loss weights that would leave experts of the structured mixture untrained.

        Parameters
        ----------
        interaction_loss_weight : float
            Weight of the ``modality_loss``, the only loss that trains the
            redundancy expert's single-modality outputs.
        expert_loss_weight : float
            Weight of the experts' own task losses, the only loss that trains
            the experts (the mixture's loss trains the weights).

        Raises
        ------
        ValueError
            When either weight is not positive.
        """
        for name, value, trains in (
            ("expert_loss_weight", expert_loss_weight, "every expert on its own task loss"),
            (
                "interaction_loss_weight",
                interaction_loss_weight,
                "the redundancy expert's single-modality outputs on their own task loss "
                "(modality_loss)",
            ),
        ):
            if value <= 0:
                raise ValueError(
                    f"interaction_constraint='structure' trains {trains}, and nothing else "
                    f"trains them, so {name} must be > 0; got {name}={value}. Set it to "
                    f"{DEFAULTS[name]} (the default), or use interaction_constraint='loss' "
                    "(the paper's mixture)."
                )

    def _kind_terms(
        self, output: object, y: torch.Tensor, sample_weight: torch.Tensor
    ) -> list[tuple[str, torch.Tensor, float]]:
        if output.missing_logits is None:  # evaluation mode
            return []
        # a modality a sample lacks cannot go missing, nor predict alone
        present = output.present
        terms = []
        if self.missing_modality_loss_weight > 0:
            missing = self.folded_task_loss(output.missing_logits, y, sample_weight, present)
            terms.append(("missing_modality_loss", missing, self.missing_modality_loss_weight))
        modality = self.folded_task_loss(output.modality_logits, y, sample_weight, present)
        terms.append(("modality_loss", modality, self.interaction_loss_weight))
        return terms

"""The kinds of interaction mixture: encoders -> interaction experts -> reweighting -> output.

Every kind shares the modality encoders, the expert-batched fusion backbone
and the reweighting network (:class:`MixtureOfInteractionExperts`); a kind
differs in how its experts are made to be what their names say and in what
its forward pass returns for its objective (``Kind.Objective``, see
:mod:`sk_i2moe.nn.objective`):

- :class:`InteractionMoE`, the paper's: every expert sees every modality and
  the interaction loss, computed on the experts' outputs with each modality
  replaced by a reference, asks it to behave as its kind should.
- :class:`StructuredInteractionMoE`: the kinds are built into the experts (a
  uniqueness expert sees only its modality, the redundancy expert combines
  its single-modality predictions, the synergy expert's single-modality
  effects are subtracted).

A forward pass returns outputs only (a :class:`MixtureOutput` subclass); the
losses are the objective's.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ._defaults import DEFAULTS
from ._dtypes import at_least_float32
from .encoders import make_encoder
from .experts import (
    alone_from_variants,
    build_variants,
    n_uniqueness_experts,
    single_modality_variants,
)
from .fusion import make_fusion
from .objective import InteractionObjective, StructuredObjective

PERTURBATIONS = ("noise", "mean", "zero", "shuffle")
NOISE_SCALES = ("unit", "matched")
EXPERT_SETS = ("all", "synergy_redundancy", "single")
REWEIGHTINGS = ("mlp", "static")
LOSS_TARGETS = ("logits", "latent")
REDUNDANCY_RULES = ("agreement", "weighted_mean")


def _check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {list(choices)}.")


def _check_n_features(n_features: Sequence[int]) -> None:
    if len(n_features) == 0 or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in n_features
    ):
        raise ValueError(
            "n_features must list each modality's number of input features, at least one "
            f"modality and at least 1 feature each; got {list(n_features)}."
        )


@dataclasses.dataclass(frozen=True, eq=False)
class MixtureOutput:
    """What every kind of mixture returns for a batch.

    Attributes
    ----------
    logits : Tensor
        ``[B, C]`` mixture output, ``sum_e weights[:, e] * expert_logits[:, e]``.
    weights : Tensor
        ``[B, E]`` interaction weights (non-negative, rows sum to 1).
    expert_logits : Tensor
        ``[B, E, C]`` each expert's output on the clean input.
    gate_loss : Tensor or None
        Scalar load-balancing loss of a sparse mixture-of-experts backbone
        (``"switch"``, ``"moepp"``), part of the autograd graph; None for the
        other backbones.
    present : Tensor or None
        ``[B, M]`` bool, which modalities each sample has, as passed to the
        model; None when every sample has every modality.
    available : Tensor or None
        ``[B, E]`` bool, which experts can be used for each sample (see
        :meth:`MixtureOfInteractionExperts.available_experts`); their weights
        are 0 elsewhere. None with ``present``.
    """

    logits: torch.Tensor
    weights: torch.Tensor
    expert_logits: torch.Tensor
    gate_loss: torch.Tensor | None = None
    present: torch.Tensor | None = None
    available: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> MixtureOutput:
        """A copy with every tensor moved to ``device`` (what skorch calls on outputs)."""
        moved = {
            field.name: value.to(device)
            for field in dataclasses.fields(self)
            if isinstance(value := getattr(self, field.name), torch.Tensor)
        }
        return dataclasses.replace(self, **moved)


@dataclasses.dataclass(frozen=True, eq=False)
class MoEOutput(MixtureOutput):
    """What :class:`InteractionMoE` returns.

    Attributes
    ----------
    logits, weights, expert_logits, gate_loss, present, available
        As in :class:`MixtureOutput`.
    variant_outputs : Tensor or None
        ``[E, K + 1, B, D]`` in training mode with perturbed passes: every
        expert's output (``loss_on="logits"``) or pooled latent vector
        (``"latent"``) on the clean input (variant 0) and with modality
        ``perturbed_modalities[k]`` replaced (variant ``k + 1``); None in
        evaluation mode.
    perturbed_modalities : Tensor or None
        The modality each perturbed variant replaced when only a subset was
        drawn (``n_perturbed``); None when all ``M`` were, in order.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import InteractionMoE
    >>> model = InteractionMoE([5, 3], n_outputs=2, hidden_dim=16).eval()
    >>> out = model([torch.randn(8, 5), torch.randn(8, 3)])
    >>> out.variant_outputs is None, out.gate_loss is None
    (True, True)
    >>> torch.allclose(out.weights.sum(1), torch.ones(8))
    True
    """

    variant_outputs: torch.Tensor | None = None
    perturbed_modalities: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class StructuredMoEOutput(MixtureOutput):
    """What :class:`StructuredInteractionMoE` returns.

    Attributes
    ----------
    logits, weights, expert_logits, gate_loss, present, available
        As in :class:`MixtureOutput`; ``logits`` mixes the experts' detached
        outputs (plus the absent modalities' offsets,
        :meth:`StructuredInteractionMoE.absence_offsets`).
    modality_logits : Tensor or None
        ``[B, M, C]`` in training mode: the redundancy expert's output from
        each modality alone.
    missing_logits : Tensor or None
        ``[B, M, C]`` in training mode: the mixture, with the same weights,
        when modality ``m`` is missing and each expert keeps what its kind
        keeps (:func:`missing_modality_mixtures`).
    redundancy_weights : Tensor or None
        ``[B, M]`` with ``redundancy="weighted_mean"``: how much each
        modality's single-modality output counts in the redundancy expert's
        output (non-negative, at most one half each, rows sum to 1; see
        :func:`capped_softmax`); None with ``redundancy="agreement"``.
    """

    modality_logits: torch.Tensor | None = None
    missing_logits: torch.Tensor | None = None
    redundancy_weights: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class ExpertPass:
    """The part of a :class:`StructuredInteractionMoE` pass that the weights do not change.

    Attributes
    ----------
    pooled : Tensor
        ``[B, M * H]`` mean-pooled embeddings, the reweighting networks' input.
    present : Tensor or None
        ``[B, M]`` bool, which modalities each sample has (None: all).
    fixed_logits : Tensor
        ``[B, E - 1, C]`` the uniqueness experts' and the synergy expert's outputs.
    modality_logits : Tensor
        ``[B, M, C]`` the redundancy expert's output from each modality alone.
    gate_loss : Tensor or None
        A sparse backbone's load-balancing loss.
    """

    pooled: torch.Tensor
    present: torch.Tensor | None
    fixed_logits: torch.Tensor
    modality_logits: torch.Tensor
    gate_loss: torch.Tensor | None

    @classmethod
    def concat(cls, parts: Sequence[ExpertPass]) -> ExpertPass:
        """One pass from the passes of consecutive batches (without ``gate_loss``).

        Every part has a ``present`` mask, or none has.
        """
        return cls(
            pooled=torch.cat([p.pooled for p in parts]),
            present=None if parts[0].present is None else torch.cat([p.present for p in parts]),
            fixed_logits=torch.cat([p.fixed_logits for p in parts]),
            modality_logits=torch.cat([p.modality_logits for p in parts]),
            gate_loss=None,
        )


def missing_modality_mixtures(
    weights: torch.Tensor,
    expert_logits: torch.Tensor,
    redundancy_missing: torch.Tensor,
    n_unique: int,
) -> torch.Tensor:
    """The mixture's output when one modality is missing, for each modality.

    Each expert keeps what its kind of interaction keeps when a modality is
    lost: a uniqueness expert keeps its output unless its own modality is the
    missing one; the synergy expert, whose information needs the modalities
    jointly, keeps nothing; the redundancy expert, whose information every
    modality carries, keeps what it makes of the modalities still present
    (``redundancy_missing``, from :func:`modality_agreement` or
    :func:`weighted_mean_missing`). An expert that keeps nothing outputs 0
    (uniform probabilities for a classifier, the training mean of a
    standardised regression target).

    Parameters
    ----------
    weights : Tensor
        ``[B, E]`` interaction weights.
    expert_logits : Tensor
        ``[B, E, C]`` expert outputs, ordered uniqueness experts (one per
        modality, ``n_unique`` of them), synergy, redundancy.
    redundancy_missing : Tensor
        ``[B, M, C]``: entry ``[:, m]`` is the redundancy expert's output
        with modality ``m`` missing.
    n_unique : int
        Number of uniqueness experts: ``M`` or 0.

    Returns
    -------
    Tensor
        ``[B, M, C]``: entry ``[:, m]`` is the weighted sum of the experts'
        outputs with modality ``m`` missing.

    Examples
    --------
    >>> import torch
    >>> weights = torch.tensor([[0.5, 0.0, 0.0, 0.5]])  # uniqueness[m0], [m1], synergy, redundancy
    >>> experts = torch.tensor([[[4.0], [3.0], [1.0], [5.0]]])
    >>> redundancy_missing = torch.tensor([[[6.0], [4.0]]])  # m0 missing: m1's; m1 missing: m0's
    >>> missing_modality_mixtures(weights, experts, redundancy_missing, n_unique=2)[0, :, 0]
    tensor([3., 4.])
    """
    n_modalities = redundancy_missing.shape[1]
    like = {"device": weights.device, "dtype": weights.dtype}
    kept = torch.ones(n_modalities, expert_logits.shape[1] - 1, **like)
    kept[:, -1] = 0  # synergy
    kept[:, :n_unique] -= torch.eye(n_modalities, n_unique, **like)
    others = weights[:, :-1].unsqueeze(1) * kept  # [B, M, E - 1]
    mixed = torch.einsum("bme,bec->bmc", others, expert_logits[:, :-1])
    return mixed + weights[:, -1, None, None] * redundancy_missing


def modality_agreement(
    modality_logits: torch.Tensor, present: torch.Tensor | None = None, softmax: bool = True
) -> torch.Tensor:
    """What at least two modalities' predictions agree on, output by output.

    The redundancy expert's output under ``redundancy="agreement"``. For
    each output ``c``, with ``z_m`` modality ``m``'s output (centred over the
    outputs when ``softmax``: softmax logits mean only their differences),
    the result is ``max(0, z_(2)) + min(0, z^(2))``, with ``z_(2)`` the
    second largest and ``z^(2)`` the second smallest of the ``z_m`` over the
    modalities present: a push up or down counts only as far as a second
    modality backs it. With two modalities it is the smaller push when both
    push the same way and 0 when they disagree; with three it is their
    median. A modality that knows nothing (output 0) does not dilute two
    that agree, and one modality alone, however sure, gives 0: redundancy
    is information that at least two modalities carry. A sample with one
    modality present gets that modality's output; with none, 0.

    Parameters
    ----------
    modality_logits : Tensor
        ``[B, M, C]`` outputs from each modality alone.
    present : Tensor, optional
        ``[B, M]`` bool, the modalities to use (all when None).
    softmax : bool, default=True
        Whether the outputs are softmax logits (a classifier's), so that only
        their differences mean anything; False for outputs whose 0 means
        "no information" each on its own (regression on a standardised
        target, multi-label logits).

    Returns
    -------
    Tensor
        ``[B, C]`` in float32 at least (float64 for float64 logits).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import modality_agreement
    >>> sure, unsure, other = [2.0, -2.0], [0.0, 0.0], [1.0, -1.0]
    >>> modality_agreement(torch.tensor([[sure, unsure, unsure]]))  # one modality alone
    tensor([[0., 0.]])
    >>> modality_agreement(torch.tensor([[sure, other, unsure]]))  # two agree
    tensor([[ 1., -1.]])
    >>> modality_agreement(torch.tensor([[sure, unsure]]), torch.tensor([[True, False]]))
    tensor([[ 2., -2.]])
    """
    outputs = at_least_float32(modality_logits)
    if softmax:
        outputs = outputs - outputs.mean(-1, keepdim=True)
    if present is None:
        present = torch.ones(outputs.shape[:2], dtype=torch.bool, device=outputs.device)
    absent = ~present.unsqueeze(-1).expand_as(outputs)
    # the second order statistic where two or more modalities are present, else the first
    rank = (present.sum(1) >= 2).long().view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
    high = outputs.masked_fill(absent, float("-inf")).sort(1, descending=True).values
    low = outputs.masked_fill(absent, float("inf")).sort(1).values
    high, low = high.gather(1, rank).squeeze(1), low.gather(1, rank).squeeze(1)
    up = torch.where(torch.isfinite(high), high.clamp_min(0), torch.zeros_like(high))
    down = torch.where(torch.isfinite(low), low.clamp_max(0), torch.zeros_like(low))
    return up + down


def agreement_missing(
    modality_logits: torch.Tensor, present: torch.Tensor | None = None, softmax: bool = True
) -> torch.Tensor:
    """:func:`modality_agreement` with each modality missing in turn.

    Parameters
    ----------
    modality_logits, present, softmax
        As in :func:`modality_agreement`.

    Returns
    -------
    Tensor
        ``[B, M, C]``: entry ``[:, m]`` is the agreement of the modalities
        present other than ``m``.
    """
    batch, n_modalities, n_outputs = modality_logits.shape
    if present is None:
        present = torch.ones(batch, n_modalities, dtype=torch.bool, device=modality_logits.device)
    others = present.unsqueeze(1) & ~torch.eye(
        n_modalities, dtype=torch.bool, device=present.device
    )  # [B, M (missing), M]
    # every (sample, missing modality) pair is one row of a single agreement call
    repeated = modality_logits.unsqueeze(1).expand(batch, n_modalities, n_modalities, n_outputs)
    return modality_agreement(
        repeated.reshape(batch * n_modalities, n_modalities, n_outputs),
        others.reshape(batch * n_modalities, n_modalities),
        softmax,
    ).view(batch, n_modalities, n_outputs)


def weighted_mean_missing(modality_logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The weighted mean of the single-modality outputs with each modality missing in turn.

    The redundancy expert's outputs with a modality missing under
    ``redundancy="weighted_mean"``: the weights of the modalities still
    present, renormalised.

    Parameters
    ----------
    modality_logits : Tensor
        ``[B, M, C]`` outputs from each modality alone.
    weights : Tensor
        ``[B, M]`` modality weights (rows sum to 1, each at most one half when
        ``M > 1``; see :func:`capped_softmax`).

    Returns
    -------
    Tensor
        ``[B, M, C]``: entry ``[:, m]`` is the weighted mean without modality
        ``m`` (0 with one modality).
    """
    if modality_logits.shape[1] == 1:
        return torch.zeros_like(modality_logits)
    weighted = weights.unsqueeze(-1) * modality_logits  # [B, M, C]
    # with every weight at most one half, the others' weights sum to at least one half
    return (weighted.sum(1, keepdim=True) - weighted) / (1 - weights.unsqueeze(-1)).clamp_min(
        torch.finfo(weights.dtype).eps
    )


def capped_softmax(scores: torch.Tensor, cap: float = 0.5) -> torch.Tensor:
    """Softmax of ``scores`` over the last axis with no weight above ``cap``.

    The Euclidean-free projection used for the redundancy expert: the softmax
    weights above ``cap`` are set to ``cap`` and their excess is shared among
    the others in proportion to their weights, repeatedly until none exceeds
    it. With ``cap = 1/2`` at least two entries carry weight: redundancy is
    information that two or more modalities carry.

    Parameters
    ----------
    scores : Tensor
        ``[..., M]`` scores.
    cap : float or Tensor, default=0.5
        Largest weight, at least ``1 / M`` (``1 / K`` with ``K`` finite
        scores: a score of ``-inf`` gives weight 0); a tensor broadcast
        against ``[..., 1]`` sets one cap per row.

    Returns
    -------
    Tensor
        ``[..., M]`` non-negative weights summing to 1, none above ``cap``.

    Raises
    ------
    ValueError
        For a number ``cap`` below ``1 / M``.

    Examples
    --------
    >>> import torch
    >>> torch.softmax(torch.tensor([2.0, 1.0, 0.0]), -1).round(decimals=3)
    tensor([0.6650, 0.2450, 0.0900])
    >>> capped_softmax(torch.tensor([2.0, 1.0, 0.0])).round(decimals=3)
    tensor([0.5000, 0.3660, 0.1340])
    >>> capped_softmax(torch.tensor([3.0, 0.0]))  # two modalities: always equal
    tensor([0.5000, 0.5000])
    """
    weights = torch.softmax(at_least_float32(scores), dim=-1)
    if not isinstance(cap, torch.Tensor) and cap * scores.shape[-1] < 1:
        raise ValueError(f"cap={cap} is below 1/{scores.shape[-1]}: the weights cannot sum to 1.")
    cap = torch.as_tensor(cap, dtype=weights.dtype, device=weights.device).expand_as(weights)
    for _ in range(scores.shape[-1]):
        over = weights >= cap
        excess = (weights - cap).clamp_min(0).sum(-1, keepdim=True)
        free = torch.where(over, torch.zeros_like(weights), weights)
        share = free / free.sum(-1, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)
        weights = torch.where(over, cap, weights + excess * share)
    return weights


def shrink_weights(
    weights: torch.Tensor,
    anchor: torch.Tensor,
    shrinkage: float | torch.Tensor,
    available: torch.Tensor | None = None,
) -> torch.Tensor:
    """Move every row of ``weights`` a fraction ``shrinkage`` of the way to ``anchor``.

    The anchor is restricted to the experts ``available`` to a row and
    renormalised over them, so that the result still sums to 1 and gives
    weight 0 to an expert the row cannot use; a row whose usable experts
    all have anchor weight 0 keeps its own weights.

    Parameters
    ----------
    weights : Tensor
        ``[B, E]`` per-sample weights, rows summing to 1.
    anchor : Tensor
        ``[E]`` non-negative weights to shrink towards.
    shrinkage : float or Tensor
        In ``[0, 1]``: 0 returns ``weights``, 1 the (restricted) anchor (a
        float outside is a ``ValueError``; a tensor is not checked).
    available : Tensor, optional
        ``[B, E]`` bool: which experts each row can use (all when None).

    Returns
    -------
    Tensor
        ``[B, E]`` weights, rows summing to 1.

    Raises
    ------
    ValueError
        For an anchor whose length is not ``E``, or a float shrinkage
        outside ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]])
    >>> shrink_weights(w, torch.tensor([0.5, 0.3, 0.2]), 0.5)
    tensor([[0.7000, 0.2000, 0.1000],
            [0.2500, 0.2500, 0.5000]])
    >>> usable = torch.tensor([[True, True, False], [True, True, True]])
    >>> shrink_weights(w, torch.tensor([0.5, 0.3, 0.2]), 0.5, usable)[0]
    tensor([0.7625, 0.2375, 0.0000])
    """
    if anchor.shape[-1] != weights.shape[-1]:
        raise ValueError(
            f"anchor has {anchor.shape[-1]} weights for {weights.shape[-1]} experts; give one "
            "per expert."
        )
    if isinstance(shrinkage, (int, float)) and not 0 <= shrinkage <= 1:
        raise ValueError(f"shrinkage must be in [0, 1]; got {shrinkage}.")
    target = anchor.to(weights.dtype).expand_as(weights)
    if available is not None:
        target = target * available.to(weights.dtype)
    total = target.sum(-1, keepdim=True)
    target = torch.where(
        total > 0, target / total.clamp_min(torch.finfo(weights.dtype).tiny), weights
    )
    return weights + shrinkage * (target - weights)


def _masked_softmax(scores: torch.Tensor, available: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis (float32 at least) with weight exactly 0 where not ``available``.

    Parameters
    ----------
    scores : Tensor
        ``[B, E]`` scores.
    available : Tensor, optional
        ``[B, E]`` bool; every row needs at least one True.

    Returns
    -------
    Tensor
        ``[B, E]`` weights summing to 1 over the available entries.
    """
    scores = at_least_float32(scores)
    if available is not None:
        scores = scores.masked_fill(~available, float("-inf"))
    return torch.softmax(scores, dim=-1)


class ReweightingMLP(nn.Module):
    """MLP scoring the experts from the pooled clean embeddings.

    Parameters
    ----------
    in_features : int
        ``M * H``, the concatenated mean-pooled embeddings.
    n_experts : int
        Number of experts ``E``.
    hidden : int, default=128
        Width of the hidden layers.
    n_layers : int, default=2
        Number of linear layers (1 gives a linear scorer).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import ReweightingMLP
    >>> weights = ReweightingMLP(in_features=32, n_experts=4)(torch.randn(8, 32), temperature=1.0)
    >>> weights.shape, torch.allclose(weights.sum(1), torch.ones(8))
    (torch.Size([8, 4]), True)
    """

    def __init__(
        self,
        in_features: int,
        n_experts: int,
        hidden: int = DEFAULTS["reweight_hidden"],
        n_layers: int = 2,
    ) -> None:
        super().__init__()
        widths = [in_features] + [hidden] * (n_layers - 1) + [n_experts]
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def raw_scores(self, pooled: torch.Tensor) -> torch.Tensor:
        """Return the raw scores ``[B, E]`` (float32 at least, also under autocast)."""
        return at_least_float32(self.net(pooled))

    def forward(
        self, pooled: torch.Tensor, temperature: float, available: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return ``softmax(scores / temperature)``, ``[B, E]``, 0 where not ``available``."""
        # float32 softmax: the weights must sum to 1 also under bfloat16 autocast
        return _masked_softmax(self.raw_scores(pooled) / temperature, available)


class StaticReweighting(nn.Module):
    """One learned global weight vector, the same for every sample (ablation).

    Parameters
    ----------
    n_experts : int
        Number of experts ``E``. The scores start at 0 (uniform weights).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StaticReweighting
    >>> weights = StaticReweighting(n_experts=4)(torch.randn(3, 32), temperature=1.0)
    >>> weights.shape, weights.detach()[0]  # the scores start at 0: uniform weights
    (torch.Size([3, 4]), tensor([0.2500, 0.2500, 0.2500, 0.2500]))
    """

    def __init__(self, n_experts: int) -> None:
        super().__init__()
        self.scores = nn.Parameter(torch.zeros(n_experts))

    def raw_scores(self, pooled: torch.Tensor) -> torch.Tensor:
        """Return the learned scores repeated for the ``B`` rows of ``pooled``, ``[B, E]``."""
        return self.scores.expand(pooled.shape[0], -1)

    def forward(
        self, pooled: torch.Tensor, temperature: float, available: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return ``softmax(scores / temperature)`` for the ``B`` rows of ``pooled``.

        The same for every row, except that experts not ``available`` to a
        row get weight 0 there.
        """
        return _masked_softmax(self.raw_scores(pooled) / temperature, available)


class ModalityScorer(nn.Module):
    """One score per modality, each from that modality's own pooled embedding.

    The redundancy expert's modality weights come from it. A score that
    depends on one modality only cannot combine modalities: the weighted mean
    ``sum_m a_m(x_m) r_m(x_m) / sum_m a_m(x_m)`` has the sign (the arg-max, for
    several classes) of a sum of single-modality functions, so it cannot
    compute an XOR of two modalities, whatever the weights learn.

    Parameters
    ----------
    n_modalities : int
        Number of modalities ``M``.
    hidden_dim : int
        Width ``H`` of each modality's pooled embedding.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import ModalityScorer
    >>> scorer = ModalityScorer(n_modalities=3, hidden_dim=8)
    >>> scorer.raw_scores(torch.randn(5, 24))  # starts at 0: equal weights
    tensor([[0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.]], grad_fn=<AddBackward0>)
    """

    def __init__(self, n_modalities: int, hidden_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_modalities, hidden_dim))
        self.bias = nn.Parameter(torch.zeros(n_modalities))

    def raw_scores(self, pooled: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, M]`` from the pooled embeddings ``[B, M * H]`` (float32 at least)."""
        per_modality = at_least_float32(pooled.unflatten(1, self.weight.shape))  # [B, M, H]
        weight, bias = at_least_float32(self.weight), at_least_float32(self.bias)
        return torch.einsum("bmh,mh->bm", per_modality, weight) + bias


_SHARED_PARAMETERS = """\
    n_features : sequence of int
        Number of features of each modality (``M`` entries).
    n_outputs : int
        Output size ``C``.
    hidden_dim : int, default=64
        Token width.
    n_tokens : int, default=4
        Tokens per modality with the patch encoder (the MLP encoder gives 1).
    encoder : {"patch", "mlp"}, default="patch"
        Modality encoder.
    fusion : str or callable, default="mlp"
        Fusion backbone: a key of :data:`sk_i2moe.nn.fusion.FUSIONS`
        (``"mlp"``, ``"transformer"``, ``"early"``, ``"late"``, ``"lrtf"``,
        ``"interpretcc"``, ``"switch"``, ``"moepp"``), or a factory of one plain
        module ``factory(n_modalities=, n_tokens=, hidden_dim=, n_outputs=,
        **fusion_kwargs)`` mapping tokens ``[B, T, H]`` to logits ``[B, C]``,
        instantiated once per expert and batched with ``torch.func.vmap``
        (:class:`~sk_i2moe.nn.custom.VmappedFusion`).
    fusion_kwargs : dict, optional
        Extra keyword arguments of the backbone (``n_layers``, ``n_heads``,
        ``dropout``, ``rank``, ``n_ffn_experts``, ...).
    reweighting : {"mlp", "static"}, default="mlp"
        Per-sample weights from the reweighting MLP, or one learned global
        weight vector (``softmax(scores / temperature)``) shared by all samples.
    reweight_hidden : int, default=128
        Hidden width of the reweighting MLP.
    reweight_layers : int, default=2
        Linear layers of the reweighting MLP.
    temperature : float, default=1.0
        Softmax temperature of the interaction weights (lower is sharper).
    input_loc, input_scale : sequence of Tensor, optional
        Per-modality feature centre and scale; inputs are standardised as
        ``(x - loc) / scale`` before encoding. Stored as buffers."""


class MixtureOfInteractionExperts(nn.Module):
    """What every kind of interaction mixture shares (abstract).

    Modality encoders, ``E`` experts evaluated together by one expert-batched
    fusion backbone, and a reweighting network on the pooled clean
    embeddings. Subclasses define :meth:`forward` and their ``Objective``.
    This base class takes every argument by keyword and has no defaults: the
    defaults below are those of the concrete classes.

    Parameters
    ----------
    kinds : sequence of str
        Kind of each expert, in output order (see :attr:`expert_kinds`).
    {shared}
    """

    #: the training objective of this kind of mixture
    Objective: type[nn.Module]
    #: whether every expert is its kind by construction (a uniqueness expert cannot see
    #: another modality); where not, an interaction report checks the names on data
    names_by_construction: bool
    #: whether :meth:`forward` leaves every buffer as it is (see :attr:`vmappable`)
    stateless_forward: bool

    def __init__(
        self,
        n_features: Sequence[int],
        n_outputs: int,
        kinds: Sequence[str],
        *,
        hidden_dim: int,
        n_tokens: int,
        encoder: str,
        fusion: str | Callable[..., nn.Module],
        fusion_kwargs: dict | None,
        reweighting: str,
        reweight_hidden: int,
        reweight_layers: int,
        temperature: float,
        input_loc: Sequence[torch.Tensor] | None,
        input_scale: Sequence[torch.Tensor] | None,
    ) -> None:
        super().__init__()
        _check_choice("reweighting", reweighting, REWEIGHTINGS)
        _check_n_features(n_features)
        n_modalities = len(n_features)
        self.n_modalities = n_modalities
        self._expert_kinds = tuple(kinds)
        # what each expert needs, as a column of available_experts' table: its modality
        # (uniqueness), "two or more present" (synergy, column M) or nothing (column M + 1)
        self._needs = tuple(
            int(kind[len("uniqueness[") : -1])
            if kind.startswith("uniqueness[")
            else n_modalities + (kind != "synergy")
            for kind in kinds
        )
        self.n_experts = len(kinds)
        self.tokens_per_modality = n_tokens if encoder == "patch" else 1
        self.temperature = temperature
        self.encoders = nn.ModuleList(
            make_encoder(encoder, d, n_tokens, hidden_dim) for d in n_features
        )
        self.fusion = make_fusion(
            fusion,
            n_experts=self.n_experts,
            n_modalities=n_modalities,
            n_tokens=self.tokens_per_modality,
            hidden_dim=hidden_dim,
            n_outputs=n_outputs,
            **(fusion_kwargs or {}),
        )
        if reweighting == "static" or self.n_experts == 1:
            self.reweighting: nn.Module = StaticReweighting(self.n_experts)
        else:
            self.reweighting = ReweightingMLP(
                n_modalities * hidden_dim, self.n_experts, reweight_hidden, reweight_layers
            )
        n_total = n_modalities * self.tokens_per_modality
        self.register_buffer("reference_mean", torch.zeros(n_total, hidden_dim))
        self.register_buffer("reference_seen", torch.zeros((), dtype=torch.bool))
        for m, d in enumerate(n_features):
            loc = torch.zeros(d) if input_loc is None else torch.as_tensor(input_loc[m])
            scale = torch.ones(d) if input_scale is None else torch.as_tensor(input_scale[m])
            self.register_buffer(f"loc_{m}", loc.float().clone())
            self.register_buffer(f"scale_{m}", scale.float().clone())

    @property
    def expert_kinds(self) -> list[str]:
        """Kind of each expert, in output order.

        ``["uniqueness[0]", ..., "uniqueness[M-1]", "synergy", "redundancy"]``
        (the index is the modality's position in ``n_features``),
        ``["synergy", "redundancy"]`` or ``["fusion"]``.
        """
        return list(self._expert_kinds)

    def expert_names(self, modality_names: Sequence[str]) -> list[str]:
        """:attr:`expert_kinds` with modality indices replaced by names.

        Parameters
        ----------
        modality_names : sequence of str
            One name per modality, in the order of ``n_features``.

        Returns
        -------
        list of str
            E.g. ``["uniqueness[labs]", "uniqueness[notes]", "synergy", "redundancy"]``.
        """
        if len(modality_names) != self.n_modalities:
            raise ValueError(
                f"Expected {self.n_modalities} modality names, got {len(modality_names)}."
            )
        names = {f"uniqueness[{m}]": f"uniqueness[{n}]" for m, n in enumerate(modality_names)}
        return [names.get(kind, kind) for kind in self._expert_kinds]

    @property
    def vmappable(self) -> bool:
        """Whether members of this mixture can run as one batched axis (:func:`torch.func.vmap`).

        True when the forward pass changes no buffer and its backbone says it
        supports :func:`torch.func.vmap` (its ``vmappable`` attribute).
        """
        return self.stateless_forward and getattr(self.fusion, "vmappable", False)

    def embed(
        self, xs: Sequence[torch.Tensor], present: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Standardise and encode every modality: ``M x [B, d_m] -> [B, M * P, H]``.

        The tokens of a modality a sample lacks (``present[b, m]`` False) are
        0, the representation of an absent modality, whatever its inputs hold
        (NaN included).

        Raises
        ------
        ValueError
            For another number of modalities than the model's, a modality
            whose input is not ``(batch, d_m)`` (the same ``batch`` for every
            modality), or a ``present`` mask not of shape ``(batch, M)``.
        TypeError
            For a floating-point input of another dtype than the model's, or a
            ``present`` mask that is not bool.
        """
        if len(xs) != self.n_modalities:
            raise ValueError(f"Expected {self.n_modalities} modalities, got {len(xs)}.")
        for m, x in enumerate(xs):
            loc = getattr(self, f"loc_{m}")
            width = loc.shape[-1]
            if x.dim() != 2 or x.shape[1] != width or x.shape[0] != xs[0].shape[0]:
                raise ValueError(
                    f"Modality {m} has shape {tuple(x.shape)}; expected ({xs[0].shape[0]}, "
                    f"{width}): every modality has the batch's rows and the n_features the "
                    "model was built with."
                )
            if x.is_floating_point() and x.dtype != loc.dtype:
                raise TypeError(
                    f"Modality {m} is {x.dtype}, the model is {loc.dtype}. Convert the "
                    f"inputs: x.to({loc.dtype})."
                )
        if present is not None:
            expected = (xs[0].shape[0], len(xs))
            if present.dtype != torch.bool or tuple(present.shape) != expected:
                error = TypeError if present.dtype != torch.bool else ValueError
                raise error(
                    f"present must be a bool tensor of shape {expected} (True where a sample "
                    f"has the modality); got {present.dtype} of shape {tuple(present.shape)}."
                )
        tokens = torch.cat(
            [
                enc((x - getattr(self, f"loc_{m}")) / getattr(self, f"scale_{m}"))
                for m, (enc, x) in enumerate(zip(self.encoders, xs))
            ],
            dim=1,
        )
        if present is None:
            return tokens
        keep = present.repeat_interleave(self.tokens_per_modality, dim=1)  # [B, M * P]
        # filled, not multiplied: an absent modality's NaN inputs must not leak (NaN * 0 = NaN)
        return tokens.masked_fill(~keep.unsqueeze(-1), 0.0)

    def available_experts(self, present: torch.Tensor | None) -> torch.Tensor | None:
        """Which experts each sample can use, ``[B, E]`` bool (None when all can).

        A uniqueness expert needs its modality; the synergy expert needs at
        least two modalities (it keeps what they predict together); the
        redundancy expert and vanilla fusion's single expert use whatever is
        present.

        Parameters
        ----------
        present : Tensor or None
            ``[B, M]`` bool.
        """
        if present is None:
            return None
        two = present.sum(1, keepdim=True) >= 2
        table = torch.cat([present, two, torch.ones_like(two)], dim=1)  # [B, M + 2]
        return table[:, list(self._needs)]

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean-pool each modality's tokens: ``[B, M * P, H] -> [B, M * H]``."""
        batch, _, hidden = tokens.shape
        return tokens.view(batch, self.n_modalities, -1, hidden).mean(2).flatten(1)

    def interaction_weights(
        self, tokens: torch.Tensor, available: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-sample interaction weights ``[B, E]`` from the tokens ``[B, M * P, H]``.

        Experts not ``available`` (``[B, E]`` bool) to a sample get weight 0.
        """
        return self.reweighting(self.pool(tokens), self.temperature, available)


def _kinds(experts: str, n_modalities: int) -> list[str]:
    """Expert kinds of an expert set."""
    _check_choice("experts", experts, EXPERT_SETS)
    if experts == "all":
        return [f"uniqueness[{m}]" for m in range(n_modalities)] + ["synergy", "redundancy"]
    if experts == "synergy_redundancy":
        return ["synergy", "redundancy"]
    return ["fusion"]


class InteractionMoE(MixtureOfInteractionExperts):
    """Interpretable multimodal interaction-aware mixture of experts (I2MoE, the paper's).

    Each modality is encoded into ``n_tokens`` tokens. ``E = M + 2`` experts
    (one uniqueness expert per modality, a synergy and a redundancy expert),
    each a full fusion network with its own weights, map all tokens to logits.
    In training mode every expert is also evaluated with each modality
    replaced by a reference, all ``E x (M + 1)`` passes in one batched
    computation, and the outputs are returned for the interaction loss of
    :class:`~sk_i2moe.nn.objective.InteractionObjective` (``Objective``). A
    reweighting MLP on the pooled clean embeddings gives per-sample weights
    over the experts; the output is the weighted sum of the experts' clean
    logits.

    Parameters
    ----------
    {shared}
    experts : {"all", "synergy_redundancy", "single"}, default="all"
        Which experts: uniqueness per modality + synergy + redundancy
        (``E = M + 2``); synergy + redundancy only (``E = 2``); or one plain
        fusion network (``E = 1``, no perturbed passes, weight 1: vanilla
        fusion, always with static reweighting). See :attr:`expert_kinds`.
    perturbation : {"noise", "mean", "zero", "shuffle"}, default="noise"
        Reference that replaces a modality's tokens: random noise, the running
        mean of the training tokens, zeros, or the (detached) tokens of another
        sample of the batch (a random permutation of the batch, drawn per
        step and shared by the modalities), which stay on the data's
        distribution so an expert cannot tell a replaced modality from a real
        one.
    noise_scale : {"unit", "matched"}, default="unit"
        With ``perturbation="noise"``: standard-normal noise (the paper's), or
        noise with each modality's batch mean and standard deviation (scalars
        over the modality's tokens and features, not back-propagated), so that
        the reference is on the embeddings' scale. Ignored otherwise.
    n_perturbed : int, optional
        Perturb only this many modalities per training step, drawn uniformly
        without replacement (only those variants are computed: ``n_perturbed +
        1`` rows per sample instead of ``M + 1``; see
        :func:`~sk_i2moe.nn.objective.interaction_terms` for the terms then
        defined). None perturbs all ``M``.
    perturbed_passes : bool, default=True
        Whether training computes the perturbed passes (for the interaction
        loss). When False, training costs one clean pass per expert.
    loss_on : {"logits", "latent"}, default="logits"
        What ``variant_outputs`` holds: the experts' logits, or the pooled
        latent vectors their backbone returns (the input of its head).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import InteractionMoE
    >>> model = InteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
    >>> out = model([torch.randn(8, 5), torch.randn(8, 3)])  # training mode: perturbed passes
    >>> out.logits.shape, out.weights.shape, out.expert_logits.shape
    (torch.Size([8, 2]), torch.Size([8, 4]), torch.Size([8, 4, 2]))
    >>> out.variant_outputs.shape  # 4 experts x (clean + 2 perturbed) x 8 samples x 2 outputs
    torch.Size([4, 3, 8, 2])
    >>> model.expert_names(["labs", "notes"])
    ['uniqueness[labs]', 'uniqueness[notes]', 'synergy', 'redundancy']
    """

    Objective = InteractionObjective
    names_by_construction = False
    stateless_forward = False  # it keeps a running mean of the embeddings

    def __init__(
        self,
        n_features: Sequence[int],
        n_outputs: int,
        *,
        hidden_dim: int = DEFAULTS["hidden_dim"],
        n_tokens: int = DEFAULTS["n_tokens"],
        encoder: str = DEFAULTS["encoder"],
        fusion: str | Callable[..., nn.Module] = DEFAULTS["fusion"],
        fusion_kwargs: dict | None = None,
        experts: str = DEFAULTS["experts"],
        reweighting: str = DEFAULTS["reweighting"],
        reweight_hidden: int = DEFAULTS["reweight_hidden"],
        reweight_layers: int = 2,
        temperature: float = DEFAULTS["temperature"],
        perturbation: str = DEFAULTS["perturbation"],
        noise_scale: str = DEFAULTS["noise_scale"],
        n_perturbed: int | None = DEFAULTS["n_perturbed"],
        perturbed_passes: bool = True,
        loss_on: str = DEFAULTS["loss_on"],
        input_loc: Sequence[torch.Tensor] | None = None,
        input_scale: Sequence[torch.Tensor] | None = None,
    ) -> None:
        _check_choice("perturbation", perturbation, PERTURBATIONS)
        _check_choice("noise_scale", noise_scale, NOISE_SCALES)
        _check_choice("loss_on", loss_on, LOSS_TARGETS)
        n_modalities = len(n_features)
        if n_perturbed is not None and not 1 <= n_perturbed <= n_modalities:
            raise ValueError(
                f"n_perturbed={n_perturbed} must be between 1 and the number of modalities "
                f"({n_modalities}), or None to perturb all of them."
            )
        super().__init__(
            n_features,
            n_outputs,
            _kinds(experts, n_modalities),
            hidden_dim=hidden_dim,
            n_tokens=n_tokens,
            encoder=encoder,
            fusion=fusion,
            fusion_kwargs=fusion_kwargs,
            reweighting=reweighting,
            reweight_hidden=reweight_hidden,
            reweight_layers=reweight_layers,
            temperature=temperature,
            input_loc=input_loc,
            input_scale=input_scale,
        )
        self.experts = experts
        self.perturbation = perturbation
        self.noise_scale = noise_scale
        self.n_perturbed = n_perturbed
        self.perturbed_passes = perturbed_passes
        self.loss_on = loss_on

    @property
    def perturbs(self) -> bool:
        """Whether training runs the perturbed passes."""
        return self.perturbed_passes and self.experts != "single"

    def _reference(self, tokens: torch.Tensor, pooled: bool = False) -> torch.Tensor:
        """Replacement tokens ``[B, T, H]`` for the configured perturbation.

        With ``pooled=True`` (for a backbone that reads only each modality's
        mean token) noise is drawn as one token per modality, ``[B, M, H]``,
        distributed as the mean of the modality's ``P`` noise tokens
        (standard deviation ``1 / sqrt(P)`` of the per-token one): the same
        reference in distribution, at ``1 / P`` of the draws.
        """
        if self.perturbation == "noise":
            grouped = tokens.detach().unflatten(1, (self.n_modalities, -1))  # [B, M, P, H]
            if pooled:
                shape = (grouped.shape[0], self.n_modalities, 1, grouped.shape[-1])
                noise = torch.randn(shape, device=tokens.device, dtype=tokens.dtype)
                noise = noise.mul_(grouped.shape[2] ** -0.5)
            else:
                noise = torch.randn_like(grouped)
            if self.noise_scale == "matched":
                mean = grouped.mean((0, 2, 3), keepdim=True)
                std = grouped.std((0, 2, 3), keepdim=True, correction=0)
                noise = mean + std * noise
            return noise.flatten(1, 2)
        if self.perturbation == "zero":
            return torch.zeros_like(tokens)
        if self.perturbation == "shuffle":  # another sample's tokens: in-distribution
            return tokens.detach()[torch.randperm(tokens.shape[0], device=tokens.device)]
        with torch.no_grad():
            batch_mean = tokens.mean(0)
            momentum = torch.where(self.reference_seen, 0.1, 1.0)
            # under autocast the tokens may be bfloat16; the running mean keeps its own dtype
            self.reference_mean.lerp_(batch_mean.to(self.reference_mean.dtype), momentum)
            self.reference_seen.fill_(True)
        return self.reference_mean.to(tokens.dtype).expand_as(tokens)

    def _draw_modalities(self, device: torch.device) -> torch.Tensor | None:
        """Sorted indices of the modalities to perturb this step (None: all)."""
        if self.n_perturbed is None or self.n_perturbed >= self.n_modalities:
            return None
        drawn = torch.randperm(self.n_modalities)[: self.n_perturbed]
        return drawn.sort().values.to(device)

    def forward(
        self,
        xs: Sequence[torch.Tensor],
        reference: torch.Tensor | None = None,
        present: torch.Tensor | None = None,
        measured: torch.Tensor | None = None,
    ) -> MoEOutput:
        """Run the mixture on one batch.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality, in the constructor's order.
        present : Tensor, optional
            ``[B, M]`` bool: which modalities each sample has (all when None).
            An absent modality's tokens are 0 and the experts that need it get
            weight 0. Training with perturbed passes needs every modality.
        reference : Tensor, optional
            ``[B, M * P, H]`` replacement tokens to use instead of drawing them
            (training only; for tests and custom references). A backbone with
            a ``forward_variants`` method (``"mlp"``) reads only each
            modality's mean reference token and accepts any number of tokens
            per modality.
        measured : Tensor, optional
            Accepted for a uniform interface (the modalities each sample
            really has where ``present`` also drops some in training); this
            kind of mixture has no absence offsets and does not use it.

        Returns
        -------
        MoEOutput
        """
        tokens = self.embed(xs, present)
        batch = tokens.shape[0]
        available = self.available_experts(present)
        weights = self.interaction_weights(tokens, available)
        variant_outputs = drawn = None
        if self.training and self.perturbs:
            if present is not None:
                raise ValueError(
                    "The paper's mixture trains its interaction losses by replacing each "
                    "modality in turn, which is undefined for a modality a sample lacks. Train "
                    "on samples with every modality, set interaction_loss_weight=0, or use the "
                    "structured mixture (interaction_constraint='structure', the default)."
                )
            drawn = self._draw_modalities(tokens.device)
            fast = getattr(self.fusion, "forward_variants", None)
            if reference is None:
                reference = self._reference(tokens, pooled=fast is not None)
            if fast is not None:  # a backbone that builds the variants' passes itself
                fused = fast(tokens, reference, drawn)
                n_variants = fused.logits.shape[1] // batch
            else:
                variants = build_variants(tokens, reference, self.tokens_per_modality, drawn)
                n_variants = variants.shape[0]
                fused = self.fusion(variants.flatten(0, 1), n_variants=n_variants)
            logits = fused.logits.unflatten(1, (n_variants, batch))  # [E, V, B, C]
            if self.loss_on == "logits":
                variant_outputs = logits
            else:
                variant_outputs = fused.latent.unflatten(1, (n_variants, batch))  # [E, V, B, D]
            expert_logits = logits[:, 0]
        else:
            fused = self.fusion(tokens)
            expert_logits = fused.logits
        expert_logits = expert_logits.transpose(0, 1)  # [B, E, C]
        mixture = torch.einsum("be,bec->bc", weights, expert_logits)
        return MoEOutput(
            mixture,
            weights,
            expert_logits,
            fused.aux_loss,
            present,
            available,
            variant_outputs,
            drawn,
        )


class StructuredInteractionMoE(MixtureOfInteractionExperts):
    """Interaction mixture whose experts are their kinds by construction.

    A uniqueness expert sees only its modality (its output is its backbone's
    output with every other modality's tokens set to 0, absent). The
    redundancy expert combines its outputs on each modality alone
    (``modality_logits``, each scored against the target by
    :class:`~sk_i2moe.nn.objective.StructuredObjective`): by default their
    per-sample weighted mean with no modality above one half, or what at
    least two of them agree on (``redundancy="agreement"``). The synergy expert,
    with backbone output ``f``, outputs ``f(x) - sum_m f(x_m alone) + (M - 1)
    f(none)``, which is 0 when ``f`` is a sum of single-modality effects. The
    mixture is formed from the experts' detached outputs, so the task loss
    trains the weights (and the encoders through them) but not the experts:
    the weights choose between the experts' predictions and cannot assemble
    one that no expert makes. In training mode the output also carries
    ``missing_logits``, the mixture with each modality missing in turn
    (:func:`missing_modality_mixtures`), which the objective scores too: the
    weights then prefer the expert whose prediction survives the loss of a
    modality as its kind says it should. Training and prediction evaluate
    the synergy and redundancy experts on ``M + 1`` rows per sample (clean,
    each modality alone) and each uniqueness expert on its modality alone
    (backbones without a ``forward_alone`` method run every expert on all
    ``M + 1``), plus all-absent rows: one per sample in training (sharing its
    dropout mask), one for the batch in evaluation.

    Parameters
    ----------
    {shared}
    experts : {"all", "synergy_redundancy"}, default="all"
        Uniqueness per modality + synergy + redundancy (``E = M + 2``), or
        synergy + redundancy only (``E = 2``).
    redundancy : {"weighted_mean", "agreement"}, default="weighted_mean"
        How the redundancy expert combines its single-modality outputs: a
        per-sample weighted mean with no modality above one half (weights
        from a :class:`ModalityScorer` through :func:`capped_softmax`), or
        what at least two of them agree on (:func:`modality_agreement`, no
        weights to learn).
    softmax_outputs : bool, default=True
        Whether the outputs are softmax logits (cross-entropy), whose shared
        shift means nothing; False for regression and multi-label outputs.
        Used by ``redundancy="agreement"``.
    absence_offset : bool, default=True
        Learn one output offset per modality (``absence_logits``, ``[M, C]``,
        initialised to 0) that is added to the mixture of a sample lacking
        that modality (:meth:`absence_offsets`): where a modality is missing
        more often in one class, the model can say so, as an imputed constant
        or a missing-value indicator would. A sample with every modality gets
        no offset, so on complete data the mixture is the same as without it.
        The weights choose between the experts as before; the offset is not
        an expert and gets no weight.

    Raises
    ------
    ValueError
        When the backbone has batch-normalisation layers: each step also
        runs it on all-absent rows (the synergy expert's ``f(none)``).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import StructuredInteractionMoE
    >>> model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
    >>> out = model([torch.randn(8, 5), torch.randn(8, 3)])
    >>> out.modality_logits.shape, out.missing_logits.shape
    (torch.Size([8, 2, 2]), torch.Size([8, 2, 2]))
    """

    Objective = StructuredObjective
    names_by_construction = True
    stateless_forward = True

    def __init__(
        self,
        n_features: Sequence[int],
        n_outputs: int,
        *,
        hidden_dim: int = DEFAULTS["hidden_dim"],
        n_tokens: int = DEFAULTS["n_tokens"],
        encoder: str = DEFAULTS["encoder"],
        fusion: str | Callable[..., nn.Module] = DEFAULTS["fusion"],
        fusion_kwargs: dict | None = None,
        experts: str = DEFAULTS["experts"],
        reweighting: str = DEFAULTS["reweighting"],
        reweight_hidden: int = DEFAULTS["reweight_hidden"],
        reweight_layers: int = 2,
        temperature: float = DEFAULTS["temperature"],
        input_loc: Sequence[torch.Tensor] | None = None,
        input_scale: Sequence[torch.Tensor] | None = None,
        redundancy: str = DEFAULTS["redundancy"],
        softmax_outputs: bool = True,
        absence_offset: bool = DEFAULTS["absence_offset"],
    ) -> None:
        _check_choice("redundancy", redundancy, REDUNDANCY_RULES)
        if experts == "single":
            raise ValueError(
                "A structured interaction mixture builds the interaction kinds into the "
                "experts, but experts='single' has none; use experts='all' or "
                "'synergy_redundancy', or the paper's InteractionMoE "
                "(interaction_constraint='loss')."
            )
        super().__init__(
            n_features,
            n_outputs,
            _kinds(experts, len(n_features)),
            hidden_dim=hidden_dim,
            n_tokens=n_tokens,
            encoder=encoder,
            fusion=fusion,
            fusion_kwargs=fusion_kwargs,
            reweighting=reweighting,
            reweight_hidden=reweight_hidden,
            reweight_layers=reweight_layers,
            temperature=temperature,
            input_loc=input_loc,
            input_scale=input_scale,
        )
        self.redundancy = redundancy
        self.softmax_outputs = softmax_outputs
        # a custom backbone's modules sit in its skeleton (VmappedFusion), outside modules()
        skeleton = getattr(self.fusion, "skeleton", None)
        layers = [*self.fusion.modules(), *(skeleton.modules() if skeleton is not None else [])]
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in layers):
            raise ValueError(
                f"The backbone {type(self.fusion).__name__} has batch-normalisation layers, "
                "which the structured mixture cannot train: every step also runs the backbone "
                "on all-absent rows (for the synergy expert), whose statistics would pull the "
                "running ones towards the absent input, and prediction runs it on one such row "
                "alone. Use LayerNorm instead, or "
                "interaction_constraint='loss' (the paper's mixture)."
            )
        if redundancy == "weighted_mean":
            # scores the modalities for the redundancy expert (see capped_softmax), each
            # from its own embedding, or one learned vector with static reweighting
            self.redundancy_gate = (
                StaticReweighting(self.n_modalities)
                if reweighting == "static"
                else ModalityScorer(self.n_modalities, hidden_dim)
            )
        # what each absent modality adds to a sample's mixture (absence_offsets)
        self.absence_logits = (
            nn.Parameter(torch.zeros(self.n_modalities, n_outputs)) if absence_offset else None
        )
        # what prediction shrinks the weights towards, and how far (anchor_weights);
        # a mixture that was never anchored does not shrink
        self.register_buffer("weight_anchor", torch.full((self.n_experts,), 1.0 / self.n_experts))
        self.register_buffer("weight_shrinkage", torch.zeros(()))
        # what prediction divides the outputs by (set_output_temperature); 1: as trained
        self.register_buffer("output_temperature", torch.ones(()))
        # how far prediction moves a sample lacking each modality towards the constant
        # output (set_absence_shrinkage); 0: not at all
        self.register_buffer("absence_shrinkage", torch.zeros(self.n_modalities))
        self.register_buffer("absence_prior", torch.zeros(n_outputs))
        self.register_buffer("absence_prior_shift", torch.zeros(self.n_modalities, n_outputs))

    def anchor_weights(self, anchor: torch.Tensor, shrinkage: float) -> None:
        """Shrink the per-sample weights at prediction towards ``anchor``.

        In evaluation mode, :meth:`forward` then mixes the experts with
        :func:`shrink_weights` of the weights (training and
        :meth:`mix` with ``predicting=False`` use the weights as they are).
        :func:`sk_i2moe.nn.anchor_weights` sets the anchor to the
        mean weight over the training rows.

        Parameters
        ----------
        anchor : Tensor
            ``[E]`` non-negative weights, not all 0.
        shrinkage : float
            In ``[0, 1]``; 0 predicts with the weights as they are.

        Raises
        ------
        ValueError
            For an anchor of the wrong shape, negative, or all 0, or a
            shrinkage outside ``[0, 1]``.
        """
        anchor = torch.as_tensor(anchor, dtype=self.weight_anchor.dtype)
        if anchor.shape != self.weight_anchor.shape or (anchor < 0).any() or anchor.sum() <= 0:
            raise ValueError(
                f"The anchor must be {self.n_experts} non-negative weights, not all 0; got "
                f"{anchor.tolist()}."
            )
        if not 0 <= shrinkage <= 1:
            raise ValueError(f"shrinkage must be in [0, 1]; got {shrinkage}.")
        self.weight_anchor.copy_(anchor)
        self.weight_shrinkage.fill_(shrinkage)

    def set_output_temperature(self, temperature: float) -> None:
        """Divide the outputs at prediction by ``temperature``.

        In evaluation mode, :meth:`forward` then divides the mixture's
        output, every expert's output and the absence offsets by it (training
        and :meth:`mix` with ``predicting=False`` use them as they are), so the
        mixture stays the weighted sum of its experts plus the offsets, and
        the weights do not change. A temperature above 1 makes the predicted
        probabilities less confident without changing their order.

        Parameters
        ----------
        temperature : float
            Positive and finite; 1 predicts with the outputs as trained.

        Raises
        ------
        ValueError
            For a temperature that is not positive and finite.
        """
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(
                f"The output temperature must be positive and finite; got {temperature}."
            )
        self.output_temperature.fill_(float(temperature))

    def set_absence_shrinkage(
        self,
        shrinkage: Sequence[float],
        prior: torch.Tensor,
        prior_shift: torch.Tensor | None = None,
    ) -> None:
        """Move the outputs of samples lacking modalities towards a constant at prediction.

        In evaluation mode, :meth:`forward` then replaces the (calibrated)
        mixture output ``z`` of a sample lacking the modalities ``S`` by ``(1 -
        s) z + s c``, with ``s = 1 - prod_{m in S} (1 - shrinkage[m])`` and ``c
        = prior + sum_{m in S} prior_shift[m]`` (the constant output of samples
        lacking ``S``). The weights and the experts' outputs do not change: the
        move is, like the absence offsets, what the absence adds outside the
        experts. A sample with every modality is not changed.

        Parameters
        ----------
        shrinkage : sequence of float
            One value in ``[0, 1]`` per modality; 0 leaves the samples lacking
            it as the mixture predicts them.
        prior : Tensor
            ``[C]`` the constant output (e.g. the log class rates).
        prior_shift : Tensor, optional
            ``[M, C]`` what lacking each modality adds to it; None: 0.

        Raises
        ------
        ValueError
            For a shrinkage of the wrong length or outside ``[0, 1]``, or a
            prior or shift of the wrong shape or not finite.
        """
        shrinkage = torch.as_tensor(shrinkage, dtype=self.absence_shrinkage.dtype)
        if shrinkage.shape != self.absence_shrinkage.shape or not bool(
            ((shrinkage >= 0) & (shrinkage <= 1)).all()
        ):
            raise ValueError(
                f"The absence shrinkage must be {self.n_modalities} values in [0, 1]; got "
                f"{shrinkage.tolist()}."
            )
        shift = torch.zeros_like(self.absence_prior_shift) if prior_shift is None else prior_shift
        checked = [(self.absence_shrinkage, shrinkage)]  # all checked before any is stored
        for name, value, like in (
            ("prior", prior, self.absence_prior),
            ("prior shift", shift, self.absence_prior_shift),
        ):
            value = torch.as_tensor(value, dtype=like.dtype)
            if value.shape != like.shape or not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"The absence {name} must be finite values of shape {tuple(like.shape)}; "
                    f"got {value.tolist()}."
                )
            checked.append((like, value))
        for buffer, value in checked:
            buffer.copy_(value)

    def _absence_kept(self, present: torch.Tensor | None) -> torch.Tensor | None:
        """``[B, 1]``: the share ``1 - s`` of each sample's output that prediction keeps.

        None when every sample has every modality (``present`` None).
        """
        if present is None:
            return None
        one = torch.ones_like(self.absence_shrinkage)
        kept = torch.where(present, one, one - self.absence_shrinkage)
        return kept.prod(dim=1, keepdim=True)

    def _absence_target(self, present: torch.Tensor) -> torch.Tensor:
        """``[B, C]``: the constant output of each sample's pattern of absent modalities."""
        return (
            self.absence_prior + (~present).to(self.absence_prior.dtype) @ self.absence_prior_shift
        )

    def expert_pass(
        self, xs: Sequence[torch.Tensor], present: torch.Tensor | None = None
    ) -> ExpertPass:
        """Everything in a forward pass that the weights do not change.

        The embeddings the reweighting networks read and the experts'
        outputs; :meth:`mix` turns them into the mixture. Training the
        reweighting networks alone (:func:`~sk_i2moe.nn.refine.fit_reweighting`)
        computes this once and mixes it at every step.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality, in the constructor's order.
        present : Tensor, optional
            ``[B, M]`` bool: which modalities each sample has (all when None).

        Returns
        -------
        ExpertPass
        """
        tokens = self.embed(xs, present)
        n_modalities = self.n_modalities
        n_unique = n_uniqueness_experts(self.n_experts)
        fast = getattr(self.fusion, "forward_alone", None)
        if fast is not None:  # a backbone that builds the single-modality passes itself
            passes = fast(tokens, n_unique)
        else:
            # in training, also every modality absent: each sample's row shares its dropout
            # mask, so that the synergy expert of an additive backbone is exactly 0
            variants = single_modality_variants(tokens, self.tokens_per_modality, self.training)
            fused = self.fusion(variants.flatten(0, 1), n_variants=variants.shape[0])
            passes = alone_from_variants(fused, n_unique, n_modalities, self.training)
        if passes.none is not None:
            none = passes.none[0]  # the synergy expert, all absent, [B, C]
        else:  # the same for every sample (no dropout): one row
            none = self.fusion(torch.zeros_like(tokens[:1])).logits[n_unique]  # [1, C]
        synergy = passes.clean[0] - passes.alone[0].sum(0) + (n_modalities - 1) * none
        return ExpertPass(
            pooled=self.pool(tokens),
            present=present,
            fixed_logits=torch.cat([passes.unique, synergy.unsqueeze(0)]).transpose(0, 1),
            modality_logits=passes.alone[1].transpose(0, 1),  # [B, M, C], the redundancy expert's
            gate_loss=passes.aux_loss,
        )

    def synergy_joint(
        self, xs: Sequence[torch.Tensor], present: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The synergy expert's output less its terms that are sums over the modalities.

        The synergy expert outputs ``f(x) - sum_m f(x_m alone) + (M - 1)
        f(none)``; everything after ``f(x)`` is a sum of one function per
        modality (its value or its absence) and a constant. This returns
        ``f(x)`` divided by the output temperature, as a fitted mixture in
        evaluation mode reports its experts' outputs, so that there a change
        of the inputs changes the synergy expert's output by this one's
        change plus per-modality terms. The caller sets the mode (in
        training mode dropout applies, with its own masks). It costs one pass
        of the synergy expert's backbone on the clean rows, where
        :meth:`forward` costs all the experts on ``M + 1`` rows per sample.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality, in the constructor's order.
        present : Tensor, optional
            ``[B, M]`` bool: which modalities each sample has (all when None).

        Returns
        -------
        Tensor
            ``[B, C]``.

        Examples
        --------
        >>> import torch
        >>> from sk_i2moe.nn import StructuredInteractionMoE
        >>> model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=16).eval()
        >>> model.synergy_joint([torch.randn(4, 5), torch.randn(4, 3)]).shape
        torch.Size([4, 2])
        """
        tokens = self.embed(xs, present)
        synergy = n_uniqueness_experts(self.n_experts)  # the synergy expert follows them
        one = getattr(self.fusion, "forward_expert", None)
        joint = one(tokens, synergy) if one is not None else self.fusion(tokens).logits[synergy]
        return self._calibrated(joint)

    def mix(
        self,
        parts: ExpertPass,
        with_missing: bool = False,
        predicting: bool = False,
        measured: torch.Tensor | None = None,
    ) -> StructuredMoEOutput:
        """Weigh the experts of an :meth:`expert_pass` into the mixture.

        Parameters
        ----------
        parts : ExpertPass
            The pass to mix.
        with_missing : bool, default=False
            Also return ``modality_logits`` and ``missing_logits``, which the
            objective scores in training.
        predicting : bool, default=False
            Mix as a fitted mixture predicts: shrink the weights towards the
            anchor (:meth:`anchor_weights`), divide the outputs by the
            output temperature (:meth:`set_output_temperature`) and move
            those of samples lacking modalities towards the constant output
            (:meth:`set_absence_shrinkage`).
        measured : Tensor, optional
            ``[B, M]`` bool, the modalities each sample really has, for the
            absence offsets (see :meth:`forward`); None: ``parts.present``.

        Returns
        -------
        StructuredMoEOutput
        """
        present = parts.present
        available = self.available_experts(present)
        weights = self.reweighting(parts.pooled, self.temperature, available)
        if predicting:
            weights = shrink_weights(weights, self.weight_anchor, self.weight_shrinkage, available)
        per_modality = parts.modality_logits
        if self.redundancy == "agreement":
            redundancy_weights = None
            redundancy = modality_agreement(per_modality.detach(), present, self.softmax_outputs)
        else:
            redundancy_weights = self._modality_weights(parts.pooled, present)
            # the single-modality outputs learn from their own task loss only (modality_loss):
            # trained through the weighted mean as well, the output of a modality with weight
            # one half grows twice as confident and ties with that modality's uniqueness
            # expert on samples only it informs; the redundancy expert's loss trains its
            # modality weights
            redundancy = torch.einsum(
                "bm,bmc->bc", redundancy_weights, at_least_float32(per_modality.detach())
            )
        expert_logits = torch.cat(
            [parts.fixed_logits, redundancy.to(per_modality.dtype).unsqueeze(1)], dim=1
        )  # [B, E, C]
        # the task loss trains the weights only: they choose between the experts'
        # predictions and cannot assemble one the experts do not make (the redundancy
        # expert's modality weights are weights too)
        detached = torch.cat([expert_logits[:, :-1].detach(), expert_logits[:, -1:]], dim=1)
        mixture = torch.einsum("be,bec->bc", weights, detached)
        offset = self.absence_offsets(present if measured is None else measured)
        if offset is not None:
            mixture = mixture + offset.to(mixture.dtype)
        if predicting:
            mixture = self._predicted(mixture, present if measured is None else measured)
            expert_logits = self._calibrated(expert_logits)
        shared = {
            "logits": mixture,
            "weights": weights,
            "expert_logits": expert_logits,
            "gate_loss": parts.gate_loss,
            "present": present,
            "available": available,
            "redundancy_weights": redundancy_weights,
        }
        if not with_missing:
            return StructuredMoEOutput(**shared)
        if redundancy_weights is None:
            redundancy_missing = agreement_missing(
                per_modality.detach(), present, self.softmax_outputs
            )
        else:
            redundancy_missing = weighted_mean_missing(per_modality.detach(), redundancy_weights)
        missing = missing_modality_mixtures(
            weights,
            detached,
            redundancy_missing.to(detached.dtype),
            n_uniqueness_experts(self.n_experts),
        )
        if offset is not None:  # a modality really absent stays absent; one made missing adds none
            missing = missing + offset.to(missing.dtype).unsqueeze(1)
        return StructuredMoEOutput(**shared, modality_logits=per_modality, missing_logits=missing)

    def _calibrated(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` divided by the output temperature."""
        return outputs / self.output_temperature.to(outputs.dtype)

    def _predicted(self, outputs: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
        """The mixture's ``[B, C]`` ``outputs`` as prediction gives them.

        Calibrated, then moved towards the constant of each sample's absent
        modalities (see :meth:`set_absence_shrinkage`; ``present``: ``[B, M]``
        or None).
        """
        outputs = self._calibrated(outputs)
        if present is None:
            return outputs
        kept = self._absence_kept(present).to(outputs.dtype)
        return kept * outputs + (1 - kept) * self._absence_target(present).to(outputs.dtype)

    def absence_offsets(
        self, present: torch.Tensor | None, predicting: bool = False
    ) -> torch.Tensor | None:
        """What the absent modalities add to each sample's mixture (``absence_offset``).

        Parameters
        ----------
        present : Tensor or None
            ``[B, M]`` bool: which modalities each sample has (all when None).
        predicting : bool, default=False
            The offsets as prediction adds them: divided by the output
            temperature (:meth:`set_output_temperature`), before the
            mixture is moved towards a constant (:meth:`set_absence_shrinkage`).

        Returns
        -------
        Tensor or None
            ``[B, C]``: the sum of ``absence_logits[m]`` over the modalities
            ``m`` a sample lacks (0 for a complete sample); None when
            ``present`` is None or the mixture has no offsets.

        Examples
        --------
        >>> import torch
        >>> from sk_i2moe.nn import StructuredInteractionMoE
        >>> model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=16)
        >>> with torch.no_grad():
        ...     _ = model.absence_logits.copy_(torch.tensor([[1.0, -1.0], [0.5, 0.0]]))
        >>> present = torch.tensor([[True, True], [False, True], [True, False]])
        >>> model.absence_offsets(present).detach()
        tensor([[ 0.0000,  0.0000],
                [ 1.0000, -1.0000],
                [ 0.5000,  0.0000]])
        """
        if self.absence_logits is None or present is None:
            return None
        offsets = (~present).to(self.absence_logits.dtype) @ self.absence_logits
        return self._calibrated(offsets) if predicting else offsets

    def _modality_weights(self, pooled: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
        """``[B, M]`` weights of ``redundancy="weighted_mean"`` (:func:`capped_softmax`)."""
        scores = self.redundancy_gate.raw_scores(pooled) / self.temperature
        if present is None:  # no modality above one half, or one modality alone: weight 1
            cap: float | torch.Tensor = 0.5 if self.n_modalities > 1 else 1.0
        else:
            scores = scores.masked_fill(~present, float("-inf"))
            cap = 1.0 / present.sum(1, keepdim=True).clamp(1, 2)
        return capped_softmax(scores, cap)

    def reweighting_parameters(self) -> list[nn.Parameter]:
        """The parameters that set the weights (what :meth:`mix` trains).

        The reweighting network's, the redundancy expert's modality
        scorer's with ``redundancy="weighted_mean"``, and the offsets of
        absent modalities (``absence_offset``).
        """
        gate = self.redundancy_gate.parameters() if self.redundancy == "weighted_mean" else ()
        offsets = () if self.absence_logits is None else (self.absence_logits,)
        return [*self.reweighting.parameters(), *gate, *offsets]

    def forward(
        self,
        xs: Sequence[torch.Tensor],
        present: torch.Tensor | None = None,
        measured: torch.Tensor | None = None,
    ) -> StructuredMoEOutput:
        """Run the mixture on one batch: :meth:`mix` of :meth:`expert_pass`.

        In evaluation mode the weights are shrunk towards the anchor
        (:meth:`anchor_weights`; no change until one is set).

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality, in the constructor's order.
        present : Tensor, optional
            ``[B, M]`` bool: which modalities each sample has (all when None).
            An absent modality's tokens are 0, as in the single-modality
            rows: the uniqueness expert of an absent modality gets weight 0,
            the synergy expert keeps what the modalities present predict
            together (weight 0 with fewer than two), the redundancy
            expert's weights are spread over the modalities present, and
            the absent modalities' offsets are added (:meth:`absence_offsets`).
        measured : Tensor, optional
            ``[B, M]`` bool: which modalities each sample really has, where
            ``present`` also drops some at random in training (modality
            dropout). The absence offsets are added for the modalities
            really absent only: a dropped one says nothing about the label.
            None: the same as ``present``.

        Returns
        -------
        StructuredMoEOutput
        """
        training = self.training
        return self.mix(
            self.expert_pass(xs, present),
            with_missing=training,
            predicting=not training,
            measured=measured,
        )


for _cls in (MixtureOfInteractionExperts, InteractionMoE, StructuredInteractionMoE):
    _cls.__doc__ = _cls.__doc__.replace("    {shared}", _SHARED_PARAMETERS)
del _cls

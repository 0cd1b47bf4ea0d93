"""Interaction losses on the outputs of the experts' input variants.

Notation: for one expert, ``anchor`` is its output on the clean input ``[B, C]``
and ``perturbed[j]`` its output with the ``j``-th replaced modality ``[K, B, C]``
(``K = M`` unless only a subset of modalities is perturbed).

Two families of terms, chosen with ``distance``:

- ``"cosine"`` (classification, the paper's): synergy ``mean cos(a, p_j)``,
  redundancy ``mean 1 - cos(a, p_j)``.
- ``"euclidean"`` (regression, where a single output makes cosine meaningless):
  synergy ``mean relu(margin - ||a - p_j||)`` pushes the outputs at least
  ``margin`` apart; redundancy ``mean ||a - p_j||^2`` pulls them together.
  The paper's public code uses MSE distances here, but its synergy term pulls
  the outputs *together* (the sign of the redundancy term), the opposite of
  what synergy means and of its classification term; this module fixes the
  sign and bounds the term below by 0 with the hinge, so no term can run to
  ``-inf``.

The uniqueness term is the triplet margin loss (L2) in both families.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

DISTANCES = ("cosine", "euclidean")
_DISTANCE_EPS = 1e-6  # as in torch.nn.functional.pairwise_distance


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"Unknown distance {distance!r}; expected one of {list(DISTANCES)}.")


def _l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise L2 distance over the last axis, ``||a - b + eps||`` like torch."""
    return torch.linalg.vector_norm(a - b + _DISTANCE_EPS, dim=-1)


def uniqueness_loss(
    anchor: torch.Tensor, perturbed: torch.Tensor, modality: int, margin: float = 1.0
) -> torch.Tensor:
    """Triplet loss of the uniqueness expert of ``modality``.

    Negative: the output with ``modality`` replaced (it must move away);
    positives: the outputs with any other modality replaced (they must stay).
    The hinge ``max(d(a, p_j) - d(a, n) + margin, 0)`` is averaged over the
    positives and the batch.

    Parameters
    ----------
    anchor : Tensor
        ``[B, C]`` clean output.
    perturbed : Tensor
        ``[M, B, C]`` outputs with each modality replaced in turn (``M >= 2``).
    modality : int
        Index ``i`` of the modality this expert must depend on.
    margin : float, default=1.0
        Triplet margin.

    Returns
    -------
    Tensor
        Scalar loss, ``>= 0``.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import uniqueness_loss
    >>> anchor = torch.zeros(4, 2)
    >>> perturbed = torch.stack([torch.full((4, 2), 3.0), torch.zeros(4, 2)])
    >>> float(uniqueness_loss(anchor, perturbed, modality=0))  # moved by modality 0 only: no loss
    0.0
    >>> float(uniqueness_loss(anchor, perturbed, modality=1)) > 0
    True
    """
    dist = _l2(anchor.unsqueeze(0), perturbed)  # [M, B]
    positives = torch.cat((dist[:modality], dist[modality + 1 :]))
    return F.relu(positives - dist[modality] + margin).mean()


def synergy_loss(
    anchor: torch.Tensor, perturbed: torch.Tensor, distance: str = "cosine", margin: float = 1.0
) -> torch.Tensor:
    """Synergy term: removing any modality must change the output.

    Parameters
    ----------
    anchor : Tensor
        ``[B, C]`` clean output.
    perturbed : Tensor
        ``[K, B, C]`` perturbed outputs.
    distance : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"``: mean cosine similarity, in ``[-1, 1]`` (minimised).
        ``"euclidean"``: mean ``relu(margin - ||a - p_j||)``, in ``[0, margin]``
        (the paper's public code pulls the outputs together here instead).
    margin : float, default=1.0
        Distance beyond which the euclidean term is 0.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import synergy_loss
    >>> anchor = torch.ones(4, 2)
    >>> round(float(synergy_loss(anchor, anchor.expand(3, 4, 2))), 4)  # unchanged: worst case
    1.0
    >>> round(float(synergy_loss(anchor, -anchor.expand(3, 4, 2))), 4)  # reversed: best case
    -1.0
    """
    _check_distance(distance)
    if distance == "cosine":
        return F.cosine_similarity(anchor.unsqueeze(0), perturbed, dim=-1).mean()
    return F.relu(margin - _l2(anchor.unsqueeze(0), perturbed)).mean()


def redundancy_loss(
    anchor: torch.Tensor, perturbed: torch.Tensor, distance: str = "cosine"
) -> torch.Tensor:
    """Redundancy term: removing one modality must not change the output.

    Parameters
    ----------
    anchor : Tensor
        ``[B, C]`` clean output.
    perturbed : Tensor
        ``[K, B, C]`` perturbed outputs.
    distance : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"``: mean ``1 - cos(a, p_j)``, in ``[0, 2]``.
        ``"euclidean"``: mean squared distance ``||a - p_j||^2``, ``>= 0``.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import redundancy_loss
    >>> anchor = torch.ones(4, 2)
    >>> round(float(redundancy_loss(anchor, anchor.expand(3, 4, 2))), 4)  # unchanged: no loss
    0.0
    >>> round(float(redundancy_loss(anchor, anchor.expand(3, 4, 2) + 1, "euclidean")), 4)
    2.0
    """
    _check_distance(distance)
    if distance == "cosine":
        return 1.0 - synergy_loss(anchor, perturbed)
    return (anchor.unsqueeze(0) - perturbed).square().sum(-1).mean()


def _uniqueness_terms(
    anchors: torch.Tensor, perturbed: torch.Tensor, modalities: torch.Tensor, margin: float
) -> torch.Tensor:
    """Uniqueness terms of ``U`` experts at once.

    ``anchors`` ``[U, B, C]``; ``perturbed`` ``[U, K, B, C]``, variant ``k``
    with modality ``modalities[k]`` replaced; expert ``u`` is the uniqueness
    expert of modality ``u``. Returns the terms of the experts whose modality
    is among ``modalities`` (the others have no negative), in expert order.
    """
    n_experts, n_variants, batch = perturbed.shape[:3]
    dist = _l2(anchors.unsqueeze(1), perturbed)  # [U, K, B]
    experts = torch.arange(n_experts, device=anchors.device)
    is_negative = experts.unsqueeze(1) == modalities.unsqueeze(0)  # [U, K]
    negative = (dist * is_negative.unsqueeze(-1)).sum(1)  # [U, B]
    hinge = F.relu(dist - negative.unsqueeze(1) + margin)
    terms = (hinge * (~is_negative).unsqueeze(-1)).sum((1, 2)) / ((n_variants - 1) * batch)
    return terms[is_negative.any(1)]


def interaction_terms(
    outputs: torch.Tensor,
    margin: float = 1.0,
    *,
    modalities: torch.Tensor | Sequence[int] | None = None,
    distance: str = "cosine",
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

    Returns
    -------
    Tensor
        The defined terms, in expert order: the uniqueness terms of the
        experts whose modality was perturbed (none when ``K < 2``: there is no
        positive), then synergy and redundancy. With all ``M`` modalities
        perturbed and ``M >= 2`` this is ``[E]``.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import interaction_terms
    >>> outputs = torch.randn(5, 4, 8, 2)  # 3 + 2 experts; clean + 3 perturbed variants; 8 samples
    >>> interaction_terms(outputs).shape  # uniqueness[0..2], synergy, redundancy
    torch.Size([5])
    """
    _check_distance(distance)
    n_experts, n_perturbed = outputs.shape[0], outputs.shape[1] - 1
    if n_experts < 2:
        raise ValueError(
            f"Interaction terms need the synergy and redundancy experts; E={n_experts}."
        )
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    if distance == "cosine":
        cos = F.cosine_similarity(anchors[-2:].unsqueeze(1), perturbed[-2:], dim=-1).mean((1, 2))
        pair = torch.stack((cos[0], 1.0 - cos[1]))
    else:
        pair = torch.stack(
            (
                synergy_loss(anchors[-2], perturbed[-2], "euclidean", margin),
                redundancy_loss(anchors[-1], perturbed[-1], "euclidean"),
            )
        )
    n_unique = n_experts - 2
    if n_unique == 0 or n_perturbed < 2:
        return pair
    if modalities is None:
        modalities = torch.arange(n_perturbed, device=outputs.device)
    else:
        modalities = torch.as_tensor(modalities, device=outputs.device, dtype=torch.long)
    unique = _uniqueness_terms(anchors[:n_unique], perturbed[:n_unique], modalities, margin)
    return torch.cat((unique, pair))


def interaction_loss(
    outputs: torch.Tensor,
    margin: float = 1.0,
    *,
    modalities: torch.Tensor | Sequence[int] | None = None,
    distance: str = "cosine",
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
    return interaction_terms(outputs, margin, modalities=modalities, distance=distance).mean()

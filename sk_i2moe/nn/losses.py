"""Interaction losses on the outputs of the experts' input variants.

Notation: for one expert, ``anchor`` is its output on the clean input ``[B, C]``
and ``perturbed[j]`` its output with modality ``j`` replaced ``[M, B, C]``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_DISTANCE_EPS = 1e-6  # as in torch.nn.functional.pairwise_distance


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
        Scalar loss.
    """
    dist = _l2(anchor.unsqueeze(0), perturbed)  # [M, B]
    positives = torch.cat((dist[:modality], dist[modality + 1 :]))
    return F.relu(positives - dist[modality] + margin).mean()


def _uniqueness_terms(
    anchors: torch.Tensor, perturbed: torch.Tensor, margin: float
) -> torch.Tensor:
    """Uniqueness terms of ``U`` experts at once.

    ``anchors`` ``[U, B, C]``; ``perturbed`` ``[U, M, B, C]``; expert ``u`` is
    the uniqueness expert of modality ``u``. Returns ``[U]``.
    """
    n_experts, n_modalities = perturbed.shape[:2]
    dist = _l2(anchors.unsqueeze(1), perturbed)  # [U, M, B]
    idx = torch.arange(n_experts, device=anchors.device)
    negative = dist[idx, idx]  # [U, B]
    hinge = F.relu(dist - negative.unsqueeze(1) + margin)
    positive = idx.unsqueeze(1) != torch.arange(n_modalities, device=anchors.device)
    return (hinge * positive.unsqueeze(-1)).sum((1, 2)) / ((n_modalities - 1) * dist.shape[-1])


def synergy_loss(anchor: torch.Tensor, perturbed: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between clean and perturbed outputs (minimised).

    Removing any modality must change a synergy expert's output.

    Parameters
    ----------
    anchor : Tensor
        ``[B, C]`` clean output.
    perturbed : Tensor
        ``[M, B, C]`` perturbed outputs.

    Returns
    -------
    Tensor
        Scalar in ``[-1, 1]``.
    """
    return F.cosine_similarity(anchor.unsqueeze(0), perturbed, dim=-1).mean()


def redundancy_loss(anchor: torch.Tensor, perturbed: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cosine similarity`` between clean and perturbed outputs.

    Removing one modality must not change a redundancy expert's output.

    Parameters
    ----------
    anchor : Tensor
        ``[B, C]`` clean output.
    perturbed : Tensor
        ``[M, B, C]`` perturbed outputs.

    Returns
    -------
    Tensor
        Scalar in ``[0, 2]``.
    """
    return 1.0 - synergy_loss(anchor, perturbed)


def interaction_terms(outputs: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Every expert's interaction term, vectorised over experts.

    Parameters
    ----------
    outputs : Tensor
        ``[E, M + 1, B, C]`` outputs of ``E = M + 2`` experts (uniqueness
        experts of modalities ``0..M-1``, then synergy, then redundancy) on the
        clean input (variant 0) and with modality ``j`` replaced (variant
        ``j + 1``).
    margin : float, default=1.0
        Triplet margin of the uniqueness terms.

    Returns
    -------
    Tensor
        ``[E]`` terms. With a single modality a uniqueness expert has no
        positive and its term is not defined: the result then holds only the
        synergy and redundancy terms ``[2]``.
    """
    n_modalities = outputs.shape[1] - 1
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    cos = F.cosine_similarity(anchors[-2:].unsqueeze(1), perturbed[-2:], dim=-1).mean((1, 2))
    pair = torch.stack((cos[0], 1.0 - cos[1]))
    if n_modalities < 2:
        return pair
    unique = _uniqueness_terms(anchors[:n_modalities], perturbed[:n_modalities], margin)
    return torch.cat((unique, pair))


def interaction_loss(outputs: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Mean of :func:`interaction_terms` (the I2MoE interaction loss).

    Parameters
    ----------
    outputs : Tensor
        ``[E, M + 1, B, C]``, see :func:`interaction_terms`.
    margin : float, default=1.0
        Triplet margin.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    return interaction_terms(outputs, margin).mean()

"""Expert-batched building blocks.

Every tensor that flows through the experts carries a leading *expert* axis of
size ``E``; every layer holds ``E`` independent sets of weights stacked along
that axis and runs them in one batched kernel. The ``M + 1`` input variants
(clean plus one per replaced modality) are stacked along the sample axis, so
the whole ``E x (M + 1)`` grid of expert passes is a single computation.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ExpertLinear(nn.Module):
    """``E`` independent affine maps evaluated with one batched matmul.

    Parameters
    ----------
    n_experts : int
        Number of independent weight sets ``E``.
    in_features, out_features : int
        Size of each input and output sample.

    Notes
    -----
    Each expert is initialised independently with the same distribution as
    :class:`torch.nn.Linear` (uniform in ``[-1/sqrt(in), 1/sqrt(in)]``).
    """

    def __init__(self, n_experts: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_experts, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(n_experts, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh, independent weights for every expert."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """Apply every expert's map.

        Parameters
        ----------
        x : Tensor
            ``[E, *, in]`` (one input per expert) or, with ``shared=True``,
            ``[*, in]`` (one input seen by all experts).
        shared : bool, default=False
            Whether ``x`` lacks the expert axis and is broadcast to all experts.

        Returns
        -------
        Tensor
            ``[E, *, out]``.
        """
        n_experts, in_features, out_features = self.weight.shape
        lead = x.shape[:-1] if shared else x.shape[1:-1]
        flat = x.reshape(1 if shared else n_experts, -1, in_features)
        if shared:
            flat = flat.expand(n_experts, -1, -1)
        out = torch.baddbmm(self.bias.unsqueeze(1), flat, self.weight)
        return out.reshape(n_experts, *lead, out_features)


class ExpertLayerNorm(nn.Module):
    """Layer normalisation over the last axis with per-expert affine parameters.

    Parameters
    ----------
    n_experts : int
        Number of experts ``E``.
    normalized_shape : int
        Size of the last axis.
    eps : float, default=1e-5
        Added to the variance for numerical stability.
    """

    def __init__(self, n_experts: int, normalized_shape: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_experts, normalized_shape))
        self.bias = nn.Parameter(torch.zeros(n_experts, normalized_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``[E, *, H]``."""
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normed = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        return torch.addcmul(self.bias.view(shape), normed, self.weight.view(shape))


def variant_shared_dropout(
    x: torch.Tensor, p: float, n_variants: int, training: bool
) -> torch.Tensor:
    """Dropout whose mask is shared by the input variants of a sample.

    The interaction losses compare a sample's clean output with its perturbed
    outputs; independent dropout masks would make those outputs differ through
    dropout noise alone. Here each (expert, sample, feature) draws one mask that
    all ``n_variants`` copies of the sample use.

    Parameters
    ----------
    x : Tensor
        ``[E, V * B, ...]`` with the variant axis outermost in the sample axis.
    p : float
        Drop probability.
    n_variants : int
        ``V``, the number of stacked variants.
    training : bool
        Dropout is the identity when False or when ``p == 0``.

    Returns
    -------
    Tensor
        Same shape as ``x``.
    """
    if not training or p == 0.0:
        return x
    n_experts, n_rows = x.shape[:2]
    grouped = x.reshape(n_experts, n_variants, n_rows // n_variants, *x.shape[2:])
    mask_shape = (n_experts, 1) + grouped.shape[2:]
    mask = torch.empty(mask_shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - p)
    return (grouped * mask.div_(1.0 - p)).reshape(x.shape)


def build_variants(
    tokens: torch.Tensor, reference: torch.Tensor, tokens_per_modality: int
) -> torch.Tensor:
    """Stack the clean input and one copy per replaced modality.

    Parameters
    ----------
    tokens : Tensor
        ``[B, T, H]`` clean tokens of all modalities, modality-major
        (``T = M * tokens_per_modality``).
    reference : Tensor
        ``[B, T, H]`` replacement tokens; variant ``j + 1`` takes modality
        ``j``'s slice from it.
    tokens_per_modality : int
        Number of tokens ``P`` of each modality.

    Returns
    -------
    Tensor
        ``[M + 1, B, T, H]``: index 0 is the clean input, index ``j + 1`` has
        modality ``j`` replaced.
    """
    n_tokens = tokens.shape[1]
    n_modalities = n_tokens // tokens_per_modality
    owner = torch.arange(n_tokens, device=tokens.device) // tokens_per_modality
    variant = torch.arange(n_modalities + 1, device=tokens.device) - 1
    replace = (owner.unsqueeze(0) == variant.unsqueeze(1)).view(n_modalities + 1, 1, n_tokens, 1)
    return torch.where(replace, reference.unsqueeze(0), tokens.unsqueeze(0))

"""Expert-batched pre-norm transformer (the paper's fusion backbone).

The feed-forward block of each layer is pluggable so that the sparse
mixture-of-experts backbones (:mod:`sk_i2moe.nn.sparse`) reuse everything else.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ._defaults import DEFAULTS
from ._kernels import attention
from .experts import (
    ExpertLayerNorm,
    ExpertLinear,
    FusionOutput,
    _batched_affine,
    check_backbone_option,
    fold_norm,
    normed_linear,
    pool_modalities,
    residual_dropout,
    variant_shared_dropout,
)


class ExpertSelfAttention(nn.Module):
    """Multi-head self-attention with ``E`` independent weight sets.

    Parameters
    ----------
    n_experts, hidden_dim, n_heads : int
        Experts, model width and attention heads (``hidden_dim % n_heads == 0``).
    """

    def __init__(self, n_experts: int, hidden_dim: int, n_heads: int) -> None:
        super().__init__()
        if hidden_dim % n_heads:
            raise ValueError(
                f"hidden_dim={hidden_dim} must be divisible by n_heads={n_heads}; "
                "choose n_heads among the divisors of hidden_dim."
            )
        self.n_heads = n_heads
        self.qkv = ExpertLinear(n_experts, hidden_dim, 3 * hidden_dim)
        self.out = ExpertLinear(n_experts, hidden_dim, hidden_dim)

    def forward(self, x: torch.Tensor, norm: ExpertLayerNorm | None = None) -> torch.Tensor:
        """Attend over the tokens of ``x`` ``[E, N, T, H]``.

        With ``norm``, attend over ``norm(x)`` (the norm's affine map folded
        into the query/key/value projection).
        """
        n_experts, n_rows, n_tokens, hidden = x.shape
        weight, bias = self.qkv.weight, self.qkv.bias
        if norm is not None:
            weight, bias = fold_norm(norm, weight, bias)
            x = F.layer_norm(x, x.shape[-1:], eps=norm.eps)
        # one [.., 3H] projection; q, k and v are strided views of it
        qkv = _batched_affine(x, weight, bias).view(n_experts * n_rows, n_tokens, 3 * hidden)
        q, k, v = qkv.chunk(3, dim=-1)
        attn = attention(q, k, v, self.n_heads)
        return self.out(attn.view(n_experts, n_rows, n_tokens, hidden))


class ExpertFeedForward(nn.Module):
    """Dense feed-forward block ``Linear -> GELU -> Dropout -> Linear`` per expert.

    Parameters
    ----------
    n_experts, hidden_dim, ffn_dim : int
        Experts, model width and inner width.
    dropout : float
        Variant-shared dropout on the inner activations.
    """

    def __init__(self, n_experts: int, hidden_dim: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.ffn_in = ExpertLinear(n_experts, hidden_dim, ffn_dim)
        self.ffn_out = ExpertLinear(n_experts, ffn_dim, hidden_dim)

    def forward(
        self, x: torch.Tensor, n_variants: int, norm: ExpertLayerNorm | None = None
    ) -> tuple[torch.Tensor, None]:
        """Return ``(FFN(x), None)`` for ``x`` ``[E, N, T, H]`` (no auxiliary loss).

        With ``norm``, return ``FFN(norm(x))`` (the norm's affine map folded
        into the first linear layer).
        """
        h = self.ffn_in(x) if norm is None else normed_linear(x, norm, self.ffn_in)
        h = variant_shared_dropout(F.gelu(h), self.dropout, n_variants, self.training)
        return self.ffn_out(h), None


class ExpertTransformerLayer(nn.Module):
    """Pre-norm encoder layer with ``E`` independent weight sets.

    ``x = x + Dropout(Attention(LN(x)))`` then ``x = x + Dropout(FFN(LN(x)))``.

    Parameters
    ----------
    n_experts, hidden_dim, n_heads : int
        Experts, model width and attention heads.
    dropout : float
        Dropout on the two residual branches.
    ffn : torch.nn.Module
        Feed-forward block: ``ffn(x [E, N, T, H], n_variants)`` returns
        ``(y [E, N, T, H], aux_loss or None)``.
    """

    def __init__(
        self, n_experts: int, hidden_dim: int, n_heads: int, dropout: float, ffn: nn.Module
    ) -> None:
        super().__init__()
        self.dropout = dropout
        self.norm1 = ExpertLayerNorm(n_experts, hidden_dim)
        self.attn = ExpertSelfAttention(n_experts, hidden_dim, n_heads)
        self.norm2 = ExpertLayerNorm(n_experts, hidden_dim)
        self.ffn = ffn

    def forward(self, x: torch.Tensor, n_variants: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Transform ``x`` ``[E, N, T, H]``; also return the block's auxiliary loss."""
        x = residual_dropout(
            x, self.attn(x, norm=self.norm1), self.dropout, n_variants, self.training
        )
        if isinstance(self.ffn, ExpertFeedForward):
            y, aux = self.ffn(x, n_variants, norm=self.norm2)
        else:
            y, aux = self.ffn(self.norm2(x), n_variants)
        return residual_dropout(x, y, self.dropout, n_variants, self.training), aux


class ExpertTransformer(nn.Module):
    """Shared skeleton of the transformer backbones (pluggable feed-forward block).

    Learned positional embedding, ``n_layers`` pre-norm encoder layers with
    self-attention across every token of every modality, a final layer norm,
    mean-pooling per modality, concatenation and a linear head. The auxiliary
    losses of the feed-forward blocks are averaged over layers.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`TransformerFusion`.
    n_layers, n_heads : int
        Encoder layers and attention heads.
    dropout : float
        Dropout probability.
    make_ffn : callable
        Called once per layer without arguments; returns the feed-forward block.
    """

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int,
        n_heads: int,
        dropout: float,
        make_ffn: Callable[[], nn.Module],
    ) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.dropout = dropout
        self.position = nn.Parameter(
            0.02 * torch.randn(n_experts, n_modalities * n_tokens, hidden_dim)
        )
        self.layers = nn.ModuleList(
            ExpertTransformerLayer(n_experts, hidden_dim, n_heads, dropout, make_ffn())
            for _ in range(n_layers)
        )
        self.norm = ExpertLayerNorm(n_experts, hidden_dim)
        self.head = ExpertLinear(n_experts, n_modalities * hidden_dim, n_outputs)

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Map tokens ``[N, T, H]`` to logits ``[E, N, C]`` and latents ``[E, N, M * H]``."""
        x = tokens.unsqueeze(0) + self.position.unsqueeze(1)
        x = variant_shared_dropout(x, self.dropout, n_variants, self.training)
        aux = []
        for layer in self.layers:
            x, layer_aux = layer(x, n_variants)
            if layer_aux is not None:
                aux.append(layer_aux)
        # the final norm's affine map commutes with mean-pooling: apply it to the pooled vectors
        normed = F.layer_norm(x, x.shape[-1:], eps=self.norm.eps)
        pooled = pool_modalities(normed, self.n_modalities)
        n_experts, n_rows = pooled.shape[:2]
        latent = torch.addcmul(
            self.norm.bias.unsqueeze(1).unsqueeze(1),
            pooled.view(n_experts, n_rows, self.n_modalities, -1),
            self.norm.weight.unsqueeze(1).unsqueeze(1),
        ).flatten(2)
        return FusionOutput(self.head(latent), latent, torch.stack(aux).mean() if aux else None)


class TransformerFusion(ExpertTransformer):
    """Transformer fusion over all modalities' tokens (the paper's backbone).

    Parameters
    ----------
    n_experts : int
        Number of experts ``E`` (independent copies of the network).
    n_modalities : int
        Number of modalities ``M``.
    n_tokens : int
        Tokens per modality ``P``.
    hidden_dim : int
        Token width ``H``.
    n_outputs : int
        Output size ``C``.
    n_layers : int, default=2
        Encoder layers.
    n_heads : int, default=4
        Attention heads.
    ffn_mult : int, default=2
        Feed-forward width as a multiple of ``hidden_dim``.
    dropout : float, default=0.1
        Dropout probability.
    """

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = DEFAULTS["n_layers"],
        n_heads: int = DEFAULTS["n_heads"],
        ffn_mult: int = 2,
        dropout: float = DEFAULTS["dropout"],
    ) -> None:
        check_backbone_option("ffn_mult", ffn_mult, 1)
        super().__init__(
            n_experts,
            n_modalities,
            n_tokens,
            hidden_dim,
            n_outputs,
            n_layers=n_layers,
            n_heads=n_heads,
            dropout=dropout,
            make_ffn=lambda: ExpertFeedForward(
                n_experts, hidden_dim, ffn_mult * hidden_dim, dropout
            ),
        )

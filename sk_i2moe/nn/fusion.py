"""Fusion backbones, each evaluating all experts at once.

A backbone maps the tokens of all modalities, ``[N, T, H]`` (shared by every
expert), to per-expert logits ``[E, N, C]`` and per-expert pooled latent vectors
``[E, N, D]``. ``N`` is the number of stacked rows (input variants x samples);
``n_variants`` tells dropout which rows belong to the same sample.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .experts import ExpertLayerNorm, ExpertLinear, variant_shared_dropout


def _pool_modalities(x: torch.Tensor, n_modalities: int) -> torch.Tensor:
    """Mean-pool each modality's tokens and concatenate: ``[..., T, H] -> [..., M * H]``."""
    *lead, n_tokens, hidden = x.shape
    per_modality = x.reshape(*lead, n_modalities, n_tokens // n_modalities, hidden)
    return per_modality.mean(-2).reshape(*lead, n_modalities * hidden)


class ExpertTransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer with ``E`` independent weight sets.

    ``x = x + Dropout(Attention(LN(x)))`` then ``x = x + Dropout(FFN(LN(x)))``,
    with fused scaled-dot-product attention.

    Parameters
    ----------
    n_experts, hidden_dim, n_heads : int
        Experts, model width and attention heads (``hidden_dim % n_heads == 0``).
    ffn_dim : int
        Width of the feed-forward block.
    dropout : float
        Dropout on the two residual branches and inside the feed-forward block.
    """

    def __init__(
        self, n_experts: int, hidden_dim: int, n_heads: int, ffn_dim: int, dropout: float
    ) -> None:
        super().__init__()
        if hidden_dim % n_heads:
            raise ValueError(
                f"hidden_dim={hidden_dim} must be divisible by n_heads={n_heads}; "
                "choose n_heads among the divisors of hidden_dim."
            )
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = ExpertLayerNorm(n_experts, hidden_dim)
        self.qkv = ExpertLinear(n_experts, hidden_dim, 3 * hidden_dim)
        self.out = ExpertLinear(n_experts, hidden_dim, hidden_dim)
        self.norm2 = ExpertLayerNorm(n_experts, hidden_dim)
        self.ffn_in = ExpertLinear(n_experts, hidden_dim, ffn_dim)
        self.ffn_out = ExpertLinear(n_experts, ffn_dim, hidden_dim)

    def forward(self, x: torch.Tensor, n_variants: int) -> torch.Tensor:
        """Transform ``x`` of shape ``[E, N, T, H]``."""
        n_experts, n_rows, n_tokens, hidden = x.shape
        head_dim = hidden // self.n_heads
        qkv = self.qkv(self.norm1(x)).view(n_experts * n_rows, n_tokens, 3, self.n_heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = F.scaled_dot_product_attention(q, k, v)
        attn = attn.transpose(1, 2).reshape(n_experts, n_rows, n_tokens, hidden)
        x = x + variant_shared_dropout(self.out(attn), self.dropout, n_variants, self.training)
        h = F.gelu(self.ffn_in(self.norm2(x)))
        h = variant_shared_dropout(h, self.dropout, n_variants, self.training)
        return x + variant_shared_dropout(self.ffn_out(h), self.dropout, n_variants, self.training)


class TransformerFusion(nn.Module):
    """Transformer fusion over all modalities' tokens (the paper's backbone).

    Learned positional embedding, ``n_layers`` pre-norm encoder layers with
    multi-head self-attention across every token of every modality, a final
    layer norm, mean-pooling per modality, concatenation and a linear head.

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
        n_layers: int = 2,
        n_heads: int = 4,
        ffn_mult: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.dropout = dropout
        self.position = nn.Parameter(
            0.02 * torch.randn(n_experts, n_modalities * n_tokens, hidden_dim)
        )
        self.layers = nn.ModuleList(
            ExpertTransformerLayer(n_experts, hidden_dim, n_heads, ffn_mult * hidden_dim, dropout)
            for _ in range(n_layers)
        )
        self.norm = ExpertLayerNorm(n_experts, hidden_dim)
        self.head = ExpertLinear(n_experts, n_modalities * hidden_dim, n_outputs)

    def forward(
        self, tokens: torch.Tensor, n_variants: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return per-expert ``(logits [E, N, C], latent [E, N, M * H])``."""
        x = tokens.unsqueeze(0) + self.position.unsqueeze(1)
        x = variant_shared_dropout(x, self.dropout, n_variants, self.training)
        for layer in self.layers:
            x = layer(x, n_variants)
        latent = _pool_modalities(self.norm(x), self.n_modalities)
        return self.head(latent), latent


class MLPFusion(nn.Module):
    """Concatenation (late) fusion: pooled modality embeddings into an MLP.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`TransformerFusion`.
    n_layers : int, default=2
        Hidden layers of the MLP.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    """

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.dropout = dropout
        widths = [n_modalities * hidden_dim] + [hidden_dim] * n_layers
        self.hidden = nn.ModuleList(
            ExpertLinear(n_experts, w_in, w_out) for w_in, w_out in zip(widths, widths[1:])
        )
        self.head = ExpertLinear(n_experts, widths[-1], n_outputs)

    def forward(
        self, tokens: torch.Tensor, n_variants: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return per-expert ``(logits [E, N, C], latent [E, N, hidden])``."""
        h = _pool_modalities(tokens, self.n_modalities)
        for i, layer in enumerate(self.hidden):
            h = F.gelu(layer(h, shared=i == 0))
            h = variant_shared_dropout(h, self.dropout, n_variants, self.training)
        return self.head(h), h


FUSIONS: dict[str, Callable[..., nn.Module]] = {
    "transformer": TransformerFusion,
    "mlp": MLPFusion,
}


def make_fusion(name: str, **kwargs) -> nn.Module:
    """Build the fusion backbone registered under ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`FUSIONS`.
    **kwargs
        Passed to the backbone's constructor.

    Returns
    -------
    torch.nn.Module
        The expert-batched backbone.
    """
    try:
        factory = FUSIONS[name]
    except KeyError:
        raise ValueError(f"Unknown fusion {name!r}; expected one of {sorted(FUSIONS)}.") from None
    return factory(**kwargs)

"""Sparse mixture-of-experts feed-forward blocks and the transformers built on them.

Two families from the paper's backbones: Switch Transformer layers (top-1
routing over feed-forward experts, Fedus et al. 2022) and MoE++ layers
(top-2 routing over feed-forward experts plus zero-computation experts, Jin et
al. 2024). Every I2MoE expert has its own router and its own feed-forward
experts: weights carry the leading I2MoE-expert axis ``E`` and, for the
feed-forward experts, a second axis ``K``.

Cost choice: tokens are dispatched to the feed-forward experts they are
routed to. For each I2MoE expert ``e`` and feed-forward expert ``k`` the
(token, route) assignments are gathered into one row group, padded to the
largest group, and all ``E x K`` groups run as two batched matmuls; the
outputs, scaled by the gate weights, are added back to their tokens. A
token costs the FLOPs of the experts it is routed to (one for top-1, at most
``top_k`` for MoE++), not of all ``K``. There is no Python loop over tokens
or experts and no capacity limit (no token is dropped); unrouted experts
contribute exactly 0, as in the dense formulation
``sum_k g_k (h_k W2_k + b2_k)`` with ``g_k = 0`` off the chosen routes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._defaults import DEFAULTS
from ._kernels import keep_mask
from .experts import ExpertLinear, check_backbone_option
from .transformer import ExpertTransformer


def load_balancing_loss(probs: torch.Tensor, assigned: torch.Tensor) -> torch.Tensor:
    """Switch-Transformer load-balancing loss ``R * sum_i f_i * P_i``, averaged over experts.

    Parameters
    ----------
    probs : Tensor
        ``[E, ..., R]`` router probabilities of every token over ``R`` routes,
        separately for each of the ``E`` I2MoE experts.
    assigned : Tensor
        ``[E, ..., R]`` fraction of each token dispatched to each route (one-hot
        for top-1; ``1 / k`` on each chosen route for top-``k``).

    Returns
    -------
    Tensor
        Scalar, 1 for perfectly uniform routing and larger otherwise. The
        gradient flows through ``probs`` (``f_i`` is not differentiable); the
        loss is *not* detached from the graph.
    """
    dims = tuple(range(1, probs.dim() - 1))
    fraction = assigned.mean(dims)  # f_i, [E, R]
    mean_prob = probs.mean(dims)  # P_i, [E, R]
    return (probs.shape[-1] * (fraction * mean_prob).sum(-1)).mean()


class _DenseExperts(nn.Module):
    """``K`` feed-forward experts per I2MoE expert, each run on the tokens routed to it.

    ``forward(x, gates)`` returns ``sum_k gates[..., k] * FFN_k(x)``, evaluating
    ``FFN_k`` only where ``gates[..., k] != 0`` (see the module docstring).
    Dropout inside the experts draws one mask per (I2MoE expert, sample,
    token, feed-forward expert), shared by the input variants of the sample.
    """

    def __init__(
        self, n_experts: int, n_ffn_experts: int, hidden_dim: int, ffn_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.dropout = dropout
        self.ffn_in = ExpertLinear((n_experts, n_ffn_experts), hidden_dim, ffn_dim)
        self.ffn_out = ExpertLinear((n_experts, n_ffn_experts), ffn_dim, hidden_dim)

    def forward(self, x: torch.Tensor, gates: torch.Tensor, n_variants: int) -> torch.Tensor:
        """Return ``sum_k gates[..., k] * FFN_k(x)`` ``[E, N, T, H]``.

        ``x`` is ``[E, N, T, H]`` and ``gates`` ``[E, N, T, K]``.
        """
        n_experts, n_ffn, hidden, ffn_dim = self.ffn_in.weight.shape
        n_rows, n_tokens = x.shape[1], x.shape[2]
        per_expert = n_rows * n_tokens  # tokens of one I2MoE expert
        n_groups = n_experts * n_ffn
        # assignments (e, k, token) sorted by group e * K + k
        routed = (gates != 0).reshape(n_experts, per_expert, n_ffn).transpose(1, 2)
        e_idx, k_idx, t_idx = routed.nonzero(as_tuple=True)
        group = e_idx * n_ffn + k_idx
        counts = torch.bincount(group, minlength=n_groups)
        capacity = max(int(counts.max()), 1) if group.numel() else 1
        pos = torch.arange(group.numel(), device=x.device) - (counts.cumsum(0) - counts)[group]
        slot = group * capacity + pos
        token = e_idx * per_expert + t_idx  # row of x.reshape(E * N * T, H)
        # padding slots read row 0; their outputs are never gathered back
        source = torch.zeros(n_groups * capacity, dtype=torch.long, device=x.device)
        source[slot] = token
        xs = x.reshape(-1, hidden).index_select(0, source).view(n_groups, capacity, hidden)
        h = torch.baddbmm(
            self.ffn_in.bias.reshape(n_groups, 1, ffn_dim),
            xs,
            self.ffn_in.weight.reshape(n_groups, hidden, ffn_dim),
        )
        h = F.gelu(h)
        if self.training and self.dropout > 0.0:
            # the dense mask [E, 1, B, T, K, F] (one draw per sample, shared by
            # its variants), read at each assignment's (e, sample, token, k)
            batch = n_rows // n_variants
            mask = keep_mask(h.new_empty(n_experts, batch * n_tokens, n_ffn, ffn_dim), self.dropout)
            cell = (e_idx * (batch * n_tokens) + t_idx % (batch * n_tokens)) * n_ffn + k_idx
            rows = torch.zeros(n_groups * capacity, dtype=torch.long, device=x.device)
            rows[slot] = cell
            h = h * mask.view(-1, ffn_dim).index_select(0, rows).view_as(h)
        y = torch.baddbmm(
            self.ffn_out.bias.reshape(n_groups, 1, hidden),
            h,
            self.ffn_out.weight.reshape(n_groups, ffn_dim, hidden),
        )
        weight = gates.reshape(n_experts, per_expert, n_ffn)[e_idx, t_idx, k_idx]
        y = y.view(-1, hidden).index_select(0, slot) * weight.unsqueeze(-1)
        # under CPU autocast y is bfloat16 while x stays float32: add in x's dtype
        out = x.new_zeros(n_experts * per_expert, hidden).index_add(0, token, y.to(x.dtype))
        return out.view_as(x)


class SwitchFeedForward(nn.Module):
    """Top-1 routed sparse feed-forward block (Switch Transformer).

    ``y = p_i(x) * FFN_i(x)`` with ``i = argmax_k p_k(x)`` and
    ``p = softmax(router(x))``; auxiliary loss :func:`load_balancing_loss`.

    Parameters
    ----------
    n_experts : int
        I2MoE experts ``E`` (each has its own router and FFN experts).
    hidden_dim, ffn_dim : int
        Model width and inner width of every FFN expert.
    n_ffn_experts : int
        Feed-forward experts ``K`` per layer.
    dropout : float
        Variant-shared dropout inside the FFN experts.
    """

    def __init__(
        self, n_experts: int, hidden_dim: int, ffn_dim: int, n_ffn_experts: int, dropout: float
    ) -> None:
        super().__init__()
        self.router = ExpertLinear(n_experts, hidden_dim, n_ffn_experts)
        self.experts = _DenseExperts(n_experts, n_ffn_experts, hidden_dim, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, n_variants: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(y [E, N, T, H], load-balancing loss)`` for ``x`` ``[E, N, T, H]``."""
        probs = torch.softmax(self.router(x), dim=-1)  # [E, N, T, K]
        choice = F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
        y = self.experts(x, probs * choice, n_variants)
        return y, load_balancing_loss(probs, choice)


class MoEPlusPlusFeedForward(nn.Module):
    """MoE++ block: FFN experts plus zero-computation experts, top-k routing.

    Routes, in order: ``K`` feed-forward experts, ``n_constant_experts``
    constant experts (``a_1 x + a_2 v`` with ``[a_1, a_2] = softmax(W x)`` and a
    learned vector ``v``), one copy expert (``x``) and one zero expert (``0``).
    Each token is sent to its ``top_k`` most probable routes; the chosen
    probabilities are renormalised to sum to 1. The MoE++ paper's gating
    residuals (router logits carried across layers) are not used.

    Parameters
    ----------
    n_experts : int
        I2MoE experts ``E``.
    hidden_dim, ffn_dim : int
        Model width and inner width of every FFN expert.
    n_ffn_experts : int
        Feed-forward experts ``K``.
    n_constant_experts : int
        Constant experts.
    top_k : int
        Routes per token.
    dropout : float
        Variant-shared dropout inside the FFN experts.
    """

    def __init__(
        self,
        n_experts: int,
        hidden_dim: int,
        ffn_dim: int,
        n_ffn_experts: int,
        n_constant_experts: int,
        top_k: int,
        dropout: float,
    ) -> None:
        super().__init__()
        n_routes = n_ffn_experts + n_constant_experts + 2
        if not 1 <= top_k <= n_routes:
            raise ValueError(f"top_k={top_k} must be between 1 and the {n_routes} routes.")
        self.top_k = top_k
        self.n_ffn_experts = n_ffn_experts
        self.router = ExpertLinear(n_experts, hidden_dim, n_routes)
        self.experts = _DenseExperts(n_experts, n_ffn_experts, hidden_dim, ffn_dim, dropout)
        self.constant_mix = ExpertLinear((n_experts, n_constant_experts), hidden_dim, 2)
        self.constant = nn.Parameter(torch.randn(n_experts, n_constant_experts, hidden_dim))

    def forward(self, x: torch.Tensor, n_variants: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(y [E, N, T, H], load-balancing loss)`` for ``x`` ``[E, N, T, H]``."""
        n_experts, n_const, hidden = self.constant.shape
        n_ffn = self.n_ffn_experts
        probs = torch.softmax(self.router(x), dim=-1)  # [E, N, T, R]
        top_p, top_i = probs.topk(self.top_k, dim=-1)
        gates = torch.zeros_like(probs).scatter(-1, top_i, top_p / top_p.sum(-1, keepdim=True))
        y = self.experts(x, gates[..., :n_ffn], n_variants)
        # constant experts: sum_c g_c (a_c0 x + a_c1 v_c), with [a_c0, a_c1] = softmax(x W_c)
        w_mix = self.constant_mix.weight.permute(0, 2, 1, 3).reshape(n_experts, hidden, -1)
        mix = torch.baddbmm(
            self.constant_mix.bias.reshape(n_experts, 1, -1),
            x.reshape(n_experts, -1, hidden),
            w_mix,
        )
        mix = torch.softmax(mix.view(*x.shape[:-1], n_const, 2), dim=-1)  # [E, N, T, Kc, 2]
        g_const = gates[..., n_ffn : n_ffn + n_const]
        g_copy = gates[..., n_ffn + n_const]  # the copy expert
        keep = g_copy + (g_const * mix[..., 0]).sum(-1)
        toward = torch.bmm((g_const * mix[..., 1]).reshape(n_experts, -1, n_const), self.constant)
        y = y + keep.unsqueeze(-1) * x + toward.view_as(x)
        # the zero expert (last route) adds nothing
        assigned = F.one_hot(top_i, probs.shape[-1]).to(probs.dtype).mean(-2)
        return y, load_balancing_loss(probs, assigned)


class SwitchTransformerFusion(ExpertTransformer):
    """Transformer whose feed-forward blocks are Switch (top-1) sparse MoE layers.

    The backbone's auxiliary loss is the load-balancing loss averaged over
    layers and I2MoE experts (1 when routing is uniform).

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`~sk_i2moe.nn.fusion.TransformerFusion`.
    n_layers : int, default=2
        Encoder layers.
    n_heads : int, default=4
        Attention heads.
    ffn_mult : int, default=2
        Inner width of every feed-forward expert as a multiple of ``hidden_dim``.
    dropout : float, default=0.1
        Dropout probability.
    n_ffn_experts : int, default=4
        Feed-forward experts per layer.
    """

    #: its layers route tokens by their values, which torch's ONNX exporter cannot trace
    onnx_exportable = False

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
        n_ffn_experts: int = 4,
    ) -> None:
        check_backbone_option("ffn_mult", ffn_mult, 1)
        check_backbone_option("n_ffn_experts", n_ffn_experts, 1)
        super().__init__(
            n_experts,
            n_modalities,
            n_tokens,
            hidden_dim,
            n_outputs,
            n_layers=n_layers,
            n_heads=n_heads,
            dropout=dropout,
            make_ffn=lambda: SwitchFeedForward(
                n_experts, hidden_dim, ffn_mult * hidden_dim, n_ffn_experts, dropout
            ),
        )


class MoEPlusPlusFusion(ExpertTransformer):
    """Transformer whose feed-forward blocks are MoE++ layers.

    The backbone's auxiliary loss is the load-balancing loss over all routes
    (zero-computation ones included), averaged over layers and I2MoE experts.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`~sk_i2moe.nn.fusion.TransformerFusion`.
    n_layers : int, default=2
        Encoder layers.
    n_heads : int, default=4
        Attention heads.
    ffn_mult : int, default=2
        Inner width of every feed-forward expert as a multiple of ``hidden_dim``.
    dropout : float, default=0.1
        Dropout probability.
    n_ffn_experts : int, default=4
        Feed-forward experts per layer.
    n_constant_experts : int, default=1
        Constant experts per layer, at least one (plus one copy and one zero
        expert).
    top_k : int, default=2
        Routes per token.
    """

    #: its layers route tokens by their values, which torch's ONNX exporter cannot trace
    onnx_exportable = False

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
        n_ffn_experts: int = 4,
        n_constant_experts: int = 1,
        top_k: int = 2,
    ) -> None:
        check_backbone_option("ffn_mult", ffn_mult, 1)
        check_backbone_option("n_ffn_experts", n_ffn_experts, 1)
        check_backbone_option("n_constant_experts", n_constant_experts, 1)
        super().__init__(
            n_experts,
            n_modalities,
            n_tokens,
            hidden_dim,
            n_outputs,
            n_layers=n_layers,
            n_heads=n_heads,
            dropout=dropout,
            make_ffn=lambda: MoEPlusPlusFeedForward(
                n_experts,
                hidden_dim,
                ffn_mult * hidden_dim,
                n_ffn_experts,
                n_constant_experts,
                top_k,
                dropout,
            ),
        )

"""MLP-style fusion backbones: concatenation, early, late, low-rank tensor, InterpretCC.

Every backbone maps tokens ``[N, T, H]`` (``T = M * P``, modality-major, shared
by all experts) to a :class:`~sk_i2moe.nn.experts.FusionOutput` with per-expert
logits ``[E, N, C]`` and latents ``[E, N, D]``, all ``E`` experts in one batched
computation. ``n_variants`` tells dropout (and InterpretCC's gate noise) which
rows are input variants of the same sample, so that they share their masks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._defaults import DEFAULTS
from .experts import (
    AloneOutput,
    ExpertLinear,
    ExpertMLP,
    FusionOutput,
    alone_from_variants,
    build_variants,
    check_backbone_option,
    pool_modalities,
    replaced_modalities,
    single_modality_variants,
    variant_shared_dropout,
)


def _per_modality(tokens: torch.Tensor, n_modalities: int) -> torch.Tensor:
    """Mean-pool each modality's tokens: ``[N, T, H] -> [N, M, H]``."""
    n_rows, n_tokens, hidden = tokens.shape
    return tokens.view(n_rows, n_modalities, n_tokens // n_modalities, hidden).mean(2)


class MLPFusion(nn.Module):
    """Concatenation fusion: mean-pooled modality embeddings, concatenated, into an MLP.

    Parameters
    ----------
    n_experts : int
        Number of experts ``E``.
    n_modalities : int
        Number of modalities ``M``.
    n_tokens : int
        Tokens per modality ``P``.
    hidden_dim : int
        Token width ``H`` and width of the hidden layers.
    n_outputs : int
        Output size ``C``.
    n_layers : int, default=2
        Hidden layers of the MLP.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    """

    #: members of an ensemble can run as one batched axis through it (torch.func.vmap)
    vmappable = True

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = DEFAULTS["n_layers"],
        dropout: float = DEFAULTS["dropout"],
    ) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.mlp = ExpertMLP(
            n_experts, n_modalities * hidden_dim, hidden_dim, n_layers, n_outputs, dropout
        )

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Return per-expert logits ``[E, N, C]`` and last hidden layer ``[E, N, H]``."""
        pooled = pool_modalities(tokens, self.n_modalities)
        return FusionOutput(*self.mlp(pooled, n_variants, shared=True))

    def forward_expert(self, tokens: torch.Tensor, expert: int) -> torch.Tensor:
        """Expert ``expert``'s logits ``[N, C]`` from :meth:`forward`, the others not computed."""
        pooled = pool_modalities(tokens, self.n_modalities)
        return self.mlp.logits_of(pooled, slice(expert, expert + 1), shared=True)[0]

    def forward_variants(
        self,
        tokens: torch.Tensor,
        reference: torch.Tensor,
        modalities: torch.Tensor | Sequence[int] | None = None,
    ) -> FusionOutput:
        """:meth:`forward` on the clean input and each replaced-modality variant.

        Equal to ``forward(build_variants(tokens, reference, P, modalities).flatten(0, 1),
        n_variants=K + 1)`` but cheaper: the first layer is linear in the pooled
        modalities, so each variant's pre-activation is the clean one plus the
        replaced modality's reference part minus its clean part. The first
        layer costs two passes over the pooled inputs instead of ``K + 1``.

        Parameters
        ----------
        tokens : Tensor
            ``[B, T, H]`` clean tokens.
        reference : Tensor
            ``[B, T', H]`` (or broadcastable) replacement tokens, ``T'`` a
            multiple of ``M`` (not necessarily ``T``): only each modality's mean
            reference token enters, so one token per modality suffices.
        modalities : Tensor or sequence of int, optional
            Modalities replaced, one variant each (default: all, in order).

        Returns
        -------
        FusionOutput
            Logits ``[E, (K + 1) * B, C]``, variant-major as with ``build_variants``.
        """
        batch, n_modalities = tokens.shape[0], self.n_modalities
        replaced = replaced_modalities(modalities, n_modalities)
        pooled = pool_modalities(tokens, n_modalities).view(batch, n_modalities, -1)
        ref = pool_modalities(reference, n_modalities).expand(batch, -1)
        ref = ref.view(batch, n_modalities, -1)
        if not self.mlp.hidden:  # no first hidden layer to decompose: one token per modality
            variants = build_variants(pooled, ref, 1, replaced)
            return self(variants.flatten(0, 1), n_variants=len(replaced) + 1)
        first = self.mlp.hidden[0]
        n_experts, _, width = first.weight.shape
        weight = first.weight.view(n_experts, n_modalities, -1, width)  # [E, M, H, W]
        clean_parts = torch.einsum("bmh,emhw->embw", pooled, weight)  # [E, M, B, W]
        replaced_parts = clean_parts
        if modalities is not None:  # a subset: gather it (all modalities need no indexing)
            ref, weight = ref[:, replaced], weight[:, replaced]
            replaced_parts = clean_parts[:, replaced]
        ref_parts = torch.einsum("bkh,ekhw->ekbw", ref, weight)  # [E, K, B, W]
        clean = clean_parts.sum(1) + first.bias.unsqueeze(1)  # [E, B, W]
        variants = clean.unsqueeze(1) + ref_parts - replaced_parts
        pre = torch.cat((clean.unsqueeze(1), variants), dim=1).flatten(1, 2)
        return FusionOutput(*self.mlp.forward_from_first(pre, len(replaced) + 1))

    def forward_alone(self, tokens: torch.Tensor, n_unique: int) -> AloneOutput:
        """The structured mixture's passes: each expert on the rows it needs.

        Equal to ``alone_from_variants(forward(single_modality_variants(tokens,
        P).flatten(0, 1), n_variants=M + 1), n_unique, M)`` but cheaper, in two
        ways. The first layer is linear in the pooled modalities, so the
        pre-activation of modality ``m`` alone (every other modality absent,
        its pooled embedding 0) is ``m``'s partial product plus the bias, and
        the clean one is the sum of the partial products plus the bias. And a
        uniqueness expert runs on its own modality's row only, not on all
        ``M + 1``: ``U + (E - U)(M + 1)`` rows per sample instead of
        ``E (M + 1)``. Dropout masks are shared by a sample's rows within an
        expert, as in :meth:`forward`. In training the non-uniqueness experts
        also run with every modality absent, one row per sample sharing its
        mask (:attr:`AloneOutput.none`), as the stacked variants do with
        ``absent_too=True``.

        Parameters
        ----------
        tokens : Tensor
            ``[B, T, H]`` clean tokens (an absent modality's tokens are 0).
        n_unique : int
            Number of uniqueness experts ``U``, the first ``U`` on the expert
            axis (``U = M`` or 0).

        Returns
        -------
        AloneOutput
        """
        batch, n_modalities = tokens.shape[0], self.n_modalities
        absent_too = self.training
        if not self.mlp.hidden:  # no first hidden layer to decompose
            variants = single_modality_variants(tokens, tokens.shape[1] // n_modalities, absent_too)
            fused = self(variants.flatten(0, 1), n_variants=variants.shape[0])
            return alone_from_variants(fused, n_unique, n_modalities, absent_too)
        pooled = pool_modalities(tokens, n_modalities).view(batch, n_modalities, -1)
        first = self.mlp.hidden[0]
        n_experts, _, width = first.weight.shape
        weight = first.weight.view(n_experts, n_modalities, -1, width)  # [E, M, H, W]
        bias = first.bias.unsqueeze(1)  # [E, 1, W]
        parts = torch.einsum("bmh,emhw->embw", pooled, weight[n_unique:])  # [R, M, B, W]
        rest_bias = bias[n_unique:]
        clean = parts.sum(1) + rest_bias  # [R, B, W]
        alone = parts + rest_bias.unsqueeze(1)  # [R, M, B, W]
        rows = [clean.unsqueeze(1), alone]
        if absent_too:  # every modality absent: the bias alone, a row per sample
            rows.append(rest_bias.unsqueeze(1).expand(-1, 1, batch, -1))
        rest_pre = torch.cat(rows, dim=1).flatten(1, 2)
        n_variants = n_modalities + 1 + absent_too
        rest = self.mlp.forward_from_first(rest_pre, n_variants, slice(n_unique, None))[0]
        rest = rest.unflatten(1, (n_variants, batch))  # [R, V, B, C]
        if n_unique:  # uniqueness expert u reads modality u only: [U, B, W]
            own = weight[:n_unique].diagonal(dim1=0, dim2=1).permute(2, 0, 1)  # [U, H, W]
            pre = torch.baddbmm(bias[:n_unique], pooled[:, :n_unique].transpose(0, 1), own)
            unique = self.mlp.forward_from_first(pre, 1, slice(None, n_unique))[0]
        else:
            unique = rest.new_empty(0, *rest.shape[2:])
        none = rest[:, -1] if absent_too else None
        return AloneOutput(unique, rest[:, 0], rest[:, 1 : n_modalities + 1], None, none)


class EarlyFusion(nn.Module):
    """Early fusion: every token of every modality, flattened, into one MLP.

    No pooling: a sample's ``[T, H]`` tokens are concatenated feature-wise into
    a ``T * H`` vector that the MLP reads whole.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`MLPFusion`.
    n_layers : int, default=2
        Hidden layers of the MLP.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    """

    #: members of an ensemble can run as one batched axis through it (torch.func.vmap)
    vmappable = True

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = DEFAULTS["n_layers"],
        dropout: float = DEFAULTS["dropout"],
    ) -> None:
        super().__init__()
        self.mlp = ExpertMLP(
            n_experts,
            n_modalities * n_tokens * hidden_dim,
            hidden_dim,
            n_layers,
            n_outputs,
            dropout,
        )

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Return per-expert logits ``[E, N, C]`` and last hidden layer ``[E, N, H]``."""
        return FusionOutput(*self.mlp(tokens.flatten(1), n_variants, shared=True))


class LateFusion(nn.Module):
    """Late fusion: one small MLP head per modality, modality logits combined.

    Each modality's mean-pooled embedding goes through its own MLP to logits;
    the experts' outputs are the mean of the modality logits
    (``combine="mean"``) or a learned per-expert convex combination
    (``combine="weighted"``, softmax of per-expert modality scores starting at
    the mean).

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`MLPFusion`.
    n_layers : int, default=2
        Hidden layers of each modality head.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    combine : {"mean", "weighted"}, default="mean"
        How the modality logits are fused.
    """

    #: members of an ensemble can run as one batched axis through it (torch.func.vmap)
    vmappable = True

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = DEFAULTS["n_layers"],
        dropout: float = DEFAULTS["dropout"],
        combine: str = "mean",
    ) -> None:
        super().__init__()
        if combine not in ("mean", "weighted"):
            raise ValueError(f"Unknown combine {combine!r}; expected 'mean' or 'weighted'.")
        self.n_experts = n_experts
        self.n_modalities = n_modalities
        self.heads = ExpertMLP(
            (n_experts, n_modalities), hidden_dim, hidden_dim, n_layers, n_outputs, dropout
        )
        self.modality_scores = (
            nn.Parameter(torch.zeros(n_experts, n_modalities)) if combine == "weighted" else None
        )

    def modality_weights(self) -> torch.Tensor:
        """Weights ``[E, M]`` of the modality logits (rows sum to 1)."""
        if self.modality_scores is None:
            return self.heads.head.weight.new_full(
                (self.n_experts, self.n_modalities), 1.0 / self.n_modalities
            )
        return torch.softmax(self.modality_scores, dim=-1)

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Return fused logits ``[E, N, C]`` and concatenated head latents ``[E, N, M * H]``."""
        pooled = _per_modality(tokens, self.n_modalities).transpose(0, 1)  # [M, N, H]
        logits, hidden = self.heads(pooled.expand(self.n_experts, *pooled.shape), n_variants)
        fused = torch.einsum("em,emnc->enc", self.modality_weights(), logits)
        return FusionOutput(fused, hidden.transpose(1, 2).flatten(2))


class LowRankTensorFusion(nn.Module):
    """Low-rank multimodal tensor fusion (Liu et al., ACL 2018), then an MLP head.

    Each modality's pooled embedding ``h_m`` gets a constant 1 appended,
    ``z_m = [h_m, 1]``; with rank-``r`` factors ``W_m^(i)`` the fused vector is
    ``sum_i w_i prod_m (z_m W_m^(i)) + b``, the outer-product tensor fusion
    without building the tensor. The MLP head maps it to the outputs.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`MLPFusion`.
    rank : int, default=4
        Rank ``r`` of the factorisation.
    fusion_dim : int, optional
        Width of the fused vector, at least 1 (default ``hidden_dim``).
    n_layers : int, default=2
        Hidden layers of the head.
    dropout : float, default=0.1
        Dropout on the fused vector and after each hidden layer.
    """

    #: members of an ensemble can run as one batched axis through it (torch.func.vmap)
    vmappable = True

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        rank: int = DEFAULTS["rank"],
        fusion_dim: int | None = None,
        n_layers: int = DEFAULTS["n_layers"],
        dropout: float = DEFAULTS["dropout"],
    ) -> None:
        super().__init__()
        if fusion_dim is not None:
            check_backbone_option("fusion_dim", fusion_dim, 1)
        width = hidden_dim if fusion_dim is None else fusion_dim
        self.n_modalities = n_modalities
        self.rank = rank
        self.dropout = dropout
        # Xavier-normal scales, as in the reference implementation
        std = math.sqrt(2.0 / (hidden_dim + 1 + width))
        self.factors = nn.Parameter(
            std * torch.randn(n_experts, n_modalities, hidden_dim + 1, rank * width)
        )
        self.rank_weights = nn.Parameter(math.sqrt(2.0 / (1 + rank)) * torch.randn(n_experts, rank))
        self.fusion_bias = nn.Parameter(torch.zeros(n_experts, width))
        self.head = ExpertMLP(n_experts, width, hidden_dim, n_layers, n_outputs, dropout)

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Return logits ``[E, N, C]`` and the fused vectors ``[E, N, fusion_dim]``."""
        pooled = _per_modality(tokens, self.n_modalities)
        z = torch.cat((pooled, pooled.new_ones(*pooled.shape[:-1], 1)), dim=-1)  # [N, M, H+1]
        proj = torch.einsum("nmh,emhk->emnk", z, self.factors)
        per_rank = proj.prod(1).unflatten(-1, (self.rank, -1))  # [E, N, r, D]
        fused = torch.einsum("enrd,er->end", per_rank, self.rank_weights)
        fused = fused + self.fusion_bias.unsqueeze(1)
        logits, _ = self.head(
            variant_shared_dropout(fused, self.dropout, n_variants, self.training), n_variants
        )
        return FusionOutput(logits, fused)


class InterpretCCFusion(nn.Module):
    """InterpretCC-style modality gating (Swamy et al., 2024) before an MLP fusion.

    A gate network per modality reads that modality's pooled embedding and
    gives a gate logit ``g_m``. In training the gate is a relaxed Bernoulli
    sample (Gumbel-sigmoid) ``sigmoid((g_m + L) / gate_temperature)``, with
    logistic noise ``L`` shared by the input variants of a sample; in
    evaluation it is hard: ``1`` when ``sigmoid(g_m) > 0.5``, else ``0``, with
    no noise. The gated (masked) embeddings are concatenated into an MLP.
    :meth:`gates` returns the gate values, so which modalities an expert used
    for a sample can be read off in evaluation mode.

    Parameters
    ----------
    n_experts, n_modalities, n_tokens, hidden_dim, n_outputs : int
        As in :class:`MLPFusion`.
    n_layers : int, default=2
        Hidden layers of the fusion MLP.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    gate_temperature : float, default=1.0
        Temperature of the relaxed training gates, above 0 (lower is closer
        to 0/1).
    straight_through : bool, default=False
        Use hard 0/1 gates in training too, with the relaxed sample's gradient
        (straight-through estimator), as the paper's code does.
    """

    #: members of an ensemble can run as one batched axis through it (torch.func.vmap)
    vmappable = True

    def __init__(
        self,
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        *,
        n_layers: int = DEFAULTS["n_layers"],
        dropout: float = DEFAULTS["dropout"],
        gate_temperature: float = 1.0,
        straight_through: bool = False,
    ) -> None:
        super().__init__()
        check_backbone_option("gate_temperature", gate_temperature, 0, integer=False)
        self.n_experts = n_experts
        self.n_modalities = n_modalities
        self.gate_temperature = gate_temperature
        self.straight_through = straight_through
        self.gate_hidden = ExpertLinear((n_experts, n_modalities), hidden_dim, hidden_dim)
        self.gate_out = ExpertLinear((n_experts, n_modalities), hidden_dim, 1)
        self.mlp = ExpertMLP(
            n_experts, n_modalities * hidden_dim, hidden_dim, n_layers, n_outputs, dropout
        )

    def _gates(self, pooled: torch.Tensor, n_variants: int) -> torch.Tensor:
        """Gate values ``[E, N, M]`` from per-modality pooled embeddings ``[N, M, H]``."""
        per_modality = pooled.transpose(0, 1).expand(self.n_experts, -1, -1, -1)
        logits = self.gate_out(torch.relu(self.gate_hidden(per_modality)))  # [E, M, N, 1]
        logits = logits.squeeze(-1).transpose(1, 2)  # [E, N, M]
        if not self.training:
            return (logits > 0).to(logits.dtype)
        n_experts, n_rows, n_modalities = logits.shape
        tiny = torch.finfo(logits.dtype).tiny
        u = torch.rand(
            n_experts,
            1,
            n_rows // n_variants,
            n_modalities,
            device=logits.device,
            dtype=logits.dtype,
        ).clamp(tiny, 1.0 - 1e-7)
        noise = (u.log() - torch.log1p(-u)).expand(-1, n_variants, -1, -1).reshape(logits.shape)
        soft = torch.sigmoid((logits + noise) / self.gate_temperature)
        if self.straight_through:
            return (soft > 0.5).to(soft.dtype) - soft.detach() + soft
        return soft

    def gates(self, tokens: torch.Tensor, n_variants: int = 1) -> torch.Tensor:
        """Gate of every expert, row and modality.

        Parameters
        ----------
        tokens : Tensor
            ``[N, T, H]`` tokens.
        n_variants : int, default=1
            Stacked input variants (rows of a sample share their gate noise).

        Returns
        -------
        Tensor
            ``[E, N, M]``: exactly 0 or 1 in evaluation mode; a fresh relaxed
            sample in ``(0, 1)`` in training mode.
        """
        return self._gates(_per_modality(tokens, self.n_modalities), n_variants)

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Return logits ``[E, N, C]`` and the MLP's last hidden layer ``[E, N, H]``."""
        pooled = _per_modality(tokens, self.n_modalities)  # [N, M, H]
        gates = self._gates(pooled, n_variants)  # [E, N, M]
        masked = (pooled.unsqueeze(0) * gates.unsqueeze(-1)).flatten(2)
        return FusionOutput(*self.mlp(masked, n_variants))

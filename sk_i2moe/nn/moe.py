"""InteractionMoE: encoders -> interaction experts -> reweighting -> output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .encoders import make_encoder
from .experts import build_variants
from .fusion import make_fusion
from .losses import interaction_loss

PERTURBATIONS = ("noise", "mean", "zero")


class MoEOutput(NamedTuple):
    """What :class:`InteractionMoE` returns for a batch.

    Attributes
    ----------
    logits : Tensor
        ``[B, C]`` mixture output, ``sum_e weights[:, e] * expert_logits[:, e]``.
    weights : Tensor
        ``[B, E]`` interaction weights (non-negative, rows sum to 1).
    expert_logits : Tensor
        ``[B, E, C]`` each expert's output on the clean input.
    interaction_loss : Tensor or None
        Scalar interaction loss; only in training mode with the losses enabled.
    """

    logits: torch.Tensor
    weights: torch.Tensor
    expert_logits: torch.Tensor
    interaction_loss: torch.Tensor | None


class ReweightingMLP(nn.Module):
    """MLP scoring the experts from the pooled clean embeddings.

    Parameters
    ----------
    in_features : int
        ``M * H``, the concatenated mean-pooled embeddings.
    n_experts : int
        Number of experts ``E``.
    hidden : int, default=256
        Width of the hidden layers.
    n_layers : int, default=2
        Number of linear layers (1 gives a linear scorer).
    """

    def __init__(
        self, in_features: int, n_experts: int, hidden: int = 256, n_layers: int = 2
    ) -> None:
        super().__init__()
        widths = [in_features] + [hidden] * (n_layers - 1) + [n_experts]
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, pooled: torch.Tensor, temperature: float) -> torch.Tensor:
        """Return ``softmax(scores / temperature)``, ``[B, E]``."""
        return torch.softmax(self.net(pooled) / temperature, dim=-1)


class InteractionMoE(nn.Module):
    """Interpretable multimodal interaction-aware mixture of experts (I2MoE).

    Each modality is encoded into ``n_tokens`` tokens. ``E = M + 2`` experts
    (one uniqueness expert per modality, a synergy and a redundancy expert),
    each a full fusion network with its own weights, map all tokens to logits.
    During training every expert is also evaluated with each modality replaced
    by a reference, all ``E x (M + 1)`` passes in one batched computation, and
    the interaction loss is computed from those outputs. A reweighting MLP on
    the pooled clean embeddings gives per-sample weights over the experts; the
    output is the weighted sum of the experts' clean logits.

    Parameters
    ----------
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
    fusion : str, default="transformer"
        Fusion backbone, see :data:`sk_i2moe.nn.fusion.FUSIONS`.
    fusion_kwargs : dict, optional
        Extra keyword arguments of the backbone (``n_layers``, ``n_heads``,
        ``dropout``, ...).
    reweight_hidden : int, default=256
        Hidden width of the reweighting MLP.
    reweight_layers : int, default=2
        Linear layers of the reweighting MLP.
    temperature : float, default=1.0
        Softmax temperature of the interaction weights (lower is sharper).
    perturbation : {"noise", "mean", "zero"}, default="noise"
        Reference that replaces a modality's tokens: standard-normal noise,
        the running mean of the training tokens, or zeros.
    interaction : bool, default=True
        Whether training computes the perturbed passes and the interaction
        loss. When False training costs one clean pass per expert.
    margin : float, default=1.0
        Triplet margin of the uniqueness terms.
    input_loc, input_scale : sequence of Tensor, optional
        Per-modality feature centre and scale; inputs are standardised as
        ``(x - loc) / scale`` before encoding. Stored as buffers.
    """

    def __init__(
        self,
        n_features: Sequence[int],
        n_outputs: int,
        *,
        hidden_dim: int = 64,
        n_tokens: int = 4,
        encoder: str = "patch",
        fusion: str = "transformer",
        fusion_kwargs: dict | None = None,
        reweight_hidden: int = 256,
        reweight_layers: int = 2,
        temperature: float = 1.0,
        perturbation: str = "noise",
        interaction: bool = True,
        margin: float = 1.0,
        input_loc: Sequence[torch.Tensor] | None = None,
        input_scale: Sequence[torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if perturbation not in PERTURBATIONS:
            raise ValueError(
                f"Unknown perturbation {perturbation!r}; expected one of {list(PERTURBATIONS)}."
            )
        n_modalities = len(n_features)
        self.n_modalities = n_modalities
        self.n_experts = n_modalities + 2
        self.tokens_per_modality = n_tokens if encoder == "patch" else 1
        self.temperature = temperature
        self.perturbation = perturbation
        self.interaction = interaction
        self.margin = margin
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

    def embed(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Standardise and encode every modality: ``M x [B, d_m] -> [B, M * P, H]``."""
        if len(xs) != self.n_modalities:
            raise ValueError(f"Expected {self.n_modalities} modalities, got {len(xs)}.")
        tokens = [
            enc((x - getattr(self, f"loc_{m}")) / getattr(self, f"scale_{m}"))
            for m, (enc, x) in enumerate(zip(self.encoders, xs))
        ]
        return torch.cat(tokens, dim=1)

    def _reference(self, tokens: torch.Tensor) -> torch.Tensor:
        """Replacement tokens ``[B, T, H]`` for the configured perturbation."""
        if self.perturbation == "noise":
            return torch.randn_like(tokens)
        if self.perturbation == "zero":
            return torch.zeros_like(tokens)
        with torch.no_grad():
            batch_mean = tokens.mean(0)
            momentum = torch.where(self.reference_seen, 0.1, 1.0)
            self.reference_mean.lerp_(batch_mean, momentum)
            self.reference_seen.fill_(True)
        return self.reference_mean.expand_as(tokens)

    def forward(
        self, xs: Sequence[torch.Tensor], reference: torch.Tensor | None = None
    ) -> MoEOutput:
        """Run the mixture on one batch.

        Parameters
        ----------
        xs : sequence of Tensor
            One ``[B, d_m]`` tensor per modality, in the constructor's order.
        reference : Tensor, optional
            ``[B, M * P, H]`` replacement tokens to use instead of drawing them
            (training only; for tests and custom references).

        Returns
        -------
        MoEOutput
        """
        tokens = self.embed(xs)
        batch, n_total, hidden = tokens.shape
        pooled = tokens.view(batch, self.n_modalities, -1, hidden).mean(2).flatten(1)
        weights = self.reweighting(pooled, self.temperature)
        loss = None
        if self.training and self.interaction:
            if reference is None:
                reference = self._reference(tokens)
            variants = build_variants(tokens, reference, self.tokens_per_modality)
            n_variants = variants.shape[0]
            logits, _ = self.fusion(variants.flatten(0, 1), n_variants=n_variants)
            logits = logits.unflatten(1, (n_variants, batch))  # [E, V, B, C]
            loss = interaction_loss(logits, self.margin)
            expert_logits = logits[:, 0]
        else:
            expert_logits, _ = self.fusion(tokens)
        expert_logits = expert_logits.transpose(0, 1)  # [B, E, C]
        mixture = torch.einsum("be,bec->bc", weights, expert_logits)
        return MoEOutput(mixture, weights, expert_logits, loss)

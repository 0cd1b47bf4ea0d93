"""A looped I2MoE baseline, the way the paper's public code runs it.

:class:`LoopedI2MoE` copies the parameters of a batched
:class:`sk_i2moe.nn.InteractionMoE` and computes the same mixture with the same
losses, but evaluates **one expert on one input variant at a time**: a
training step runs ``E x (M + 1)`` separate forward passes of a plain
single-expert network (``E = M + 2``), inference ``E`` passes.

The experts are standard torch modules where torch has them:

- ``fusion="transformer"``: learned positions, dropout, ``n_layers`` x
  :class:`torch.nn.TransformerEncoderLayer` (``norm_first=True``, GELU, no
  dropout on the attention weights, like the batched layer), a final
  :class:`~torch.nn.LayerNorm`, mean-pooling per modality and a
  :class:`~torch.nn.Linear` head;
- ``fusion="mlp"``: mean-pooling per modality, concatenation,
  ``n_layers`` x (Linear, GELU, Dropout), Linear head.

The other built-in backbones have no torch equivalent; their expert ``e`` is
the batched backbone with every parameter sliced to ``[e:e + 1]`` (a
one-expert backbone computing exactly what expert ``e`` computes), called once
per variant.

As in the paper's code, every pass draws its own dropout masks; the replaced
modality gets fresh standard-normal noise (``perturbation="noise"``). The
stacked ``[E, M + 1, B, C]`` logits are returned as ``variant_outputs`` for the
objective's interaction loss; a sparse backbone's gate loss is the mean of the
passes' load-balancing losses.

Only used by ``benchmarks/bench_step.py``; not part of the package.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from sk_i2moe.nn import InteractionMoE, MoEOutput, VmappedFusion
from sk_i2moe.nn.baselines import MLPFusion
from sk_i2moe.nn.transformer import TransformerFusion


def _copy(dst: torch.Tensor, src: torch.Tensor) -> None:
    with torch.no_grad():
        dst.copy_(src)


class _TransformerExpert(nn.Module):
    """Expert ``e`` of a batched :class:`TransformerFusion` as standard torch modules."""

    def __init__(self, fusion: TransformerFusion, e: int) -> None:
        super().__init__()
        hidden = fusion.position.shape[-1]
        self.n_modalities = fusion.n_modalities
        self.position = nn.Parameter(fusion.position[e].detach().clone())
        self.dropout = nn.Dropout(fusion.dropout)
        self.layers = nn.ModuleList()
        for layer in fusion.layers:
            ref = nn.TransformerEncoderLayer(
                hidden,
                layer.attn.n_heads,
                dim_feedforward=layer.ffn.ffn_in.weight.shape[-1],
                dropout=fusion.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            ref.self_attn.dropout = 0.0  # the batched layer drops the block output only
            _copy(ref.self_attn.in_proj_weight, layer.attn.qkv.weight[e].T)
            _copy(ref.self_attn.in_proj_bias, layer.attn.qkv.bias[e])
            _copy(ref.self_attn.out_proj.weight, layer.attn.out.weight[e].T)
            _copy(ref.self_attn.out_proj.bias, layer.attn.out.bias[e])
            _copy(ref.linear1.weight, layer.ffn.ffn_in.weight[e].T)
            _copy(ref.linear1.bias, layer.ffn.ffn_in.bias[e])
            _copy(ref.linear2.weight, layer.ffn.ffn_out.weight[e].T)
            _copy(ref.linear2.bias, layer.ffn.ffn_out.bias[e])
            for mine, theirs in ((layer.norm1, ref.norm1), (layer.norm2, ref.norm2)):
                _copy(theirs.weight, mine.weight[e])
                _copy(theirs.bias, mine.bias[e])
            self.layers.append(ref)
        self.norm = nn.LayerNorm(hidden)
        _copy(self.norm.weight, fusion.norm.weight[e])
        _copy(self.norm.bias, fusion.norm.bias[e])
        self.head = nn.Linear(fusion.head.weight.shape[1], fusion.head.weight.shape[2])
        _copy(self.head.weight, fusion.head.weight[e].T)
        _copy(self.head.bias, fusion.head.bias[e])

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, None]:
        x = self.dropout(tokens + self.position)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        b, t, h = x.shape
        pooled = x.view(b, self.n_modalities, t // self.n_modalities, h).mean(2)
        return self.head(pooled.flatten(1)), None


class _MLPExpert(nn.Module):
    """Expert ``e`` of a batched :class:`MLPFusion` as standard torch modules."""

    def __init__(self, fusion: MLPFusion, e: int) -> None:
        super().__init__()
        self.n_modalities = fusion.n_modalities
        layers: list[nn.Module] = []
        for lin in fusion.mlp.hidden:
            ref = nn.Linear(lin.weight.shape[1], lin.weight.shape[2])
            _copy(ref.weight, lin.weight[e].T)
            _copy(ref.bias, lin.bias[e])
            layers += [ref, nn.GELU(), nn.Dropout(fusion.mlp.dropout)]
        head = fusion.mlp.head
        self.head = nn.Linear(head.weight.shape[1], head.weight.shape[2])
        _copy(self.head.weight, head.weight[e].T)
        _copy(self.head.bias, head.bias[e])
        self.body = nn.Sequential(*layers)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, None]:
        b, t, h = tokens.shape
        pooled = tokens.view(b, self.n_modalities, t // self.n_modalities, h).mean(2)
        return self.head(self.body(pooled.flatten(1))), None


class _SlicedExpert(nn.Module):
    """Expert ``e`` of any built-in backbone: every parameter sliced to ``[e:e + 1]``."""

    def __init__(self, fusion: nn.Module, e: int) -> None:
        super().__init__()
        one = copy.deepcopy(fusion)
        for module in one.modules():
            for name, param in list(module.named_parameters(recurse=False)):
                setattr(module, name, nn.Parameter(param.detach()[e : e + 1].clone()))
            if isinstance(getattr(module, "n_experts", None), int):
                module.n_experts = 1
            if isinstance(getattr(module, "lead", None), tuple):
                module.lead = (1, *module.lead[1:])
        self.fusion = one

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.fusion(tokens)
        return out.logits[0], out.aux_loss


def make_expert(fusion: nn.Module, e: int) -> nn.Module:
    """Expert ``e`` of a batched backbone as a one-expert module: ``tokens -> (logits, aux)``."""
    if type(fusion) is TransformerFusion:
        return _TransformerExpert(fusion, e)
    if type(fusion) is MLPFusion:
        return _MLPExpert(fusion, e)
    if isinstance(fusion, VmappedFusion):
        raise TypeError("The looped baseline covers the built-in backbones only.")
    return _SlicedExpert(fusion, e)


class LoopedI2MoE(nn.Module):
    """I2MoE with a Python loop over experts and input variants (the naive way).

    Parameters
    ----------
    model : InteractionMoE
        Batched model whose parameters are copied (``experts="all"``,
        ``perturbation="noise"``, ``n_perturbed=None``, ``loss_on="logits"``).
    """

    def __init__(self, model: InteractionMoE) -> None:
        super().__init__()
        if model.n_experts < 2 or model.perturbation != "noise" or model.n_perturbed is not None:
            raise ValueError("The looped baseline covers the default I2MoE training only.")
        self.n_modalities = model.n_modalities
        self.tokens_per_modality = model.tokens_per_modality
        self.temperature = model.temperature
        self.encoders = copy.deepcopy(model.encoders)
        self.reweighting = copy.deepcopy(model.reweighting)
        for m in range(model.n_modalities):
            self.register_buffer(f"loc_{m}", getattr(model, f"loc_{m}").clone())
            self.register_buffer(f"scale_{m}", getattr(model, f"scale_{m}").clone())
        self.experts = nn.ModuleList(make_expert(model.fusion, e) for e in range(model.n_experts))

    def forward(self, xs: list[torch.Tensor]) -> MoEOutput:
        """Same outputs as :meth:`InteractionMoE.forward`, computed pass by pass."""
        tokens = torch.cat(
            [
                enc((x - getattr(self, f"loc_{m}")) / getattr(self, f"scale_{m}"))
                for m, (enc, x) in enumerate(zip(self.encoders, xs))
            ],
            dim=1,
        )
        batch, _, hidden = tokens.shape
        pooled = tokens.view(batch, self.n_modalities, -1, hidden).mean(2).flatten(1)
        weights = self.reweighting(pooled, self.temperature)
        p = self.tokens_per_modality
        aux: list[torch.Tensor] = []
        outputs = None
        if self.training:
            reference = torch.randn_like(tokens)
            rows = []
            for expert in self.experts:
                per_variant = []
                for j in range(-1, self.n_modalities):  # -1: the clean input
                    if j < 0:
                        variant = tokens
                    else:
                        variant = torch.cat(
                            (
                                tokens[:, : j * p],
                                reference[:, j * p : (j + 1) * p],
                                tokens[:, (j + 1) * p :],
                            ),
                            dim=1,
                        )
                    logits, gate = expert(variant)
                    per_variant.append(logits)
                    if gate is not None:
                        aux.append(gate)
                rows.append(torch.stack(per_variant))
            outputs = torch.stack(rows)  # [E, M + 1, B, C]
            expert_logits = outputs[:, 0]
        else:
            clean = [expert(tokens) for expert in self.experts]
            aux = [gate for _, gate in clean if gate is not None]
            expert_logits = torch.stack([logits for logits, _ in clean])
        expert_logits = expert_logits.transpose(0, 1)  # [B, E, C]
        mixture = torch.einsum("be,bec->bc", weights, expert_logits)
        gate_loss = torch.stack(aux).mean() if aux else None
        return MoEOutput(mixture, weights, expert_logits, gate_loss, outputs)

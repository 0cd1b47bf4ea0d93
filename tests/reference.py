"""Plain, one-expert-one-variant-at-a-time references built from torch's own layers.

They share nothing with the batched implementation but its parameter values,
so agreement checks the batched layout and the math together.
"""

from __future__ import annotations

import torch
from torch import nn

from sk_i2moe.nn.fusion import MLPFusion, TransformerFusion


def _assign(param: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        param.copy_(value)


def transformer_expert(fusion: TransformerFusion, e: int) -> nn.Module:
    """Expert ``e`` of a batched transformer backbone as standard torch modules."""
    hidden = fusion.position.shape[-1]
    layers = []
    for layer in fusion.layers:
        ref = nn.TransformerEncoderLayer(
            hidden,
            layer.attn.n_heads,
            dim_feedforward=layer.ffn.ffn_in.weight.shape[-1],
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        _assign(ref.self_attn.in_proj_weight, layer.attn.qkv.weight[e].T)
        _assign(ref.self_attn.in_proj_bias, layer.attn.qkv.bias[e])
        _assign(ref.self_attn.out_proj.weight, layer.attn.out.weight[e].T)
        _assign(ref.self_attn.out_proj.bias, layer.attn.out.bias[e])
        _assign(ref.linear1.weight, layer.ffn.ffn_in.weight[e].T)
        _assign(ref.linear1.bias, layer.ffn.ffn_in.bias[e])
        _assign(ref.linear2.weight, layer.ffn.ffn_out.weight[e].T)
        _assign(ref.linear2.bias, layer.ffn.ffn_out.bias[e])
        for mine, theirs in ((layer.norm1, ref.norm1), (layer.norm2, ref.norm2)):
            _assign(theirs.weight, mine.weight[e])
            _assign(theirs.bias, mine.bias[e])
        layers.append(ref)

    class Expert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.position = nn.Parameter(fusion.position[e].detach().clone())
            self.layers = nn.ModuleList(layers)
            self.norm = nn.LayerNorm(hidden)
            _assign(self.norm.weight, fusion.norm.weight[e])
            _assign(self.norm.bias, fusion.norm.bias[e])
            self.head = nn.Linear(fusion.head.weight.shape[1], fusion.head.weight.shape[2])
            _assign(self.head.weight, fusion.head.weight[e].T)
            _assign(self.head.bias, fusion.head.bias[e])

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            x = tokens + self.position
            for layer in self.layers:
                x = layer(x)
            x = self.norm(x)
            b, t, h = x.shape
            pooled = x.view(b, fusion.n_modalities, t // fusion.n_modalities, h).mean(2)
            return self.head(pooled.flatten(1))

    return Expert()


def mlp_expert(fusion: MLPFusion, e: int) -> nn.Module:
    """Expert ``e`` of a batched MLP backbone as standard torch modules."""
    linears = []
    for layer in list(fusion.mlp.hidden) + [fusion.mlp.head]:
        lin = nn.Linear(layer.weight.shape[1], layer.weight.shape[2])
        _assign(lin.weight, layer.weight[e].T)
        _assign(lin.bias, layer.bias[e])
        linears.append(lin)

    class Expert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linears = nn.ModuleList(linears)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            b, t, h = tokens.shape
            x = tokens.view(b, fusion.n_modalities, t // fusion.n_modalities, h).mean(2).flatten(1)
            for lin in self.linears[:-1]:
                x = nn.functional.gelu(lin(x))
            return self.linears[-1](x)

    return Expert()


# --- plain, per-expert references of the other backbones (loops over modalities,
# ranks and tokens; only the parameter values are shared with the batched code)


def mlp_apply(mlp, idx, x: torch.Tensor) -> torch.Tensor:
    """Weight set ``idx`` (a tuple of leading indices) of an ExpertMLP, one layer at a time."""
    for layer in mlp.hidden:
        x = nn.functional.gelu(x @ layer.weight[idx] + layer.bias[idx])
    return x @ mlp.head.weight[idx] + mlp.head.bias[idx]


def _pooled(tokens: torch.Tensor, n_modalities: int) -> list[torch.Tensor]:
    p = tokens.shape[1] // n_modalities
    return [tokens[:, m * p : (m + 1) * p].mean(1) for m in range(n_modalities)]


def early_expert(fusion, e: int, tokens: torch.Tensor) -> torch.Tensor:
    """Expert ``e`` of EarlyFusion: flatten every token, then the MLP."""
    return mlp_apply(fusion.mlp, (e,), tokens.reshape(tokens.shape[0], -1))


def late_expert(fusion, e: int, tokens: torch.Tensor) -> torch.Tensor:
    """Expert ``e`` of LateFusion: one head per modality, weighted mean of the logits."""
    pooled = _pooled(tokens, fusion.n_modalities)
    weights = fusion.modality_weights()[e]
    return sum(weights[m] * mlp_apply(fusion.heads, (e, m), h) for m, h in enumerate(pooled))


def lrtf_expert(fusion, e: int, tokens: torch.Tensor) -> torch.Tensor:
    """Expert ``e`` of LowRankTensorFusion, rank by rank and modality by modality."""
    pooled = _pooled(tokens, fusion.n_modalities)
    width = fusion.fusion_bias.shape[-1]
    fused = fusion.fusion_bias[e].expand(tokens.shape[0], width)
    for r in range(fusion.rank):
        product = torch.ones(tokens.shape[0], width)
        for m, h in enumerate(pooled):
            z = torch.cat((h, torch.ones(h.shape[0], 1)), dim=1)
            product = product * (z @ fusion.factors[e, m, :, r * width : (r + 1) * width])
        fused = fused + fusion.rank_weights[e, r] * product
    return mlp_apply(fusion.head, (e,), fused)


def interpretcc_expert_eval(fusion, e: int, tokens: torch.Tensor) -> torch.Tensor:
    """Expert ``e`` of InterpretCCFusion in evaluation mode (hard 0/1 gates)."""
    masked = []
    for m, h in enumerate(_pooled(tokens, fusion.n_modalities)):
        hidden = torch.relu(h @ fusion.gate_hidden.weight[e, m] + fusion.gate_hidden.bias[e, m])
        logit = hidden @ fusion.gate_out.weight[e, m] + fusion.gate_out.bias[e, m]
        masked.append(h * (torch.sigmoid(logit) > 0.5).float())
    return mlp_apply(fusion.mlp, (e,), torch.cat(masked, dim=1))


def _ffn_expert(experts, e: int, k: int, x: torch.Tensor) -> torch.Tensor:
    h = nn.functional.gelu(x @ experts.ffn_in.weight[e, k] + experts.ffn_in.bias[e, k])
    return h @ experts.ffn_out.weight[e, k] + experts.ffn_out.bias[e, k]


def switch_token(ffn, e: int, x: torch.Tensor) -> torch.Tensor:
    """Switch block of expert ``e`` on one token ``[H]``: only the chosen FFN expert runs."""
    probs = torch.softmax(x @ ffn.router.weight[e] + ffn.router.bias[e], dim=-1)
    k = int(probs.argmax())
    return probs[k] * _ffn_expert(ffn.experts, e, k, x)


def moepp_token(ffn, e: int, x: torch.Tensor) -> torch.Tensor:
    """MoE++ block of expert ``e`` on one token ``[H]``, route by route."""
    n_ffn = ffn.n_ffn_experts
    n_const = ffn.constant.shape[1]
    probs = torch.softmax(x @ ffn.router.weight[e] + ffn.router.bias[e], dim=-1)
    top = probs.topk(ffn.top_k)
    out = torch.zeros_like(x)
    for p, r in zip(top.values / top.values.sum(), top.indices.tolist()):
        if r < n_ffn:
            out = out + p * _ffn_expert(ffn.experts, e, r, x)
        elif r < n_ffn + n_const:
            c = r - n_ffn
            mix = torch.softmax(
                x @ ffn.constant_mix.weight[e, c] + ffn.constant_mix.bias[e, c], dim=-1
            )
            out = out + p * (mix[0] * x + mix[1] * ffn.constant[e, c])
        elif r == n_ffn + n_const:  # copy expert
            out = out + p * x
        # zero expert: nothing
    return out

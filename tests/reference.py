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
            layer.n_heads,
            dim_feedforward=layer.ffn_in.weight.shape[-1],
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        _assign(ref.self_attn.in_proj_weight, layer.qkv.weight[e].T)
        _assign(ref.self_attn.in_proj_bias, layer.qkv.bias[e])
        _assign(ref.self_attn.out_proj.weight, layer.out.weight[e].T)
        _assign(ref.self_attn.out_proj.bias, layer.out.bias[e])
        _assign(ref.linear1.weight, layer.ffn_in.weight[e].T)
        _assign(ref.linear1.bias, layer.ffn_in.bias[e])
        _assign(ref.linear2.weight, layer.ffn_out.weight[e].T)
        _assign(ref.linear2.bias, layer.ffn_out.bias[e])
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
    for layer in list(fusion.hidden) + [fusion.head]:
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
